"""What does ``llm-gitops quantize`` buy, and what does it cost?

In one run:

1. the example model (trained adder): the budget search (``quantize.methods``
   int8-dynamic and int8-weight-only, budget 1pt, prefer smallest) over the example's
   full eval suite; prints the comparison table, the chosen artifact's size ratio and
   its accuracy drop per metric;
2. a larger Llama made locally with random weights (default hidden 768, 12 layers,
   vocabulary 32000: ~138M parameters): int8-dynamic artifact size vs fp32, and the
   per-token latency of greedy generation, fp32 vs the loaded artifact (interleaved
   runs, medians, so that load on a shared machine hits both alike).

Goals: size ratio <= 0.30, per-token latency ratio <= 0.60 (larger model), accuracy
drop of the chosen artifact <= 1 point (example).

    .venv/bin/python benchmarks/quantize.py
    .venv/bin/python benchmarks/quantize.py --hidden 512 --layers 8 --tokens 16
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "repo-template"

GOAL_SIZE = 0.30
GOAL_LATENCY = 0.60
GOAL_DROP_PT = 1.0


def _offline_env() -> None:
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("HF_HOME", str(Path(tempfile.gettempdir()) / "llm-gitops-bench-hf-home"))


def _verdict(value: float, goal: float) -> str:
    return "meets goal" if value <= goal else "MISSES goal"


def example_budget(model_dir: Path, work: Path, limit: int | None) -> dict:
    """The budget search on the example model; returns the chosen artifact's figures."""
    from llm_gitops.config.load import parse_config
    from llm_gitops.models.sources import resolve_model
    from llm_gitops.quantize.base import QuantizeParams
    from llm_gitops.quantize.budget import format_table, run_budget

    tasks = EXAMPLE / "tasks"
    text = (
        "version: 1\n"
        f"eval:\n  tasks: [{tasks / 'add_mc.yaml'}, {tasks / 'add_em.yaml'}]\n"
        + (f"  limit: {limit}\n" if limit else "")
        + "  batch_size: 32\n  max_gen_toks: 5\n"
        "quantize:\n  methods: [int8-dynamic, int8-weight-only]\n  budget: 1pt\n"
    )
    config = parse_config(text, work / ".llm-gitops.yaml")
    source = resolve_model(str(model_dir), base_dir=work)
    started = time.perf_counter()
    result = run_budget(
        source, work / "chosen", config=config, budget=config.quantize.budget, methods=config.quantize.methods,
        prefer="smallest", params=QuantizeParams(), cache_root=work / "cache", keep_all=work / "others",
        progress=lambda msg: print(f"  {msg}", file=sys.stderr),
    )
    seconds = time.perf_counter() - started
    print(format_table(result))
    figures: dict = {"seconds": seconds, "rows": {}}
    for c in result.candidates:
        if c.outcome is None:
            continue
        # "+ 0.0" turns -0.0 (no change) into 0.0, which prints without a sign.
        drops = {check.metric: -100.0 * check.delta + 0.0 for check in c.outcome.checks}
        figures["rows"][c.method] = {"ratio": c.artifact.size_ratio, "drops": drops, "status": c.status}
    figures["chosen"] = result.chosen.method if result.chosen else None
    return figures


