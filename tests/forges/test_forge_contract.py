"""Every forge against its stand-in, through the real client library (PyGithub,
python-gitlab): the same contract for each."""

from __future__ import annotations

import pytest

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import FileChange, PullRequestRef, ReactionTarget, sticky_marker
from llm_gitops.forges.registry import make_forge


def test_sticky_comment_is_edited_in_place_across_pushes(h):
    first = h.forge.upsert_sticky_comment(h.pr, "## Gate: pass\nacc 0.81", ("gate", None))
    h.push()
    second = h.forge.upsert_sticky_comment(h.pr, "## Gate: fail\nacc 0.52", ("gate", None))
    comments = h.comments()
    assert (first.action, second.action) == ("created", "updated")
    assert len(comments) == 1 and second.comment.id == first.comment.id
    assert comments[0]["body"] == "<!-- llm-gitops:gate -->\n## Gate: fail\nacc 0.52"
    assert str(h.number) in second.comment.url


def test_sticky_comments_are_per_command_and_environment(h):
    # Someone quoting the marker, and a longer key, must not be mistaken for ours.
    if h.kind == "github":
        h.s.add_comment(h.repo, h.number, "> <!-- llm-gitops:gate -->\n> quoted", author="reviewer")
    else:
        h.s.add_note(h.repo, h.number, "> <!-- llm-gitops:gate -->\n> quoted", author="reviewer")
    h.forge.upsert_sticky_comment(h.pr, "staging", ("gate", "staging"))
    h.forge.upsert_sticky_comment(h.pr, "default", ("gate", None))
    h.forge.upsert_sticky_comment(h.pr, "staging v2", ("gate", "staging"))
    bodies = sorted(c["body"] for c in h.comments())
    assert bodies == sorted(["> <!-- llm-gitops:gate -->\n> quoted", f"{sticky_marker('gate')}\ndefault",
                             f"{sticky_marker('gate', 'staging')}\nstaging v2"])


def test_unchanged_body_makes_no_write(h):
    h.forge.upsert_sticky_comment(h.pr, "same", ("gate", None))
    h.s.clear_requests()
    result = h.forge.upsert_sticky_comment(h.pr, "same", ("gate", None))
    assert result.action == "unchanged" and h.writes() == []


def test_sticky_comment_found_beyond_the_first_page(h):
    h.forge.upsert_sticky_comment(h.pr, "report v1", ("gate", None))
    for i in range(120):  # pushes ours past page one (100 per page)
        (h.s.add_comment if h.kind == "github" else h.s.add_note)(h.repo, h.number, f"chatter {i}", author="reviewer")
    h.forge.upsert_sticky_comment(h.pr, "report v2", ("gate", None))
    ours = [c for c in h.comments() if c["body"].startswith(sticky_marker("gate"))]
    assert len(ours) == 1 and ours[0]["body"].endswith("report v2")


def test_commit_status_states(h):
    for state in ("pending", "success", "failure", "neutral"):
        h.forge.set_commit_status(h.repo, h.head_sha, state, "llm-gitops/gate", f"gate {state}",
                                  target_url="http://ci.invalid/run/1", summary="## details")
    got = [(s["state"], s.get("context") or s.get("name")) for s in h.statuses(h.head_sha)]
    expected = {"github": ["pending", "success", "failure", "success"], "gitlab": ["pending", "success", "failed", "success"]}
    assert got == [(state, "llm-gitops/gate") for state in expected[h.kind]]
    assert h.statuses(h.head_sha)[0]["target_url"] == "http://ci.invalid/run/1"
    if h.kind == "github":
        runs = h.s.check_runs(h.repo, h.head_sha)
        assert [(r["status"], r["conclusion"]) for r in runs] == [
            ("in_progress", None), ("completed", "success"), ("completed", "failure"), ("completed", "neutral")]
        assert runs[1]["output"] == {"title": "gate success", "summary": "## details"}


