"""The bad-input corpus for the model server: every field x wrong types, ranges and
encodings, broken JSON, oversized and mis-typed bodies, wrong methods and paths.

One real ``llm-gitops serve`` process (a tiny random model, tight caps) answers every case;
each must get the expected 4xx status, an OpenAI-shaped error body naming the field (or
``param: null`` for a body-level problem), no traceback in the server's log, and leave
the server healthy. ``LLM_GITOPS_CORPUS_TALLY`` gets one line per case (surface "serve").
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field

import httpx
import pytest

from tests.corpus.harness import _tally
from tests.serve.conftest import serve_process
from tests.support.tiny_model import make_tiny_model

MAX_PROMPT_CHARS = 40
MAX_TOKENS = 20
ROUTE = "/v1/completions"


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    param: str | None  # the field the error must name; None for the body as a whole
    body: bytes = b""
    method: str = "POST"
    path: str = ROUTE
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    raw: bool = False  # sent with http.client: headers httpx refuses to send (a lying Content-Length)


def _json(value) -> bytes:
    return json.dumps(value).encode()


# Per field: values of a wrong type, out of range, or badly encoded. Each is sent in an
# otherwise valid request.
BAD_FIELDS: dict[str, list] = {
    "prompt": [12, True, 1.5, {}, [], ["a", "b"], [[1], [2]], [[]], [-1], [10**6], [1, "a"], [True], [None], "",
               "9" * (MAX_PROMPT_CHARS + 1), [1] * (MAX_PROMPT_CHARS + 1)],
    "max_tokens": [0, -1, MAX_TOKENS + 1, True, False, "4", 4.0, 1e26, [4], {}],
    "temperature": [-0.1, 2.5, "0", True, [0], {}],
    "top_p": [0, 1.5, -1, "1", True],
    "n": [2, 0, True, "1", 1.0],
    "stop": [5, [1], ["a"] * 5, "x" * 300, [["a"]], {}, True],
    "seed": [1e26, 2**64, -(2**64), True, "1", 1.5, [1]],
    "stream": [True, "false", 0, 1],
    "logprobs": [6, -1, True, "1", 1.5],
    "echo": ["true", 1, 0, []],
    "user": [5, "x" * 300, [], True],
    "model": [5, "x" * 300, True, []],
}
UNKNOWN_FIELDS = ["max_tokenz", "suffix", "best_of", "logit_bias", "presence_penalty", "functions", "", "\u0000"]


def _field_cases() -> list[Case]:
    cases = []
    for name, values in BAD_FIELDS.items():
        for value in values:
            body = {"prompt": "12+34=", "max_tokens": 2, name: value}
            cases.append(Case(f"{name}={json.dumps(value)[:24]}", 400, name, _json(body)))
    for name in UNKNOWN_FIELDS:
        cases.append(Case(f"unknown field {name!r}", 400, name, _json({"prompt": "1", name: 1})))
    # Lone surrogates are valid JSON escapes but no text: each text field refuses them.
    for name in ("prompt", "stop", "user", "model"):
        raw = b'{"prompt": "1", "%s": "a\\ud800b"}' % name.encode() if name != "prompt" else b'{"prompt": "a\\udc00"}'
        cases.append(Case(f"{name} with a lone surrogate", 400, name, raw))
    cases.append(Case("prompt missing", 400, "prompt", _json({"max_tokens": 3})))
    cases.append(Case("prompt null", 400, "prompt", _json({"prompt": None})))
    cases.append(Case("prompt nested 500 deep", 400, "prompt", b'{"prompt": ' + b"[" * 500 + b"]" * 500 + b"}"))
    # JSON numbers too large for a float parse as infinity.
    cases.append(Case("temperature 1e999", 400, "temperature", b'{"prompt": "1", "temperature": 1e999}'))
    cases.append(Case("top_p -1e999", 400, "top_p", b'{"prompt": "1", "top_p": -1e999}'))
    return cases


def _body_cases() -> list[Case]:
    cases = [
        Case(f"body {i} {raw[:20]!r}", 400, None, raw)
        for i, raw in enumerate([b"", b"{", b"{not json", b"null", b"[]", b"1", b'"prompt"', b"true", b'{"prompt": "1"}x',
                    b'{"prompt": "1", "temperature": NaN}', b'{"prompt": "1", "seed": Infinity}',
                    b"{'prompt': '1'}", b'{"prompt": "1",}', b"\xff\xfe{}", "{}".encode("utf-16"),
                    b'\xef\xbb\xbf{"prompt": "1"}', b"[" * 60_000, b'{"a":' * 12_000,
                    b'{"prompt": "1", "seed": ' + b"9" * 5000 + b"}", b"\x00", b'{"prompt": "\x01"}'])
    ]
    huge = _json({"prompt": "1" * 2_000_000})
    cases.append(Case("a 2 MB body", 413, None, huge))
    cases.append(Case("Content-Length says 1 TB", 413, None, b"{}", raw=True,
                      headers={"content-type": "application/json", "content-length": str(10**12)}))
    for ctype in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/xml", "application/json; charset=latin-1", "text/json", "application/jsonx", "json"]:
        cases.append(Case(f"Content-Type {ctype!r}", 415, None, _json({"prompt": "1"}), headers={"content-type": ctype}))
    for encoding in ["gzip", "br", "deflate"]:
        cases.append(Case(f"Content-Encoding {encoding}", 415, None, _json({"prompt": "1"}),
                          headers={"content-type": "application/json", "content-encoding": encoding}))
    return cases


def _route_cases() -> list[Case]:
    cases = [Case(f"{method} {ROUTE}", 405, None, method=method) for method in ["GET", "PUT", "DELETE", "PATCH"]]
    cases += [Case(f"{method} {path}", 405, None, _json({}), method=method, path=path)
              for method, path in [("POST", "/healthz"), ("POST", "/metrics"), ("DELETE", "/v1/models"),
                                   ("PUT", "/readyz")]]
    cases += [Case(f"POST {path[:30]}", 404, None, _json({"prompt": "1"}), path=path)
              for path in ["/v1/complete", "/v2/completions", "/v1/chat/completions", "/v1/engines/x/completions",
                           "/tokenizer_info", "/" + "a" * 5000, "/v1/completions%00", "/..%2f..%2fetc/passwd"]]
    return cases


CASES = _field_cases() + _body_cases() + _route_cases()


def _send_raw(client: httpx.Client, case: Case) -> httpx.Response:
    conn = http.client.HTTPConnection(client.base_url.host, client.base_url.port, timeout=30)
    try:
        conn.putrequest(case.method, case.path)
        for name, value in case.headers.items():
            conn.putheader(name, value)
        conn.endheaders(case.body)
        answer = conn.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-corpus")
    model = make_tiny_model(root / "tiny")
    log = root / "serve.log"
    args = ["--max-prompt-chars", str(MAX_PROMPT_CHARS), "--max-tokens", str(MAX_TOKENS)]
    with serve_process(model, log, *args) as (_, base), httpx.Client(base_url=base, timeout=30) as client:
        yield client, log


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 100
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_request_gets_a_clean_4xx(server, case):
    client, log = server
    seen = len(log.read_text())
    try:
        response = _send_raw(client, case) if case.raw else client.request(
            case.method, case.path, content=case.body or None, headers=case.headers)
    except (httpx.TimeoutException, TimeoutError):
        _tally("serve", case.name, "hang")
        raise
    new_log = log.read_text()[seen:]
    problems = []
    outcome = "clean"
    if "Traceback" in new_log:
        outcome = "traceback"
        problems.append(f"the server logged a traceback: {new_log[-1500:]}")
    elif response.status_code != case.status:
        outcome = "wrong-status"
    if response.status_code != case.status:
        problems.append(f"status {response.status_code}, expected {case.status}: {response.text[:300]}")
    try:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
    except (ValueError, KeyError, TypeError, AssertionError):
        problems.append(f"not an OpenAI-shaped error body: {response.text[:300]}")
    else:
        if error["param"] != case.param:
            problems.append(f"param {error['param']!r}, expected {case.param!r}: {error['message']}")
        elif case.param and json.dumps(case.param)[1:-1] not in error["message"]:
            problems.append(f"the message does not name {case.param!r}: {error['message']}")
    if client.get("/healthz").status_code != 200:
        outcome = "unhealthy"
        problems.append("the server is not healthy afterwards")
    if problems and outcome == "clean":
        outcome = "unclear-error"
    _tally("serve", case.name, outcome)
    assert not problems, f"{case.name}: " + "; ".join(problems)
