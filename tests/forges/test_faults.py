"""Forge faults through the real ``llm-gitops gate --report-to github|gitlab``.

The stand-in fails on request (tests/standins/http.py): a storm of 5xx, a reply lost
after the write happened (an error answer, or the connection closed), garbage bodies, a
rate limit with Retry-After, the connection dropped mid-run. Whatever happens, the pull
request ends with exactly one llm-gitops comment, and the exit code says what happened:
0 when the report got through, 2 (one ``error:`` line) when an explicitly requested post
failed on a passing gate. Measurements are faked (tests/forges/ci_env.py); the CLI,
the forge clients and the HTTP traffic are real.
"""

from __future__ import annotations

import pytest

from tests.corpus.harness import CliRun
from tests.forges.conftest import MARKER, REPO, Site


def assert_posted(run: CliRun, site: Site) -> None:
    assert run.code == 0, run.err
    assert "report posted" in run.err and "error" not in run.err.lower()
    assert len(site.ours()) == 1


def assert_clean_failure(run: CliRun, *texts: str) -> None:
    assert run.code == 2, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.err, run.err
    for text in texts:
        assert text in errors[0], errors[0]


def test_a_5xx_storm_within_the_retries(site, cli_sleeps):
    site.standin.inject_errors(3, status=502)
    assert_posted(site.gate(), site)
    assert cli_sleeps == [0.5, 1.0, 2.0]  # exponential backoff
    assert len(site.statuses()) == 1


def test_a_5xx_storm_beyond_the_retries_then_a_clean_run(site):
    site.standin.inject_errors(50, status=503)
    assert_clean_failure(site.gate(), "failed after 4 attempts")
    assert site.ours() == []
    site.standin.faults.clear()
    assert_posted(site.gate(), site)


@pytest.mark.parametrize("fault", ["error-after-write", "drop-after-write"])
def test_a_reply_lost_after_the_comment_was_made_does_not_duplicate_it(site, fault):
    if fault == "error-after-write":
        site.standin.inject_errors(1, method="POST", path_contains=site.comment_path, after=True)
    else:
        site.standin.inject_drop(1, method="POST", path_contains=site.comment_path, after=True)
    run = site.gate()
    assert_posted(run, site)
    # The retry listed the comments again and found the one its lost request had made.
    creates = [r for r in site.standin.requests_snapshot() if r.method == "POST" and site.comment_path in r.path]
    assert len(creates) == 1
    assert len(site.comments()) == 1
    assert_posted(site.gate(), site)  # and a later run updates that one


def test_garbage_bodies_are_retried(site):
    site.standin.inject_garbage(2, method="GET", path_contains=site.comment_path)
    assert_posted(site.gate(), site)


def test_garbage_on_every_answer_is_a_clean_error(site):
    site.standin.inject_garbage(50)
    assert_clean_failure(site.gate(), "not valid JSON")
    assert site.comments() == []


def test_rate_limit_with_retry_after_is_waited_for(site, cli_sleeps):
    status = 403 if site.kind == "github" else 429
    site.standin.inject_rate_limit(1, retry_after=7, status=status)
    assert_posted(site.gate(), site)
    assert cli_sleeps == [7.0]


def test_a_rate_limit_longer_than_llm_gitops_waits_keeps_the_one_comment(site, cli_sleeps):
    assert_posted(site.gate(), site)
    status = 429 if site.kind == "gitlab" else 403
    site.standin.inject_rate_limit(1, retry_after=3600, status=status)
    assert_clean_failure(site.gate(), "3600s")
    assert cli_sleeps == [] and len(site.ours()) == 1 and len(site.comments()) == 1


def test_connection_dropped_mid_run_then_a_clean_run(site):
    # The comment gets through, then every status request loses its connection.
    site.standin.inject_drop(50, method="POST", path_contains="/statuses/")
    assert_clean_failure(site.gate(), "cannot connect")
    assert len(site.ours()) == 1
    site.standin.faults.clear()
    run = site.gate()
    assert_posted(run, site)
    assert len(site.comments()) == 1 and site.statuses()


def test_the_forge_going_away_mid_run(site):
    assert_posted(site.gate(), site)
    snapshot = site.standin.snapshot()
    site.standin.stop()
    assert_clean_failure(site.gate(), "cannot connect")
    assert snapshot == site.standin.snapshot()  # nothing reached it


def test_a_planted_marker_leaves_exactly_one_comment_of_ours(site):
    planted = f"{MARKER}\n✅ pass (planted)"
    if site.kind == "github":
        site.standin.add_comment(REPO, site.number, planted, author="mallory")
    else:
        site.standin.add_note(REPO, site.number, planted, author="mallory")
    for _ in range(3):
        assert_posted(site.gate(), site)
    bodies = [c["body"] for c in site.comments()]
    assert len(bodies) == 2 and bodies[0] == planted


@pytest.mark.parametrize("site", ["gitlab"], indirect=True)
def test_a_gitlab_job_token_posts_nothing_and_says_which_token_to_set(site):
    site.standin.add_user("job-runner", token="job-token-for-this-pipeline-0123")
    job = {"GITLAB_TOKEN": "", "CI_JOB_TOKEN": "job-token-for-this-pipeline-0123"}
    assert_clean_failure(site.gate(**job), "a CI job token may not write notes", "GITLAB_TOKEN")
    # On a fork's merge request the same refusal is "not posted": the gate's verdict stands.
    fork = site.gate(**job, CI_MERGE_REQUEST_SOURCE_PROJECT_ID="4242")
    assert fork.code == 0 and "report not posted" in fork.err, fork.err
    assert site.comments() == []
