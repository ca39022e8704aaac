"""The OpenAI completions wire format: request parsing, validation and error bodies.

Errors use OpenAI's shape, so OpenAI client libraries surface them as they would the
real service's: ``{"error": {"message", "type", "param", "code"}}``.

Every field is strict (a bool is not an int, a string is not a number) and bounded, and
every way a body can be wrong ends in a 4xx naming the field: a request is either a
valid :class:`CompletionRequest` or an :class:`ApiError`, never another exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

# OpenAI accepts at most 4 stop sequences and 5 top logprobs.
MAX_STOP_SEQUENCES = 4
MAX_LOGPROBS = 5
MAX_STOP_CHARS = 256
MAX_NAME_CHARS = 256  # "model" and "user"
# torch.manual_seed takes 64-bit seeds; OpenAI's API documents the signed range.
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
# A JSON-escaped character takes at most 12 bytes (a surrogate pair of \uXXXX escapes).
_BYTES_PER_CHAR = 12
_BODY_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Per-request caps; they keep one request from holding the model for minutes."""

    max_prompt_chars: int = 8192
    max_tokens: int = 256

    @property
    def max_body_bytes(self) -> int:
        """The largest body a valid request can need (the longest prompt, fully escaped)."""
        return self.max_prompt_chars * _BYTES_PER_CHAR + _BODY_OVERHEAD


def _rules(limits: Limits) -> dict[str, str]:
    """What each field must be, for error messages that say how to fix the request."""
    return {
        "model": f"a string of at most {MAX_NAME_CHARS} characters",
        "prompt": f"a non-empty string of at most {limits.max_prompt_chars} characters, or a list of token ids "
                  "(either one alone in a list)",
        "max_tokens": f"an integer from 1 to {limits.max_tokens} (0 only with echo=true)",
        "temperature": "a number from 0 to 2",
        "top_p": "a number greater than 0 and at most 1",
        "n": "1 (one completion per request)",
        "stop": f"a string or a list of at most {MAX_STOP_SEQUENCES} strings of at most {MAX_STOP_CHARS} characters",
        "seed": f"an integer from {SEED_MIN} to {SEED_MAX}",
        "stream": "false (streaming is not supported)",
        "logprobs": f"null or an integer from 0 to {MAX_LOGPROBS}",
        "echo": "true or false",
        "user": f"a string of at most {MAX_NAME_CHARS} characters",
    }


def _limits(info: ValidationInfo) -> Limits:
    context = info.context or {}
    return context.get("limits") or Limits()


def _check_text(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); no tokenizer can encode them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (\\ud800-\\udfff); send valid Unicode text") from None
    return value


class CompletionRequest(BaseModel):
    """``POST /v1/completions``. Fields this server cannot honour are rejected, not ignored.

    Validate with ``context={"limits": Limits(...)}`` to apply a server's caps.
    """

    # Unknown fields are errors: a typo in "max_tokens" must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    # Text, or token ids (lm-eval's default, tokenized_requests=True): the client's own
    # tokenization, so echoed log-probabilities line up with its context length exactly.
    # Either may come wrapped in a list of one; validation unwraps it.
    prompt: str | list[str] | list[int] | list[list[int]]
    # echo and logprobs come before max_tokens: its check reads echo.
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=MAX_LOGPROBS)
    max_tokens: int = Field(default=16, ge=0)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    n: int = Field(default=1, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=SEED_MIN, le=SEED_MAX)
    stream: bool = False
    user: str | None = Field(default=None, max_length=MAX_NAME_CHARS)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data, info: ValidationInfo):
        # OpenAI documents null as "the default" for every optional field, and some clients send it.
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value is not None}
            # OpenAI's default of 16, within a server that allows fewer.
            data.setdefault("max_tokens", min(16, _limits(info).max_tokens))
        return data

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v, info: ValidationInfo):
        if isinstance(v, list) and (not v or not isinstance(v[0], int)):  # a list of prompts
            if len(v) != 1:
                raise ValueError("only one prompt per request is supported; send one string or token-id list, "
                                 "alone or in a list of one")
            v = v[0]
        if not v:
            raise ValueError("must not be empty")
        limit = _limits(info).max_prompt_chars
        if isinstance(v, list):
            if len(v) > limit:
                raise ValueError(f"has {len(v)} tokens; this server accepts at most {limit}")
            if min(v) < 0:
                raise ValueError(f"token id {min(v)} is negative")
            return v
        if len(v) > limit:
            raise ValueError(f"is {len(v)} characters; this server accepts at most {limit}")
        return _check_text(v)

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens(cls, v: int, info: ValidationInfo) -> int:
        limit = _limits(info).max_tokens
        if v > limit:
            raise ValueError(f"is {v}; this server allows at most {limit}")
        if v == 0 and not info.data.get("echo"):
            raise ValueError("must be at least 1 (0 only scores the prompt, with echo=true)")
        return v

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, v):
        if v is None:
            return []
        stops = [v] if isinstance(v, str) else v
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
        for stop in stops:
            if len(stop) > MAX_STOP_CHARS:
                raise ValueError(f"a stop sequence is {len(stop)} characters; at most {MAX_STOP_CHARS} are allowed")
            _check_text(stop)
        return stops

    @field_validator("model", "user")
    @classmethod
    def _text(cls, v):
        return v if v is None else _check_text(v)

    @field_validator("stream")
    @classmethod
    def _no_stream(cls, v: bool) -> bool:
        if v:
            raise ValueError("streaming is not supported; send stream=false")
        return v


