"""Properties of the completions request model and of the app: whatever a client sends,
the answer is a valid request or a clean 4xx, never another exception or a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_gitops.serve.protocol import ApiError, CompletionRequest, Limits, parse_request, validate_request
from tests.serve.conftest import ready_client

LIMITS = Limits(max_prompt_chars=40, max_tokens=4)
FIELDS = list(CompletionRequest.model_fields)

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
# Bodies that look like requests, so the field validators see every kind of value
# (arbitrary values alone would almost never carry a "prompt").
near_requests = st.fixed_dictionaries(
    {"prompt": st.text(min_size=1, max_size=8) | json_values},
    optional={name: json_values | st.integers(-3, 8) | st.floats(-1, 3)
              for name in FIELDS + ["max_tokenz"] if name != "prompt"},
)
bodies = json_values | near_requests

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_valid(request: CompletionRequest) -> None:
    """What every request the model lets through guarantees to the generator."""
    assert 0 < len(request.prompt) <= LIMITS.max_prompt_chars
    assert isinstance(request.prompt, str) or all(type(t) is int and t >= 0 for t in request.prompt)
    assert type(request.max_tokens) is int and 0 <= request.max_tokens <= LIMITS.max_tokens
    assert request.max_tokens > 0 or request.echo
    assert 0 <= request.temperature <= 2 and 0 < request.top_p <= 1
    assert request.n == 1 and request.stream is False
    assert request.stop is None or (isinstance(request.stop, list) and all(isinstance(s, str) for s in request.stop))
    assert request.seed is None or -(2**63) <= request.seed < 2**63
    assert request.logprobs is None or 0 <= request.logprobs <= 5


@SETTINGS
@given(bodies)
def test_any_json_value_is_a_valid_request_or_a_400_naming_a_field(value):
    try:
        request = validate_request(value, LIMITS)
    except ApiError as exc:
        assert exc.status == 400 and exc.message
        assert exc.param is None or exc.param in FIELDS or isinstance(value, dict) and exc.param in value
        return
    _check_valid(request)


@SETTINGS
@given(st.binary(max_size=200) | bodies.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_are_a_valid_request_or_a_4xx(body):
    try:
        _check_valid(parse_request(body, "application/json", LIMITS))
    except ApiError as exc:
        assert exc.status in (400, 413, 415) and exc.message


@pytest.fixture(scope="module")
def client(tiny_model):
    with ready_client(tiny_model, limits=LIMITS) as c:
        yield c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=100) | bodies.map(lambda v: json.dumps(v).encode()),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None]))
def test_the_app_answers_any_body_with_2xx_or_4xx(client, body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/completions", content=body, headers=headers)
    assert 200 <= response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.json()["usage"]["completion_tokens"] <= LIMITS.max_tokens
    else:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
