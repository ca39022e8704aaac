"""Text generation behind the HTTP API: one loaded model, one generation at a time.

torch on CPU already spreads one generation over every core, so running two at once
only makes both slower and doubles peak memory; a lock serialises them and requests
queue in the server's thread pool instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_gitops.models.loader import LoadedModel, load_model


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (max_tokens reached)
    prompt_tokens: int
    completion_tokens: int


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


class Generator:
    """Wraps a ``LoadedModel`` for thread-safe, one-at-a-time completions."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self._lock = threading.Lock()
        config = getattr(loaded.model, "config", None)
        self.context_length: int | None = getattr(config, "max_position_embeddings", None)
        tokenizer = loaded.tokenizer
        self._eos = tokenizer.eos_token_id
        # Models without a pad token (most causal LMs) pad with EOS, as pipelines do.
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self._eos

    @classmethod
    def load(cls, model_dir: Path) -> Generator:
        return cls(load_model(model_dir))

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode(prompt))

    def _encode(self, prompt: str) -> list[int]:
        # The tokenizer's own default for special tokens, as lm-eval uses when it scores
        # the model: the served model sees prompts the way the gate measured it.
        return self.loaded.tokenizer(prompt)["input_ids"]

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Completion:
        """Generate up to ``max_tokens`` tokens after ``prompt``; greedy at temperature 0."""
        import torch

        ids = self._encode(prompt)
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
        if stops:
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([_StopOnStrings(self.loaded.tokenizer, len(ids), stops)])

        with self._lock, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            output = self.loaded.model.generate(input_ids, **kwargs)
        new_ids = output[0, len(ids) :].tolist()
        hit_eos = self._eos is not None and self._eos in new_ids
        if hit_eos:
            new_ids = new_ids[: new_ids.index(self._eos)]
        text = self.loaded.tokenizer.decode(new_ids, skip_special_tokens=True)
        finish = "stop" if hit_eos else "length"
        if stops:
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Completion(text=text, finish_reason=finish, prompt_tokens=len(ids), completion_tokens=len(new_ids))
