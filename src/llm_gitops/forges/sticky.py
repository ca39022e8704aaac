"""The sticky-comment rule, written once so GitHub, GitLab and the fake forge agree on it.

One comment per (command, environment) key: the first comment that opens with the key's
marker is ours. Leave it alone when its text is already right (no write), edit it when
not, and post a new one when there is none or the forge will not let us edit it (a
comment someone else wrote, e.g. under a previous bot account). Each forge only says how
its comments are listed, viewed, edited and posted.
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
    view: Callable[[N], Comment],
    edit: Callable[[N], Comment],
    create: Callable[[], Comment],
    edit_refused: Callable[[Exception], bool] = lambda exc: False,
) -> StickyResult:
    """Make ``text`` the one comment with ``marker`` in ``thread`` (the PR's comments, oldest first).

    ``view`` turns a forge comment into a :class:`Comment`; ``edit`` writes ``text`` into one
    and ``create`` posts ``text`` as a new one, each returning the comment written. An edit
    error for which ``edit_refused`` is true falls through to posting a new comment.
    """
    existing = next((c for c in thread if has_marker(c.body, marker)), None)
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
