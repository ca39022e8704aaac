"""Text generation behind the HTTP API: one loaded model, one generation at a time.

torch on CPU already spreads one generation over every core, so running two at once
only makes both slower and doubles peak memory. The server's bounded queue
(``serve/scheduler.py``) hands over one request at a time; the lock here also covers the
loader's warm-up generation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

from llm_gitops.models.loader import LoadedModel, load_model


@dataclass(frozen=True)
class Logprobs:
    """Per-token log-probabilities in OpenAI's legacy completions layout (parallel lists)."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (max_tokens reached)
    prompt_tokens: int
    completion_tokens: int
    logprobs: Logprobs | None = None


class GenerationCancelled(Exception):
    """The request was given up between decode steps; ``tokens`` were generated for nothing."""

    def __init__(self, tokens: int):
        super().__init__(f"cancelled after {tokens} generated tokens")
        self.tokens = tokens


@dataclass(frozen=True)
class ModelInfo:
    """What the server reports about the model it serves (/metrics, /v1/models)."""

    name: str
    digest: str
    method: str  # the artifact's compression method, "none" for a plain model dir
    context_length: int | None  # max positions the model accepts, None if unknown


def quantization_method(manifest: dict | None) -> str:
    return str(manifest.get("method") or "none") if manifest else "none"


