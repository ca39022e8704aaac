"""The one sticky-comment rule (forges.sticky), through each real client and the fake forge."""

from __future__ import annotations

import pytest

from llm_gitops.forges.base import Comment, sticky_marker
from llm_gitops.forges.fake import FakeForge
from llm_gitops.forges.sticky import sticky_text, upsert_sticky


def test_a_marked_comment_the_token_may_not_edit_gets_a_new_one_beside_it(h):
    # E.g. left by a previous bot account: the forge answers 403, so a new comment is posted.
    old = f"{sticky_marker('gate')}\nold report"
    (h.s.add_comment if h.kind == "github" else h.s.add_note)(h.repo, h.number, old, author="reviewer")
    result = h.forge.upsert_sticky_comment(h.pr, "new report", ("gate", None))
    assert result.action == "created"
    assert [c["body"] for c in h.comments()] == [old, f"{sticky_marker('gate')}\nnew report"]


def test_fake_forge_follows_the_same_rule():
    forge = FakeForge()
    pr = forge.add_pull("acme/adder", 1)
    actions = [forge.upsert_sticky_comment(pr, body, key).action
               for body, key in [("v1", ("gate", None)), ("v1", ("gate", None)), ("v2", ("gate", None)),
                                 ("s1", ("gate", "staging"))]]
    assert actions == ["created", "unchanged", "updated", "created"]
    assert [c.body for c in forge.comments[pr]] == [f"{sticky_marker('gate')}\nv2",
                                                    f"{sticky_marker('gate', 'staging')}\ns1"]


def _thread(*bodies: str) -> list[Comment]:
    return [Comment(i, body, "someone", f"u{i}") for i, body in enumerate(bodies, start=1)]


def test_an_edit_error_that_is_not_a_refusal_is_raised():
    marker, text = sticky_text(("gate", None), "new")

    def edit(_c):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        upsert_sticky(_thread(f"{marker}\nold"), marker, text, view=lambda c: c, edit=edit,
                      create=lambda: pytest.fail("must not post a second comment"),
                      edit_refused=lambda exc: False)


def test_a_created_comment_without_an_id_is_a_garbled_answer():
    marker, text = sticky_text(("gate", None), "new")
    with pytest.raises(ValueError, match="without id"):
        upsert_sticky(_thread("chatter"), marker, text, view=lambda c: c, edit=lambda c: c,
                      create=lambda: Comment(None, text, "bot", "u"))  # type: ignore[arg-type]


def test_sticky_text_is_cut_to_the_limit_and_keeps_the_marker():
    marker, text = sticky_text(("gate", "staging"), "x" * 500, limit=200)
    assert marker == "<!-- llm-gitops:gate:staging -->"
    assert len(text) == 200 and text.startswith(marker + "\n") and "truncated" in text