def test_branch_with_changes_then_pull_request_then_merge(h):
    sha = h.forge.create_branch_with_changes(
        h.repo, "promote/staging", "main",
        [FileChange("deploy/staging.yaml", "release: v2\n"), FileChange("deploy/NOTES.md", "promoted\n")],
        "Promote v2 to staging",
    )
    assert h.s.branches(h.repo)["promote/staging"] == sha
    assert h.forge.read_file(h.repo, "deploy/staging.yaml", "promote/staging") == b"release: v2\n"
    assert h.forge.read_file(h.repo, "deploy/staging.yaml", "main") == b"release: v1\n"
    pr = h.forge.open_pull_request(h.repo, "promote/staging", "main", "Promote v2", "body")
    assert (pr.head_ref, pr.base_ref, pr.state, pr.is_fork) == ("promote/staging", "main", "open", False)
    assert pr.ref.number != h.number
    merge_sha = h.forge.merge_pull_request(pr.ref)
    assert merge_sha and h.s.branches(h.repo)["main"] == merge_sha
    assert h.forge.read_file(h.repo, "deploy/NOTES.md", "main") == b"promoted\n"


def test_read_missing_file_is_none(h):
    assert h.forge.read_file(h.repo, "deploy/prod.yaml", "main") is None


def test_get_pull_request(h):
    pr = h.forge.get_pull_request(h.pr)
    assert (pr.head_sha, pr.head_ref, pr.base_ref, pr.title, pr.author) == (
        h.head_sha, "feature", "main", "Retrain the adder", "contributor")


@pytest.mark.parametrize("level", ["read", "triage", "write", "maintain", "admin"])
def test_user_permission_is_normalised(h, level):
    h.grant("dana", level)
    assert h.forge.user_permission(h.repo, "dana") == level


def test_user_without_access_is_none(h):
    (h.s.add_user)("stranger")
    assert h.forge.user_permission(h.repo, "stranger") == "none"
    assert h.forge.user_permission(h.repo, "nobody-at-all") == "none"


def test_reactions_on_pr_and_comment(h):
    comment = h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None)).comment
    h.forge.add_reaction(ReactionTarget(h.pr), "eyes")
    h.forge.add_reaction(ReactionTarget(h.pr, comment.id), "+1")
    h.forge.add_reaction(ReactionTarget(h.pr, comment.id), "+1")  # idempotent
    got = h.s.reactions(h.repo) if h.kind == "github" else h.s.awards(h.repo)
    names = sorted(r.get("content") or r.get("name") for r in got)
    assert names == (["+1", "eyes"] if h.kind == "github" else ["eyes", "thumbsup"])


def test_unknown_pr_names_the_pr(h):
    with pytest.raises(ExternalServiceError) as err:
        h.forge.upsert_sticky_comment(PullRequestRef(h.repo, 999), "x", ("gate", None))
    assert "999" in str(err.value) and "not found" in str(err.value)
    assert "repository" not in str(err.value) and "project" not in str(err.value)


def test_unknown_repo_names_the_repo(h):
    with pytest.raises(ExternalServiceError) as err:
        h.forge.upsert_sticky_comment(PullRequestRef("acme/nope", 1), "x", ("gate", None))
    assert "acme/nope not found" in str(err.value)


def test_bad_token_says_which_variable_to_fix_and_never_shows_it(h, fast_retry, caplog):
    bad = "ghp_" + "W" * 36 if h.kind == "github" else "glpat-" + "W" * 20
    forge = make_forge(h.kind, token=bad, api_url=h.s.url, policy=fast_retry)
    with pytest.raises(ExternalServiceError) as err:
        forge.upsert_sticky_comment(h.pr, "x", ("gate", None))
    message = str(err.value)
    assert "401" in message and ("GITHUB_TOKEN" in message or "GITLAB_TOKEN" in message)
    assert bad not in message and bad not in caplog.text
    assert h.comments() == []