class ApiError(Exception):
    """An error answered in OpenAI's shape with an HTTP status (and optional headers)."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _shown(value) -> str:
    """A short JSON rendering of a bad value for the message (never the whole prompt)."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_error(errors: list[dict], limits: Limits = Limits()) -> ApiError:
    """The first pydantic validation error as a 400 naming its field and what it must be."""
    err = errors[0]
    loc = [p for p in err.get("loc", ()) if p != "body"]
    # Every field is top level; deeper loc parts are list indices or union branch names.
    param = str(loc[0]) if loc else None
    kind = err.get("type", "")
    if kind == "missing":
        return ApiError(400, f"'{param}' is required", param=param)
    if kind == "extra_forbidden":
        shown = json.dumps(param)[1:-1][:64]  # printable and short, whatever the client sent
        return ApiError(400, f"unrecognized request argument supplied: {shown}", param=param[:64])
    if param is None:
        return ApiError(400, "the request body must be a JSON object", param=None)
    if kind == "value_error":  # our own validators: their message says exactly what is wrong
        return ApiError(400, f"{param}: {str(err.get('msg', '')).removeprefix('Value error, ')}", param=param)
    rule = _rules(limits).get(param, "a valid value")
    return ApiError(400, f"{param} must be {rule}; got {_shown(err.get('input'))}", param=param)


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
               type(None): "null"}


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_request(body: bytes, content_type: str | None, limits: Limits = Limits()) -> CompletionRequest:
    """Decode and validate a ``/v1/completions`` body; raise :class:`ApiError` (4xx) if it is bad.

    A missing Content-Type is read as JSON (as FastAPI does); any other type is a 415.
    """
    media, _, params = (content_type or "application/json").partition(";")
    if media.strip().lower() != "application/json":
        raise ApiError(415, f"Content-Type {_shown(media.strip())} is not supported; send the body as "
                            "application/json", code="unsupported_media_type")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in ("utf-8", "utf8"):
        raise ApiError(415, f"Content-Type parameters {_shown(params.strip())} are not supported; send UTF-8 JSON",
                       code="unsupported_media_type")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "the request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with thousands of digits
        reason = str(exc) if "not valid JSON" in str(exc) else "a number has too many digits"
        raise ApiError(400, f"the request body is not valid JSON: {reason}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, got {_JSON_TYPES[type(data)]}; "
                            'e.g. {"prompt": "12+34=", "max_tokens": 4}')
    return validate_request(data, limits)


def validate_request(data: object, limits: Limits = Limits()) -> CompletionRequest:
    """A decoded JSON value as a request, or an :class:`ApiError` naming the bad field."""
    try:
        return CompletionRequest.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        raise validation_error(exc.errors(include_url=False), limits) from None
    except RecursionError:  # a value nested thousands deep inside a field
        raise ApiError(400, "the request body is nested too deeply") from None
