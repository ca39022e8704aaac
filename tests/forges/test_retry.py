"""Retries: 5xx then success, Retry-After honoured, storms end in one clear error, and
a write whose response was lost is never duplicated."""

from __future__ import annotations

import pytest

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.retry import RetryPolicy, Transient, retry_after_from_headers, with_retries


def test_server_errors_then_success(h, sleeps):
    h.s.inject_errors(2, status=502)
    result = h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None))
    assert result.action == "created" and len(h.comments()) == 1
    assert sleeps == [0.05, 0.1]  # exponential backoff from base_delay
    assert [r.status for r in h.s.requests][:3] == [502, 502, 200]


def test_retry_after_is_honoured(h, sleeps):
    h.s.inject_rate_limit(1, retry_after=3, status=429)
    h.forge.set_commit_status(h.repo, h.head_sha, "success", "llm-gitops/gate", "ok")
    assert sleeps == [3.0]
    assert len(h.statuses(h.head_sha)) == 1


def test_github_primary_rate_limit_waits_for_reset(github, fast_retry, sleeps):
    from llm_gitops.forges.github import GitHubForge

    github.standin.inject_rate_limit(1, retry_after=None, status=403)
    forge = GitHubForge(token=github.token, api_url=github.standin.url, policy=fast_retry)
    assert forge.read_file(github.repo, "README.md", "main") == b"adder\n"
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 2  # X-RateLimit-Reset is ~1 s ahead


def test_storm_is_one_clear_error_and_no_comment(h, sleeps):
    h.s.inject_errors(50, status=503)
    with pytest.raises(ExternalServiceError) as err:
        h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None))
    assert "failed after 4 attempts" in str(err.value) and "503" in str(err.value)
    assert "\n" not in str(err.value)
    assert h.comments() == []


def test_garbage_body_is_retried_then_reported(h):
    h.s.inject_garbage(10)
    with pytest.raises(ExternalServiceError) as err:
        h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None))
    assert "not valid JSON" in str(err.value)
    assert h.comments() == []


def test_garbage_once_then_success(h):
    h.s.inject_garbage(1)
    assert h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None)).action == "created"
    assert len(h.comments()) == 1


def test_lost_response_to_create_makes_no_duplicate(h):
    # The comment is created, but the client sees a 502 and tries again.
    h.s.inject_errors(1, status=502, method="POST", after=True)
    result = h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None))
    assert len(h.comments()) == 1
    assert result.action == "unchanged"  # the retry found the comment the lost response had made


def test_long_retry_after_is_not_waited_for(h, sleeps):
    h.s.inject_rate_limit(1, retry_after=3600, status=429)
    with pytest.raises(ExternalServiceError) as err:
        h.forge.upsert_sticky_comment(h.pr, "report", ("gate", None))
    assert "3600s" in str(err.value) and sleeps == []


def test_unreachable_forge(fast_retry):
    import socket

    from llm_gitops.forges.github import GitHubForge
    from llm_gitops.forges.base import PullRequestRef

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    forge = GitHubForge(token="ghs_unreachable_token_123", api_url=f"http://127.0.0.1:{port}", policy=fast_retry)
    with pytest.raises(ExternalServiceError) as err:
        forge.upsert_sticky_comment(PullRequestRef("a/b", 1), "x", ("gate", None))
    assert "cannot connect" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)


def test_with_retries_unit():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Transient("502 server error")
        return "ok"

    waits = []
    assert with_retries(flaky, describe="x", policy=RetryPolicy(base_delay=1, sleep=waits.append)) == "ok"
    assert waits == [1, 2]


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:00:30 GMT"}, 20.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "25"}, 15.0),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "12"}, 2.0),
        ({"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "25"}, None),
        ({}, None),
    ],
)
def test_retry_after_from_headers(headers, expected):
    assert retry_after_from_headers(headers, now=10.0) == expected
