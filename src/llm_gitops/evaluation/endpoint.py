"""``eval.backend: local-completions``: lm-eval's OpenAI-compatible completions client
against a running server (``llm-gitops serve``, vLLM, TGI) at ``eval.endpoint``.

Before lm-eval is started the endpoint is probed, so that a server that is down, is
not an OpenAI-compatible one, or answers garbage is a one-line usage error naming
``eval.endpoint`` instead of a stack of retries:

* ``GET /v1/models``: the served model's id (lm-eval sends it as ``model``);
* ``POST /v1/completions`` with ``PROBE_PROMPT`` and ``max_tokens: 1``: a
  ``choices[0].text`` answer;
* with a loglikelihood task (``multiple_choice``, ``loglikelihood``...): the same with
  ``echo: true, logprobs: 1``, which must return the prompt's ``token_logprobs``, one per
  token of the local tokenizer's encoding of the prompt (plus the generated one): lm-eval
  counts a continuation's tokens with the local tokenizer and slices the server's
  log-probabilities by that count, so a tokenizer that splits text otherwise than the
  served model gives wrong scores without any error;
* ``GET /readyz``: the served model's content digest, which ``llm-gitops serve`` reports
  (other servers answer 404: the digest stays unknown).

``eval.endpoint`` may name the server's root, its ``/v1``, its ``/v1/completions`` or its
``/v1/models`` (what ``curl`` shows first; taken as its ``/v1``), under any path prefix.
``/v1/chat/completions`` is refused: lm-eval's ``local-completions`` speaks the
completions API only.

Errors about ``eval.endpoint`` and ``eval.tokenizer`` carry ``config_field``, so that a
command holding the config can put its ``FILE:LINE`` in front (:func:`located`).

How results are keyed: a served model's weights cannot be hashed from here. When the
server reports a digest, the results are cached under the backend, the completions URL,
the served model id and digest, the tokenizer's digest, the tasks, settings and harness
version, and ``model.digest`` is the served digest. When it reports none, the model
behind a URL can change without notice, so nothing is cached: every run asks the server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llm_gitops.cache import content_key
from llm_gitops.config.endpoint_url import ENDPOINT_FORMS, EndpointForm, split_endpoint
from llm_gitops.errors import EvalError
from llm_gitops.evaluation.tasks import TaskSuite

BACKEND = "local-completions"
# Stands for a served model's digest when the server reports none (never a content digest).
UNKNOWN_SERVED_PREFIX = "endpoint:"
PROBE_TIMEOUT_S = 10.0
# Seconds lm-eval's client waits for each answer (its own default is 300, and a server that
# hangs after the probe would cost that per request). Above llm-gitops serve's own
# --request-timeout (60 s), whose 504 names the cause; a CPU generation of lm-eval's default
# 256 tokens at a slow 3 tokens/s still fits (the example's max_gen_toks is 5).
REQUEST_TIMEOUT_S = 120
MAX_PROBE_BYTES = 1 << 20
# Sent to /v1/completions by the probe. Multi-digit numbers, operators, a newline and a
# word after a space: where tokenizers differ in how they split text (digit grouping,
# pre-tokenization, normalization), so the tokenization check below tells them apart.
PROBE_PROMPT = "50+13=63\n7+8= fifteen"
LOGLIKELIHOOD_TYPES = ("multiple_choice", "loglikelihood", "loglikelihood_rolling")
_FIELD = "eval.endpoint"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                    "vocab.json", "merges.txt", "added_tokens.json")


@dataclass(frozen=True)
class Endpoint:
    """A probed server: where it answers and what it serves."""

    base_url: str  # scheme://host:port[/prefix], without /v1/...
    completions_url: str
    model_id: str
    digest: str | None  # the served model's content digest, when the server reports it

    def identity(self) -> dict[str, Any]:
        """What a cache key needs to tell two endpoints (or two models behind one) apart."""
        return {"backend": BACKEND, "endpoint": self.completions_url, "model": self.model_id, "digest": self.digest}

    @property
    def model_digest(self) -> str:
        """The served digest, else a stand-in that names the endpoint (never a content digest)."""
        if self.digest:
            return self.digest
        return UNKNOWN_SERVED_PREFIX + hashlib.sha256(f"{self.completions_url}\0{self.model_id}".encode()).hexdigest()


def _error(field: str, message: str, hint: str) -> EvalError:
    """An EvalError about ``eval.<field>``, tagged for :func:`located`."""
    exc = EvalError(message, hint=hint)
    exc.config_field = ("eval", field)  # type: ignore[attr-defined]
    return exc


@contextmanager
def located(where: Callable[..., str]) -> Iterator[None]:
    """Put ``where(*field)`` (a config's ``FILE:LINE``, ``Config.where``) before the
    ``eval.endpoint`` / ``eval.tokenizer`` errors raised inside: the probe runs deep in the
    runner, which holds the eval settings but not the file they came from."""
    try:
        yield
    except EvalError as exc:
        field = getattr(exc, "config_field", None)
        if field is None:
            raise
        raise EvalError(f"{where(*field)}: {exc.message}", hint=exc.hint) from None


def completions_url(url: str) -> tuple[str, str]:
    """(base URL, completions URL) of ``eval.endpoint`` (``config.endpoint_url``); an
    EvalError naming the accepted forms for another ``/v1/...`` path."""
    try:
        return split_endpoint(url)
    except EndpointForm as exc:
        raise _error("endpoint", f"{_FIELD} {url}: {exc.message}", hint=exc.hint) from None


def _reason(exc: Exception) -> str:
    """The useful end of a requests error ('Connection refused'), not its pool internals."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text) or re.search(r"(Name or service not known|timed out)", text)
    return match.group(1).strip() if match else type(exc).__name__


def _call(session, method: str, url: str, *, shown: str, payload: dict | None = None,
          timeout: float = PROBE_TIMEOUT_S, allow_404: bool = False) -> Any:
    """One probe request: its JSON answer (None for an allowed 404), or EvalError naming the endpoint."""
    import requests

    fix = "start the server (llm-gitops serve, vLLM, TGI) or fix eval.endpoint"
    try:
        resp = session.request(method, url, json=payload, timeout=timeout, stream=True)
    except requests.exceptions.Timeout:
        raise _error("endpoint", f"{_FIELD} {shown}: {method} {url} got no answer within {timeout:g} s",
                     hint=fix) from None
    except requests.exceptions.RequestException as exc:
        raise _error("endpoint", f"{_FIELD} {shown}: cannot reach {url} ({_reason(exc)})", hint=fix) from None
    with resp:
        try:
            body = resp.raw.read(MAX_PROBE_BYTES + 1, decode_content=True)
        except Exception as exc:  # noqa: BLE001 - a connection dropped mid-body, a bad encoding
            raise _error("endpoint", f"{_FIELD} {shown}: {method} {url} broke off its answer ({_reason(exc)})",
                         hint=fix) from None
    if allow_404 and resp.status_code == 404:
        return None
    snippet = body[:120].decode("utf-8", "replace").replace("\n", " ")
    if len(body) > MAX_PROBE_BYTES:
        raise _error("endpoint", f"{_FIELD} {shown}: {method} {url} answered more than {MAX_PROBE_BYTES >> 20} MiB",
                     hint="point eval.endpoint at an OpenAI-compatible completions server")
    if not 200 <= resp.status_code < 300:
        # A 404 most often means a URL with a path the server does not have.
        hint = f"point eval.endpoint at {ENDPOINT_FORMS}" if resp.status_code == 404 else \
            "point eval.endpoint at a ready OpenAI-compatible completions server"
        raise _error("endpoint", f"{_FIELD} {shown}: {method} {url} answered HTTP {resp.status_code}: {snippet}",
                     hint=hint)
    import json

    try:
        return json.loads(body)
    except ValueError:
        raise _error("endpoint", f"{_FIELD} {shown}: {method} {url} answered something that is not JSON: {snippet!r}",
                     hint="point eval.endpoint at an OpenAI-compatible completions server") from None


def _garbage(shown: str, url: str, what: str) -> EvalError:
    return _error("endpoint", f"{_FIELD} {shown}: {url} answered without {what}: not an OpenAI-compatible "
                  "completions server", hint="point eval.endpoint at /v1/completions of llm-gitops serve, vLLM or TGI")


def _first_choice(answer: Any) -> dict | None:
    choices = answer.get("choices") if isinstance(answer, dict) else None
    return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None


def _loglikelihood_tasks(suite: TaskSuite) -> list[tuple[str, str]]:
    """(name, output_type) of the suite's tasks that read prompt log-probabilities."""
    return [(t.name, (t.config or {}).get("output_type")) for t in suite.tasks
            if (t.config or {}).get("output_type") in LOGLIKELIHOOD_TYPES]


@dataclass(frozen=True)
class LocalTokenizer:
    """The tokenizer lm-eval's client counts tokens with, and how errors name it."""

    named: str  # "eval.tokenizer PATH", or what stands in for it when unset
    tokenizer: Any  # a transformers tokenizer, loaded as lm-eval loads it

    @classmethod
    def load(cls, path: Path, named: str) -> LocalTokenizer:
        from transformers import AutoTokenizer

        try:
            # As lm-eval's TemplateAPI loads it (use_fast=True), so both count alike.
            return cls(named, AutoTokenizer.from_pretrained(str(path), use_fast=True))
        except Exception as exc:  # noqa: BLE001 - transformers raises OSError, ValueError, JSON errors alike
            text = str(exc).strip().splitlines()
            raise _error("tokenizer", f"{named} cannot be loaded as a tokenizer "
                         f"({type(exc).__name__}{': ' + text[0][:200] if text else ''})",
                         hint="point eval.tokenizer at the served model's directory") from None

    def count(self, text: str) -> int:
        # Without special tokens, as lm-eval's tok_encode (add_bos_token defaults to False).
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def _check_tokenization(shown: str, local: LocalTokenizer, logprobs: dict, task: str) -> None:
    """EvalError unless the server split ``PROBE_PROMPT`` into as many tokens as ``local``.

    lm-eval's local-completions encodes a context and its continuation with the local
    tokenizer, sends their text, and scores the continuation as the server's
    ``token_logprobs[len(context tokens):-1]`` (the last entry is the one generated
    token). With another count that slice holds other tokens: wrong scores, no error.
    """
    served = len(logprobs["token_logprobs"]) - 1
    ours = local.count(PROBE_PROMPT)
    if served == ours:
        return
    pieces = logprobs.get("tokens")
    bos = getattr(local.tokenizer, "bos_token", None)
    if served == ours + 1 and bos and isinstance(pieces, list) and pieces[:1] == [bos]:
        # The same tokenizer, but the server adds its start token to text prompts (most
        # Llama-style tokenizers do): the fix is not another eval.tokenizer.
        raise _error("endpoint", f"{_FIELD} {shown}: the server puts a start token ({bos!r}) before text prompts, "
                     f"which lm-eval's text requests do not count: task {task!r} would be scored one token off",
                     hint="evaluate loglikelihood tasks with eval.backend: hf or vllm")
    raise _error("tokenizer", f"{local.named} does not tokenize like the served model: the server splits "
                 f"{PROBE_PROMPT!r} into {served} tokens, this tokenizer into {ours}, and lm-eval scores task "
                 f"{task!r} by this tokenizer's token counts",
                 hint="point eval.tokenizer at the served model's directory (its tokenizer files)")


def probe(url: str, suite: TaskSuite, *, tokenizer: Callable[[], LocalTokenizer] | None = None,
          timeout: float = PROBE_TIMEOUT_S) -> Endpoint:
    """Check the server at ``url`` can run ``suite`` (see the module doc); raise EvalError.

    ``tokenizer``: loads the local tokenizer, which with a loglikelihood task must split
    text as the server does. Loaded only then: a server that is down or answers garbage is
    said first, without loading transformers.
    """
    import requests

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _error("endpoint", f"{_FIELD} {url!r} is not an http(s) URL",
                     hint="e.g. eval.endpoint: http://127.0.0.1:8000")
    base, completions = completions_url(url)
    with requests.Session() as session:
        models = _call(session, "GET", base + "/v1/models", shown=url, timeout=timeout)
        data = models.get("data") if isinstance(models, dict) else None
        model_id = data[0].get("id") if isinstance(data, list) and data and isinstance(data[0], dict) else None
        if not isinstance(model_id, str) or not model_id:
            raise _garbage(url, base + "/v1/models", "a model id (data[0].id)")
        answer = _call(session, "POST", completions, shown=url, timeout=timeout,
                       payload={"model": model_id, "prompt": PROBE_PROMPT, "max_tokens": 1, "temperature": 0})
        choice = _first_choice(answer)
        if choice is None or not isinstance(choice.get("text"), str):
            raise _garbage(url, completions, "a completion (choices[0].text)")
        needs_logprobs = _loglikelihood_tasks(suite)
        if needs_logprobs:
            answer = _call(session, "POST", completions, shown=url, timeout=timeout,
                           payload={"model": model_id, "prompt": PROBE_PROMPT, "max_tokens": 1, "temperature": 0,
                                    "echo": True, "logprobs": 1})
            choice = _first_choice(answer)
            logprobs = choice.get("logprobs") if choice else None
            tokens = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
            task, output_type = needs_logprobs[0]
            if not isinstance(tokens, list) or not tokens:
                raise _error(
                    "endpoint",
                    f"{_FIELD} {url}: task {task!r} is {output_type}, which needs the prompt's log-probabilities "
                    "(echo + logprobs), and the server returns none",
                    hint="serve the model with llm-gitops serve or vLLM, or evaluate the task with eval.backend: hf")
            if tokenizer is not None:
                _check_tokenization(url, tokenizer(), logprobs, task)
        ready = _call(session, "GET", base + "/readyz", shown=url, timeout=timeout, allow_404=True)
    digest = ready.get("digest") if isinstance(ready, dict) else None
    return Endpoint(base, completions, model_id, digest if isinstance(digest, str) and digest else None)


def tokenizer_digest(path: Path) -> str:
    """sha256 over the tokenizer files in ``path`` (names and contents)."""
    digest = hashlib.sha256()
    found = False
    for name in _TOKENIZER_FILES:
        file = Path(path) / name
        if file.is_file():
            found = True
            digest.update(name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    if not found:
        raise _error("tokenizer", f"eval.tokenizer: {path} holds no tokenizer files "
                     f"({', '.join(_TOKENIZER_FILES[:3])}, ...)",
                     hint="point eval.tokenizer (or the model) at a directory with the served model's tokenizer")
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True)
class Served:
    """What ``run_eval`` needs to evaluate the server instead of a loaded model."""

    endpoint: Endpoint
    tokenizer: Path
    key_part: str | None  # the model part of the cache key; None: not cached


def served_target(url: str, suite: TaskSuite, *, tokenizer: str | None, model_dir: Path, base_dir: Path) -> Served:
    """Probe the server and settle the tokenizer (``eval.tokenizer`` or the model's) and the cache key part."""
    if tokenizer is not None:
        path = Path(tokenizer).expanduser()
        path = path if path.is_absolute() else (Path(base_dir) / path).resolve()
        if not path.is_dir():
            raise _error("tokenizer", f"eval.tokenizer: {path} is not a directory",
                         hint="point it at the served model's tokenizer directory (relative to the config file)")
        named = f"eval.tokenizer {path}"
    else:
        path = Path(model_dir)
        named = f"eval.tokenizer (unset: the tokenizer of the model directory {path})"
    # Before the server is asked: a bad tokenizer is a local mistake.
    digest = tokenizer_digest(path)
    endpoint = probe(url, suite, tokenizer=lambda: LocalTokenizer.load(path, named))
    key_part = content_key({**endpoint.identity(), "tokenizer": digest}) if endpoint.digest else None
    return Served(endpoint, path, key_part)


def completions_model_args(endpoint: Endpoint, tokenizer: Path, *, seed: int, max_gen_toks: int | None) -> dict[str, Any]:
    """lm-eval ``local-completions`` model arguments (a dict: a URL or path may hold commas).

    Plain-text prompts (``tokenized_requests=False``): not every server takes token ids
    (TGI does not); the probe checked that the server splits text as the local tokenizer
    does. One request at a time, in one attempt (``max_retries`` is tenacity's attempt
    count), each waiting at most ``REQUEST_TIMEOUT_S``: a deterministic order, and a dead
    or hung server fails fast instead of after lm-eval's 300 s per request.
    """
    args: dict[str, Any] = {
        "model": endpoint.model_id,
        "base_url": endpoint.completions_url,
        "tokenizer": str(tokenizer),
        "tokenizer_backend": "huggingface",
        "tokenized_requests": False,
        "num_concurrent": 1,
        "max_retries": 1,
        "timeout": REQUEST_TIMEOUT_S,  # the module's value at call time: a test lowers it
        "batch_size": 1,
        "seed": seed,
    }
    if max_gen_toks:
        args["max_gen_toks"] = max_gen_toks
    return args
