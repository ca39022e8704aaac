"""The sticky-comment rule, written once so GitHub, GitLab and the fake forge agree on it.

One comment per (command, environment) key: the first comment that opens with the key's
marker AND was written by the authenticated account (``owner``) is ours. Anyone who may
comment can paste the marker; such a comment is ignored, never edited (it would be
text we do not own, and the forge refuses the edit anyway). Leave ours alone when its
text is already right (no write), edit it when not, and post a new one when there is
none or the forge will not let us edit it. Each forge says who it is authenticated as
and how its comments are listed, viewed, edited and posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from llm_gitops.forges.base import Comment, StickyResult, has_marker, sticky_marker, truncate_body, with_marker
from llm_gitops.logsafe import redact

log = logging.getLogger(__name__)


class _HasBody(Protocol):
    @property
    def body(self) -> str | None: ...


N = TypeVar("N", bound=_HasBody)  # a forge's own comment object


def sticky_text(key: tuple[str, str | None], body: str, limit: int | None = None) -> tuple[str, str]:
    """The marker for ``key`` and ``body`` opened by it, cut to the forge's ``limit`` in characters."""
    marker = sticky_marker(*key)
    text = with_marker(marker, body)
    return marker, (text if limit is None else truncate_body(text, limit))


def upsert_sticky(
    thread: Iterable[N],
    marker: str,
    text: str,
    *,
    owner: str,
    view: Callable[[N], Comment],
    edit: Callable[[N], Comment],
    create: Callable[[], Comment],
    edit_refused: Callable[[Exception], bool] = lambda exc: False,
) -> StickyResult:
    """Make ``text`` the one comment of ``owner`` with ``marker`` in ``thread`` (the PR's comments, oldest first).

    ``owner`` is the login the forge client is authenticated as (compared without case,
    as GitHub and GitLab logins are). ``view`` turns a forge comment into a :class:`Comment`; ``edit`` writes ``text`` into one
    and ``create`` posts ``text`` as a new one, each returning the comment written. An edit
    error for which ``edit_refused`` is true falls through to posting a new comment.
    """
    me = owner.casefold()
    existing = next((c for c in thread if has_marker(c.body, marker) and view(c).author.casefold() == me), None)
    if existing is not None:
        if existing.body == text:
            return StickyResult(view(existing), "unchanged")
        try:
            return StickyResult(edit(existing), "updated")
        except Exception as exc:  # noqa: BLE001 - only what edit_refused names falls through
            if not edit_refused(exc):
                raise
            log.warning("cannot edit comment %s (%s); posting a new one", getattr(existing, "id", "?"),
                        redact(str(exc)) or type(exc).__name__)
    created = create()
    if not isinstance(created.id, int):
        # A garbled answer; a ValueError is what the forges retry as "not valid JSON".
        raise ValueError("comment without id")
    return StickyResult(created, "created")
