"""What the forges driven through a client library (PyGithub, python-gitlab) share.

A backend says how its library fails (``_translate``: library errors become
:class:`NotFound`, ``Transient`` or ExternalServiceError) and how to read a repository;
this class runs every call through ``forges.retry``, turns connection errors and garbled
answers into retries, and words a 404 the same way on every forge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar, TypeVar

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import PullRequestRef
from llm_gitops.forges.retry import RetryPolicy, Transient, with_retries
from llm_gitops.logsafe import redact, url_without_userinfo

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotFound(Exception):
    """A 404 inside an operation; :meth:`LibraryForge._run` works out what was missing."""


class LibraryForge:
    # The forge's words, for messages: e.g. "GitHub", "repository", "pull request #".
    label: ClassVar[str]
    repo_noun: ClassVar[str]
    repo_hint: ClassVar[str]
    pr_prefix: ClassVar[str]
    pr_hint: ClassVar[str]

    api_url: str | None
    _policy: RetryPolicy

    @property
    def where(self) -> str:
        # A URL may carry credentials (http://user:pass@host): never in a message.
        return f"{self.label} at {url_without_userinfo(self.api_url)}" if self.api_url else self.label

    # ------------------------------------------------------------------ per forge
    def _translate(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn``; map the library's errors (a 404 to NotFound)."""
        raise NotImplementedError

    def _read_repo(self, repo: str) -> object:
        """Read ``repo`` from the forge (one request); a missing one raises through ``_translate``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def _run(self, what: str, fn: Callable[[], T], *, repo: str | None = None, pr: PullRequestRef | None = None,
             not_found: Callable[[], T] | None = None) -> T:
        """Run ``fn`` with retries; turn library errors into one-line ExternalServiceErrors.

        ``not_found`` answers a 404 when the repository exists (a missing file, a non-member).
        """

        def attempt() -> T:
            try:
                return self._call(what, fn)
            except NotFound:
                if not_found is not None and self._repo_exists(repo):
                    return not_found()
                raise self._missing(what, repo=repo, pr=pr) from None

        return with_retries(attempt, describe=f"{what} on {self.where}", policy=self._policy)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        import requests

        try:
            return self._translate(what, fn)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"cannot connect ({type(exc).__name__})") from None
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            # The libraries hand a non-JSON body on as a string; reading it fails like this.
            log.debug("unexpected response while %s: %s", what, redact(repr(exc)))
            raise Transient("the answer was not valid JSON") from None

    def _repo_exists(self, repo: str | None) -> bool:
        if repo is None:
            return False
        try:
            self._call(f"reading the {self.repo_noun}", lambda: self._read_repo(repo))
            return True
        except NotFound:
            return False

    def _missing(self, what: str, *, repo: str | None, pr: PullRequestRef | None) -> ExternalServiceError:
        if repo is not None and not self._repo_exists(repo):
            return ExternalServiceError(f"{self.repo_noun} {repo} not found on {self.where} while {what}",
                                        hint=self.repo_hint)
        if pr is not None:
            return ExternalServiceError(f"{self.pr_prefix}{pr.number} not found in {pr.repo} on {self.where}",
                                        hint=self.pr_hint)
        return ExternalServiceError(f"not found on {self.where} while {what}")