class _StopOnStrings:
    """Stops generation once the decoded continuation contains a stop string.

    Decoding the whole continuation (not token by token) handles stop strings that
    span tokens; completions are capped at a few hundred tokens, so this stays cheap.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, stops: list[str]):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = stops

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        text = self.tokenizer.decode(input_ids[0, self.prompt_len :], skip_special_tokens=True)
        done = any(stop in text for stop in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class _StopWhen:
    """Called once per generated token: reports it, and stops generation once ``cancelled()`` says so."""

    def __init__(self, cancelled: Callable[[], bool], on_token: Callable[[], None]):
        self.cancelled = cancelled
        self.on_token = on_token

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        self.on_token()
        return torch.full((input_ids.shape[0],), self.cancelled(), dtype=torch.bool, device=input_ids.device)


class Generator:
    """Wraps a ``LoadedModel`` for thread-safe, one-at-a-time completions."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self._lock = threading.Lock()
        config = getattr(loaded.model, "config", None)
        self.context_length: int | None = getattr(config, "max_position_embeddings", None)
        tokenizer = loaded.tokenizer
        # Token ids a prompt may hold: the embedding rows (a tokenizer may know fewer).
        self.vocab_size: int = getattr(config, "vocab_size", None) or len(tokenizer)
        self._eos = tokenizer.eos_token_id
        # Models without a pad token (most causal LMs) pad with EOS, as pipelines do.
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self._eos

    @classmethod
    def load(cls, model_dir: Path) -> Generator:
        return cls(load_model(model_dir))

    def token_ids(self, prompt: str | list[int]) -> list[int]:
        """A text prompt tokenized (with the tokenizer's default special tokens); token ids as given."""
        if isinstance(prompt, list):
            return prompt
        return self.loaded.tokenizer(prompt)["input_ids"]

    def prompt_text(self, prompt: str | list[int]) -> str:
        return prompt if isinstance(prompt, str) else self.loaded.tokenizer.decode(prompt)

    def complete(
        self,
        prompt: str | list[int],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        logprobs: int | None = None,
        echo: bool = False,
        should_stop: Callable[[], bool] | None = None,
        on_token: Callable[[], None] | None = None,
    ) -> Completion:
        """Generate up to ``max_tokens`` tokens after ``prompt`` (text or token ids); greedy at temperature 0.

        ``logprobs`` (top alternatives per position) or ``echo`` add token log-probabilities:
        of the generated tokens, and with ``echo`` of the prompt's too (OpenAI's legacy
        completions format, which lm-eval's loglikelihood requests read). ``max_tokens=0``
        generates nothing (with ``echo``: scores the prompt only).

        ``should_stop`` is checked before the work and between decode steps; once it says
        yes, :class:`GenerationCancelled` is raised (the client is gone or out of time).
        ``on_token`` is called as each token is generated (live work, for metrics).
        """
        import torch

        cancelled = should_stop or (lambda: False)
        ids = self.token_ids(prompt)
        with self._lock, torch.inference_mode():
            if cancelled():
                raise GenerationCancelled(0)
            new_ids = self._generate(ids, max_tokens, temperature, top_p, stop, seed, cancelled,
                                     on_token or (lambda: None)) if max_tokens else []
            if cancelled():
                raise GenerationCancelled(len(new_ids))
            hit_eos = self._eos is not None and self._eos in new_ids
            kept = new_ids[: new_ids.index(self._eos)] if hit_eos else new_ids
            text = self.loaded.tokenizer.decode(kept, skip_special_tokens=True)
            finish = "stop" if hit_eos else "length"
            stops = [s for s in (stop or []) if s]
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
            scored = None
            if logprobs is not None or echo:
                # The EOS token stays in the scored tokens: lm-eval drops the last one
                # of an echoed max_tokens=1 request, whatever it is.
                scored = self._logprobs(ids, new_ids if cut < 0 else self._within(new_ids, cut),
                                        len(self.prompt_text(prompt)), top=logprobs or 0, echo=echo)
        return Completion(text=text, finish_reason=finish, prompt_tokens=len(ids), completion_tokens=len(kept),
                          logprobs=scored)

    def _generate(self, ids: list[int], max_tokens: int, temperature: float, top_p: float, stop: list[str] | None,
                  seed: int | None, cancelled: Callable[[], bool], on_token: Callable[[], None]) -> list[int]:
        import torch
        from transformers import StoppingCriteriaList

        input_ids = torch.tensor([ids], dtype=torch.long)
        stops = [s for s in (stop or []) if s]
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": self._pad,
            "attention_mask": torch.ones_like(input_ids),
        }
        if self._eos is not None:
            kwargs["eos_token_id"] = self._eos
        if temperature == 0:
            # Explicit: a model's generation_config may ask for sampling by default.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=None)
        criteria = [_StopWhen(cancelled, on_token)]
        if stops:
            criteria.append(_StopOnStrings(self.loaded.tokenizer, len(ids), stops))
        kwargs["stopping_criteria"] = StoppingCriteriaList(criteria)
        if seed is not None:
            torch.manual_seed(seed)
        output = self.loaded.model.generate(input_ids, **kwargs)
        return output[0, len(ids) :].tolist()

    def _within(self, new_ids: list[int], chars: int) -> list[int]:
        """The generated tokens that start before character ``chars`` (a stop string's cut)."""
        kept, length = [], 0
        for token in new_ids:
            if length >= chars:
                break
            kept.append(token)
            length += len(self._piece(token))
        return kept

    def _piece(self, token: int) -> str:
        return self.loaded.tokenizer.decode([token])

    def _logprobs(self, ids: list[int], new_ids: list[int], prompt_chars: int, *, top: int, echo: bool) -> Logprobs:
        """Log-probabilities of ``new_ids`` (and with ``echo`` of the prompt's ``ids``) in one pass.

        Each position lists the token's own log-probability and the ``top`` most likely
        tokens plus the token itself, as vLLM does (so a dict may hold ``top + 1``). The
        first prompt token has no context and gets ``None``, as in OpenAI's format.
        """
        import torch

        everything = ids + new_ids
        logits = self.loaded.model(torch.tensor([everything], dtype=torch.long)).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(everything[1:], dtype=torch.long)
        own = logp.gather(1, targets.unsqueeze(1)).squeeze(1).tolist()
        best_values, best_ids = logp.topk(top, dim=-1) if top else (None, None)
        first = 0 if echo else len(ids)
        tokens, token_logprobs, top_logprobs, offsets = [], [], [], []
        offset = 0 if echo else prompt_chars
        for position in range(first, len(everything)):
            piece = self._piece(everything[position])
            tokens.append(piece)
            offsets.append(offset)
            offset += len(piece)
            if position == 0:
                token_logprobs.append(None)
                top_logprobs.append(None)
                continue
            row = position - 1
            alternatives = {}
            if top:
                alternatives = {self._piece(t): v for t, v in zip(best_ids[row].tolist(), best_values[row].tolist())}
            alternatives[piece] = own[row]
            token_logprobs.append(own[row])
            top_logprobs.append(alternatives)
        return Logprobs(tokens=tokens, token_logprobs=token_logprobs, top_logprobs=top_logprobs, text_offset=offsets)
