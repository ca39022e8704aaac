"""Retries with exponential backoff, shared by every forge so they behave alike.

The client libraries' own retry and throttling are switched off (PyGithub: ``retry=None``,
no pauses between requests; python-gitlab: ``obey_rate_limit=False``). A forge adapter
turns a failure that a retry may fix (5xx, connection reset, rate limit, a body that is
not JSON) into :class:`Transient`, and everything else into ExternalServiceError.
``with_retries`` waits as the server asks (``Retry-After``, rate-limit reset) or
backs off exponentially, and gives up with one line that says what failed and why.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from llm_gitops.errors import ExternalServiceError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Defaults suit a CI job: ~4 tries within a minute."""

    attempts: int = 4
    base_delay: float = 0.5  # first backoff; doubles each time
    max_delay: float = 20.0  # a single wait longer than this (e.g. Retry-After: 3600) is not waited for
    max_total: float = 60.0  # all waits together
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)


DEFAULT_POLICY = RetryPolicy()


class Transient(Exception):
    """A failure a retry may fix; ``retry_after`` is what the server asked to wait."""

    def __init__(self, message: str, retry_after: float | None = None, *, rate_limited: bool = False):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.rate_limited = rate_limited


def retry_after_from_headers(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or a rate-limit reset header."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    now = time.time() if now is None else now
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    if lower.get("x-ratelimit-remaining") == "0" and lower.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(lower["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    if lower.get("ratelimit-remaining") == "0" and lower.get("ratelimit-reset"):
        try:
            return max(0.0, float(lower["ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def with_retries(operation: Callable[[], T], *, describe: str, policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """Run ``operation``; on :class:`Transient` wait and run it again, up to the policy's limits.

    ``operation`` must be safe to repeat: callers make writes idempotent (a sticky
    comment is looked up again before it is written), so a retried write that had in
    fact succeeded never leaves a duplicate.
    """
    delay = policy.base_delay
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except Transient as exc:
            wait = exc.retry_after if exc.retry_after is not None else delay
            what = "rate limited" if exc.rate_limited else exc.message
            if attempt == policy.attempts:
                raise ExternalServiceError(
                    f"{describe} failed after {attempt} attempts: {what}",
                    hint="the service is unavailable or throttling; re-run the job later",
                ) from None
            if wait > policy.max_delay or waited + wait > policy.max_total:
                raise ExternalServiceError(
                    f"{describe} failed: {what}; the server asks to wait {wait:.0f}s, longer than llm-gitops waits",
                    hint="re-run the job later or use a token with a higher rate limit",
                ) from None
            log.warning("%s: %s; retrying in %.1fs (attempt %d of %d)", describe, what, wait, attempt + 1, policy.attempts)
            policy.sleep(wait)
            waited += wait
            delay = min(delay * 2, policy.max_delay)
    raise AssertionError("unreachable")  # pragma: no cover
