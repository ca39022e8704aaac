"""The one sticky-comment rule (forges.sticky), through each real client and the fake forge."""

from __future__ import annotations

import pytest

from llm_gitops.ci_context import forge_token
from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import Comment, PullRequestRef, sticky_marker
from llm_gitops.forges.fake import FakeForge
from llm_gitops.forges.registry import make_forge
from llm_gitops.forges.sticky import sticky_text, upsert_sticky


@pytest.mark.parametrize("author", ["reviewer", "mallory"])
def test_a_planted_marker_is_ignored_and_ours_is_created_once_then_updated(h, author):
    # Anyone who may comment can paste the marker; only the token's own comment counts.
    planted = f"{sticky_marker('gate')}\nverdict: pass (trust me)"
    (h.s.add_comment if h.kind == "github" else h.s.add_note)(h.repo, h.number, planted, author=author)
    first = h.forge.upsert_sticky_comment(h.pr, "report 1", ("gate", None))
    second = h.forge.upsert_sticky_comment(h.pr, "report 2", ("gate", None))
    third = h.forge.upsert_sticky_comment(h.pr, "report 2", ("gate", None))
    assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
    assert first.comment.id == second.comment.id == third.comment.id
    assert [c["body"] for c in h.comments()] == [planted, f"{sticky_marker('gate')}\nreport 2"]
    # The planted comment was never written to: no edit request for it.
    edits = [r for r in h.writes() if r.method in ("PATCH", "PUT")]
    assert all(str(first.comment.id) in r.path for r in edits) and len(edits) == 1


def test_an_older_comment_of_another_bot_account_is_left_alone(h):
    # E.g. left by a previous bot account: it is not ours, so a new one is posted beside it.
    old = f"{sticky_marker('gate')}\nold report"
    (h.s.add_comment if h.kind == "github" else h.s.add_note)(h.repo, h.number, old, author="old-bot")
    result = h.forge.upsert_sticky_comment(h.pr, "new report", ("gate", None))
    assert result.action == "created"
    assert [c["body"] for c in h.comments()] == [old, f"{sticky_marker('gate')}\nnew report"]


def test_github_actions_token_is_recognised_as_github_actions_bot(github, fast_retry):
    # GITHUB_TOKEN may not call GET /user (403); its comments are github-actions[bot]'s.
    github.standin.add_user("github-actions[bot]", token="ghs_ActionsJobToken0123456789abcdef")
    forge = make_forge("github", token="ghs_ActionsJobToken0123456789abcdef", api_url=github.standin.url,
                       policy=fast_retry)
    pr = PullRequestRef(github.repo, github.number)
    github.standin.add_comment(github.repo, github.number, f"{sticky_marker('gate')}\nplanted", author="mallory")
    actions = [forge.upsert_sticky_comment(pr, body, ("gate", None)).action for body in ("a", "b")]
    assert actions == ["created", "updated"]
    assert forge.login() == "github-actions[bot]"
    ours = [c for c in github.standin.comments(github.repo, github.number) if c["user"] == "github-actions[bot]"]
    assert [c["body"] for c in ours] == [f"{sticky_marker('gate')}\nb"]
    user_calls = [r.status for r in github.standin.requests_snapshot() if r.path == "/user"]
    assert user_calls == [403]  # asked once, not per comment


def test_another_github_app_token_is_told_its_login(github, fast_retry):
    # An App installation token may not read /user either; LLM_GITOPS_GITHUB_LOGIN names its bot.
    github.standin.add_user("adder-ci[bot]", token="ghs_OtherAppToken0123456789abcdef")
    token = forge_token({"GITHUB_TOKEN": "ghs_OtherAppToken0123456789abcdef",
                         "LLM_GITOPS_GITHUB_LOGIN": "adder-ci[bot]"}, "github")
    forge = make_forge("github", token=token.value, api_url=github.standin.url, login=token.login, policy=fast_retry)
    pr = PullRequestRef(github.repo, github.number)
    actions = [forge.upsert_sticky_comment(pr, body, ("gate", None)).action for body in ("a", "b")]
    assert actions == ["created", "updated"]
    assert [r.path for r in github.standin.requests_snapshot() if r.path == "/user"] == []


def test_gitlab_job_token_writes_no_note(gitlab, fast_retry):
    gitlab.standin.add_user("job-runner", token="job-token-0123456789abcdef")
    forge = make_forge("gitlab", token="job-token-0123456789abcdef", api_url=gitlab.standin.url, job_token=True,
                       policy=fast_retry)
    with pytest.raises(ExternalServiceError, match=r"403 a CI job token may not write notes.*GITLAB_TOKEN"):
        forge.upsert_sticky_comment(PullRequestRef(gitlab.repo, gitlab.number), "r", ("gate", None))
    assert gitlab.standin.notes(gitlab.repo, gitlab.number) == []


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
    return [Comment(i, body, "bot", f"u{i}") for i, body in enumerate(bodies, start=1)]


def test_an_edit_error_that_is_not_a_refusal_is_raised():
    marker, text = sticky_text(("gate", None), "new")

    def edit(_c):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        upsert_sticky(_thread(f"{marker}\nold"), marker, text, owner="BOT", view=lambda c: c, edit=edit,
                      create=lambda: pytest.fail("must not post a second comment"),
                      edit_refused=lambda exc: False)


def test_a_created_comment_without_an_id_is_a_garbled_answer():
    marker, text = sticky_text(("gate", None), "new")
    with pytest.raises(ValueError, match="without id"):
        upsert_sticky(_thread("chatter"), marker, text, owner="bot", view=lambda c: c, edit=lambda c: c,
                      create=lambda: Comment(None, text, "bot", "u"))  # type: ignore[arg-type]


def test_sticky_text_is_cut_to_the_limit_and_keeps_the_marker():
    marker, text = sticky_text(("gate", "staging"), "x" * 500, limit=200)
    assert marker == "<!-- llm-gitops:gate:staging -->"
    assert len(text) == 200 and text.startswith(marker + "\n") and "truncated" in text
