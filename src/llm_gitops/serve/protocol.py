"""The OpenAI completions wire format: request validation and error bodies.

Errors use OpenAI's shape, so OpenAI client libraries surface them as they would the
real service's: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

# OpenAI accepts at most 4 stop sequences.
MAX_STOP_SEQUENCES = 4


@dataclass(frozen=True)
class Limits:
    """Per-request caps; they keep one request from holding the model for minutes."""

    max_prompt_chars: int = 8192
    max_tokens: int = 256


class CompletionRequest(BaseModel):
    """``POST /v1/completions``. Fields this server cannot honour are rejected, not ignored."""

    # Unknown fields are errors: a typo in "max_tokens" must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    prompt: str | list[str]
    max_tokens: int = Field(default=16, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    user: str | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v):
        if isinstance(v, list):
            if len(v) != 1:
                raise ValueError("only one prompt per request is supported; send a string or a list of exactly one")
            v = v[0]
        if not v:
            raise ValueError("prompt must not be empty")
        return v

    @field_validator("n")
    @classmethod
    def _n_is_one(cls, v: int) -> int:
        if v != 1:
            raise ValueError("only n=1 is supported")
        return v

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, v):
        if v is None:
            return []
        stops = [v] if isinstance(v, str) else v
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
        return stops

    @field_validator("stream")
    @classmethod
    def _no_stream(cls, v: bool) -> bool:
        if v:
            raise ValueError("streaming is not supported; send stream=false")
        return v


class ApiError(Exception):
    """An error answered in OpenAI's shape with an HTTP status."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def validation_error(errors: list[dict]) -> ApiError:
    """The first pydantic/FastAPI validation error as a 400 naming its field."""
    err = errors[0]
    loc = [p for p in err.get("loc", ()) if p != "body"]
    # Every field is top level; deeper loc parts are list indices or union branch names.
    param = str(loc[0]) if loc else None
    kind = err.get("type", "")
    if kind == "json_invalid":
        return ApiError(400, "the request body is not valid JSON", param=None)
    if kind == "missing":
        return ApiError(400, f"'{param}' is required", param=param)
    if kind == "extra_forbidden":
        return ApiError(400, f"unrecognized request argument supplied: {param}", param=param)
    if not loc:
        return ApiError(400, "the request body must be a JSON object sent as Content-Type: application/json", param=None)
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or param is None else f" (got {got!r})"
    return ApiError(400, f"{param}: {msg}{shown}" if param else msg, param=param)
