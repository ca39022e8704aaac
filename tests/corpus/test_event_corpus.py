"""Bad GitHub event payloads (``GITHUB_EVENT_PATH``) through the real ``llm-gitops gate
--report-to github``: each is exit 2 with one line naming the variable, the file and the
field, before anything is measured or written.

A valid pull_request payload is mutated one field at a time (wrong types, malformed
values, missing keys), plus files that are no payload at all (missing, a directory, a
FIFO, empty, not JSON, not UTF-8, nested too deep, too large).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error
from tests.forges.ci_env import fake_measurements, gate_repo, github_env, pull_request_event

REPO = "acme/adder-model"
SHA = "a" * 40
VALID = pull_request_event(5, SHA, REPO)
_MISSING = object()  # the key is removed

# field -> values that are wrong for it (each becomes one case)
WRONG: dict[str, list] = {
    "pull_request": ["x", 5, 1.5, True, [], None, [{"number": 5}]],
    "pull_request.number": ["5", 0, -1, 1.5, True, None, [], {}, _MISSING, 2**60, "five"],
    "pull_request.head": ["x", 5, [], None, True, _MISSING, ["sha"]],
    "pull_request.head.sha": [5, None, "", "zz", "a" * 100, "abc", "g" * 40, [], _MISSING, SHA + "\n",
                              " " + SHA, {"sha": SHA}, "$(touch pwned)"],
    "pull_request.base": ["x", 5, None, [], _MISSING, True],
    "pull_request.base.ref": [5, None, "", "a\nb", "x" * 2000, [], _MISSING, "\x00", {}],
    "pull_request.head.repo": ["x", 5, [], True, 1.5],
    "pull_request.head.repo.full_name": [5, "noslash", "a/b/c", "", [], "../etc", "a b/c", True],
    "pull_request.head.repo.fork": ["yes", 1, [], {}, "true"],
    "pull_request.base.repo": ["x", 5, [], False],
    "pull_request.base.repo.full_name": [5, "bad", [], "a/b\nc", "/"],
}


def _mutated(field: str, value) -> dict:
    payload = copy.deepcopy(VALID)
    *parents, key = field.split(".")
    node = payload
    for part in parents:
        node = node[part]
    if value is _MISSING:
        del node[key]
    else:
        node[key] = value
    return payload


def _writer(payload) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps(payload))


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _too_large(path: Path) -> None:
    with open(path, "wb") as fh:  # sparse: no disk used
        fh.truncate(26 * 1024 * 1024)


# (case id, GITHUB_EVENT_NAME, how to make the file (None: leave it missing), text the error names)
CASES: list[tuple[str, str, Callable[[Path], None] | None, str]] = []
for _field, _values in WRONG.items():
    for _i, _value in enumerate(_values):
        _label = "missing" if _value is _MISSING else type(_value).__name__
        CASES.append((f"{_field}-{_i}-{_label}", "pull_request", _writer(_mutated(_field, _value)), _field))

CASES += [
    ("file-missing", "pull_request", None, "does not exist"),
    ("file-is-a-directory", "pull_request", lambda p: p.mkdir(), "is a directory"),
    ("file-is-a-fifo", "pull_request", lambda p: os.mkfifo(p), "not a regular file"),
    ("file-dangling-link", "pull_request", lambda p: os.symlink(p.parent / "nowhere", p), "does not exist"),
    ("file-link-loop", "pull_request", lambda p: os.symlink(p, p), "cannot be read"),
    ("file-empty", "pull_request", _bytes(b""), "not JSON"),
    ("file-truncated", "pull_request", _bytes(json.dumps(VALID).encode()[:40]), "not JSON"),
    ("file-not-json", "pull_request", _bytes(b"{not json"), "not JSON"),
    ("file-yaml", "pull_request", _bytes(b"pull_request:\n  number: 5\n"), "not JSON"),
    ("file-html", "pull_request", _bytes(b"<html><body>502</body></html>"), "not JSON"),
    ("file-latin1", "pull_request", _bytes('{"action": "caf\u00e9"}'.encode("latin-1")), "not UTF-8"),
    ("file-binary", "pull_request", _bytes(bytes(range(256)) * 4), "not UTF-8"),
    ("file-utf16", "pull_request", _bytes(json.dumps(VALID).encode("utf-16")), "not UTF-8"),
    ("file-bom", "pull_request", _bytes(b"\xef\xbb\xbf" + json.dumps(VALID).encode()), "not JSON"),
    ("file-deep-list", "pull_request", _bytes(b"[" * 200_000), "nested too deeply"),
    ("file-deep-object", "pull_request", _bytes(b'{"a":' * 200_000), "nested too deeply"),
    ("file-too-large", "pull_request", _too_large, "25 MB"),
    ("file-list", "pull_request", _writer([VALID]), "a JSON list"),
    ("file-string", "pull_request", _writer("pull_request"), "a JSON string"),
    ("file-number", "pull_request", _writer(5), "a JSON number"),
    ("file-null", "pull_request", _writer(None), "a JSON null"),
    ("file-true", "pull_request", _writer(True), "a JSON boolean"),
    ("file-nul-bytes", "pull_request", _bytes(b"\x00" * 64), "not JSON"),
    # An event that must carry a pull request but does not.
    ("target-without-pr", "pull_request_target", _writer({"action": "opened"}), "pull_request"),
    ("review-without-pr", "pull_request_review", _writer({"review": {}}), "pull_request"),
    ("pr-event-empty-object", "pull_request", _writer({}), "pull_request"),
    ("pr-event-pr-is-string", "pull_request_review_comment", _writer({"pull_request": "5"}), "pull_request"),
    # A comment on a pull request: the fields.
    ("comment-issue-string", "issue_comment", _writer({"issue": "x"}), "issue"),
    ("comment-issue-list", "issue_comment", _writer({"issue": [1]}), "issue"),
    ("comment-issue-pr-string", "issue_comment", _writer({"issue": {"number": 5, "pull_request": "x"}}),
     "issue.pull_request"),
    ("comment-issue-number-string", "issue_comment",
     _writer({"issue": {"number": "5", "pull_request": {"url": "u"}}}), "issue.number"),
    ("comment-issue-number-missing", "issue_comment", _writer({"issue": {"pull_request": {"url": "u"}}}),
     "issue.number"),
    ("comment-issue-number-zero", "issue_comment", _writer({"issue": {"number": 0, "pull_request": {}}}),
     "issue.number"),
    ("comment-issue-number-float", "issue_comment", _writer({"issue": {"number": 5.5, "pull_request": {}}}),
     "issue.number"),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 100


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return gate_repo(tmp_path_factory.mktemp("event-corpus"))


@pytest.mark.parametrize("case,event_name,make,culprit", CASES, ids=[c[0] for c in CASES])
def test_bad_event_payload_is_a_clean_error_before_measuring(repo, tmp_path, monkeypatch, case, event_name, make,
                                                             culprit):
    evaluated = fake_measurements(monkeypatch)
    event_path = tmp_path / "event.json"
    if make is not None:
        make(event_path)
    env = github_env("http://127.0.0.1:9", REPO, event_path, token="ghs_CorpusToken0123456789abcdef",
                     event_name=event_name)
    expect_clean_error(["gate", "--report-to", "github"], cwd=repo, env=env, surface="event", case=case,
                       culprit=["GITHUB_EVENT_PATH", culprit])
    assert evaluated == []


def test_the_valid_payload_passes_the_same_checks(tmp_path):
    from llm_gitops.ci_context import detect

    env = github_env("http://127.0.0.1:9", REPO, tmp_path / "event.json", token=None, event=VALID)
    ctx = detect(env)
    assert (ctx.pr_number, ctx.head_sha, ctx.base_ref, ctx.is_fork) == (5, SHA, "main", False)
    # head.repo null (a deleted fork) and {} are valid: both count as a fork.
    for head_repo in (None, {}):
        payload = _mutated("pull_request.head.repo", head_repo)
        assert detect({**env, "GITHUB_EVENT_PATH": str(_write(tmp_path, payload))}).is_fork is True


def _write(tmp_path: Path, payload: dict) -> Path:
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(payload))
    return path
