"""The measuring process of ``bench``: ``python -m llm_gitops.perf.measure`` (JSON in, JSON out).

It runs in a fresh interpreter so that load time and peak memory are the model's own,
not whatever the calling process (an eval, a second model) left behind.

Generation is a manual greedy loop with the KV cache: each decode step is timed on
its own, and exactly ``max_new_tokens`` tokens are produced (EOS is not a stop), so a
candidate and its baseline always do the same amount of work.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _generate(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> tuple[float, list[float], float]:
    """(time to first token s, per-decode-step latencies s, total s) of one greedy generation."""
    import torch

    started = time.perf_counter()
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.inference_mode():
        out = model(input_ids=input_ids, use_cache=True)
        next_token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        ttft = time.perf_counter() - started
        past = out.past_key_values
        steps: list[float] = []
        for _ in range(max_new_tokens - 1):
            t0 = time.perf_counter()
            out = model(input_ids=next_token, past_key_values=past, use_cache=True)
            next_token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
            past = out.past_key_values
            steps.append(time.perf_counter() - t0)
    return ttft, steps, time.perf_counter() - started


def measure(model_dir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Load and time the model as ``settings`` (a PerfSection's fields) say."""
    import torch

    if settings.get("threads"):
        torch.set_num_threads(int(settings["threads"]))
    from llm_gitops.models.loader import load_model

    # One untimed load first: the first from_pretrained also imports the architecture's
    # modules (seconds), which is the library's cost, not the model's.
    warm = load_model(model_dir)
    del warm

    t0 = time.perf_counter()
    loaded = load_model(model_dir)
    load_times = [time.perf_counter() - t0]

    prompts: list[str] = list(settings["prompts"])
    max_new = int(settings["max_new_tokens"])
    for _ in range(int(settings["warmup"])):
        for prompt in prompts:
            _generate(loaded.model, loaded.tokenizer, prompt, max_new)

    ttft: list[float] = []
    steps: list[float] = []
    tokens_per_s: list[float] = []
    for _ in range(int(settings["repeats"])):
        for prompt in prompts:
            first, decode, total = _generate(loaded.model, loaded.tokenizer, prompt, max_new)
            ttft.append(first * 1000)
            steps.extend(s * 1000 for s in decode)
            tokens_per_s.append(max_new / total)
    peak = _peak_rss_mb()

    # More load-time samples (after the memory peak was read: reloads would inflate it).
    del loaded
    for _ in range(min(int(settings["repeats"]), 3) - 1):
        t0 = time.perf_counter()
        again = load_model(model_dir)
        load_times.append(time.perf_counter() - t0)
        del again
    return {
        "load_time_s": load_times,
        "ttft_ms": ttft,
        "token_ms": steps,
        "tokens_per_s": tokens_per_s,
        "peak_rss_mb": peak,
        "threads": torch.get_num_threads(),
    }


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        result = measure(Path(request["model_dir"]), request["settings"])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides the exit code
        from llm_gitops.errors import LlmGitopsError
        from llm_gitops.extras import missing_extra

        exc = missing_extra(exc, "bench") or exc  # no torch here: name the extra to install
        json.dump({"error": str(exc), "type": type(exc).__name__, "usage": isinstance(exc, LlmGitopsError)}, sys.stdout)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