def make_large_model(out: Path, *, hidden: int, layers: int, vocab: int) -> int:
    """A random Llama of the given shape, saved with the example's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(REPO))
    from tests.support.tiny_model import make_tokenizer

    tokenizer = make_tokenizer()
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64, max_position_embeddings=512,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def per_token_ms(model, prompt_ids, tokens: int) -> float:
    """Milliseconds per generated token (greedy, exactly ``tokens`` new tokens)."""
    import torch

    with torch.no_grad():
        started = time.perf_counter()
        model.generate(prompt_ids, min_new_tokens=tokens, max_new_tokens=tokens, do_sample=False,
                       eos_token_id=None, pad_token_id=0)
        return (time.perf_counter() - started) * 1000.0 / tokens


def large_model(work: Path, *, hidden: int, layers: int, vocab: int, tokens: int, repeats: int) -> dict:
    import torch

    from llm_gitops.models.loader import load_model
    from llm_gitops.models.sources import resolve_model
    from llm_gitops.quantize.artifact import build_artifact
    from llm_gitops.quantize.base import QuantizeParams

    src = work / "large"
    started = time.perf_counter()
    params = make_large_model(src, hidden=hidden, layers=layers, vocab=vocab)
    print(f"  made a random Llama: {params / 1e6:.0f}M params in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    source = resolve_model(str(src), base_dir=work)
    started = time.perf_counter()
    artifact = build_artifact(source, work / "large-int8", "int8-dynamic", QuantizeParams(),
                              lambda msg: print(f"  {msg}", file=sys.stderr))
    quantize_s = time.perf_counter() - started

    fp32 = load_model(src).model
    int8 = load_model(artifact.path).model
    prompt = torch.tensor([[1, 5, 6, 14, 7, 8, 15]])  # "<s>12+34=" in the example vocabulary
    for model in (fp32, int8):  # warm-up: first calls pay for lazy initialisation
        per_token_ms(model, prompt, 4)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(repeats):
        times["fp32"].append(per_token_ms(fp32, prompt, tokens))
        times["int8"].append(per_token_ms(int8, prompt, tokens))
    fp32_ms, int8_ms = statistics.median(times["fp32"]), statistics.median(times["int8"])
    return {
        "params": params,
        "size_fp32": artifact.manifest["source"]["size_bytes"],
        "size_int8": artifact.size_bytes,
        "ratio": artifact.size_ratio,
        "quantize_s": quantize_s,
        "fp32_ms": fp32_ms,
        "int8_ms": int8_ms,
        "latency_ratio": int8_ms / fp32_ms,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="example model dir (default: the trained example)")
    parser.add_argument("--limit", type=int, default=None, help="eval samples per task (default: all 500)")
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--tokens", type=int, default=32, help="tokens generated per latency run")
    parser.add_argument("--repeats", type=int, default=5, help="latency runs per model (interleaved)")
    # One thread by default: on a shared machine a multi-threaded matmul stalls whenever
    # one of its threads is descheduled, which swamps the fp32/int8 difference.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work directory here")
    args = parser.parse_args()

    _offline_env()
    sys.path.insert(0, str(REPO))
    import torch

    torch.set_num_threads(args.threads)
    if args.model is None:
        from tests.support.example_models import ensure_example_models

        args.model = ensure_example_models().good
    work = Path(tempfile.mkdtemp(prefix="llm-gitops-bench-quantize-"))
    try:
        print(f"1. example model {args.model}: budget search (int8-dynamic, int8-weight-only; budget 1pt)")
        ex = example_budget(args.model, work, args.limit)
        print(f"2. random Llama, hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}: int8-dynamic")
        big = large_model(work, hidden=args.hidden, layers=args.layers, vocab=args.vocab, tokens=args.tokens,
                          repeats=args.repeats)
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)

    print("\nResults")
    for method, row in ex["rows"].items():
        drops = ", ".join(f"{k} {v:+.1f}pt" for k, v in row["drops"].items())
        print(f"  example {method:<17} size {row['ratio']:.3f}x fp32, drop {drops} ({row['status']})")
    print(f"  example budget search: {ex['seconds']:.0f}s, chose {ex['chosen']}")
    print(
        f"  large   int8-dynamic      {big['params'] / 1e6:.0f}M params: {big['size_fp32'] / 1e6:.0f} MB -> "
        f"{big['size_int8'] / 1e6:.0f} MB, quantized in {big['quantize_s']:.0f}s"
    )
    print(
        f"  large   per-token latency fp32 {big['fp32_ms']:.1f} ms, int8 {big['int8_ms']:.1f} ms "
        f"({args.tokens} tokens x {args.repeats} runs, torch threads: {big['threads']}, medians)"
    )
    print("\nGoals")
    print(f"  size ratio (large, int8-dynamic)      {big['ratio']:.3f} <= {GOAL_SIZE}: {_verdict(big['ratio'], GOAL_SIZE)}")
    if ex["chosen"]:
        example_ratio = ex["rows"][ex["chosen"]]["ratio"]
        print(f"  size ratio (example, chosen)          {example_ratio:.3f} <= {GOAL_SIZE}: {_verdict(example_ratio, GOAL_SIZE)}")
    print(f"  latency ratio (large, int8-dynamic)   {big['latency_ratio']:.3f} <= {GOAL_LATENCY}: "
          f"{_verdict(big['latency_ratio'], GOAL_LATENCY)}")
    if ex["chosen"]:
        worst = max(ex["rows"][ex["chosen"]]["drops"].values())
        print(f"  accuracy drop (example, {ex['chosen']}) {worst:+.1f}pt <= {GOAL_DROP_PT}pt: "
              f"{_verdict(worst, GOAL_DROP_PT)}")
    else:
        print("  accuracy drop (example): no method within the 1pt budget: MISSES goal")


if __name__ == "__main__":
    main()
