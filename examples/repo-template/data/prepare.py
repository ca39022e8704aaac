"""Make the adder's data: fixed-width 2-digit sums, e.g. ``07+45=052``.

Every one of the 10,000 pairs ``a+b`` (a, b in 00..99) is either a training pair or a
held-out one, never both, so the eval sets measure generalisation, not memory.
Deterministic: the same ``prepare`` params always write byte-identical files.

Writes (paths relative to this script's directory):
  train.jsonl          {"text": "07+45=052\\n"}           training pairs
  eval/add_em.jsonl    {"question": "07+45=", "answer": "052"}   exact match (generate_until)
  eval/add_mc.jsonl    {"question": "07+45=", "choices": [...], "label": i}  multiple choice

Usage: python data/prepare.py [--seed N] [--eval-size N] [--choices N] [--out DIR]
(defaults come from the ``prepare`` section of params.yaml).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PARAMS = HERE.parent / "params.yaml"


def fmt_prompt(a: int, b: int) -> str:
    return f"{a:02d}+{b:02d}="


def fmt_sum(s: int) -> str:
    return f"{s:03d}"


def distractors(total: int, count: int, rng: random.Random) -> list[int]:
    """Plausible wrong sums: the mistakes a half-trained adder makes (a digit off by one)."""
    valid = lambda deltas: [total + d for d in deltas if 0 <= total + d <= 999]  # noqa: E731
    primary, secondary = valid((-1, 1, -10, 10)), valid((-100, 100, -11, 11, 9, -9))
    picks = rng.sample(primary, k=min(count, len(primary)))
    return (picks + secondary)[:count]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
    tmp.replace(path)  # a half-written file never looks finished to DVC or the trainer


def main(argv: list[str] | None = None) -> None:
    params = (yaml.safe_load(PARAMS.read_text()) or {}).get("prepare", {}) if PARAMS.exists() else {}
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=params.get("seed", 0))
    ap.add_argument("--eval-size", type=int, default=params.get("eval_size", 500), help="items in each eval set")
    ap.add_argument("--choices", type=int, default=params.get("choices", 4), help="options per MC item")
    ap.add_argument("--out", type=Path, default=HERE, help="output directory (default: data/)")
    args = ap.parse_args(argv)
    if args.choices < 2:
        ap.error("--choices must be at least 2")
    if 2 * args.eval_size >= 10_000:
        ap.error("--eval-size must leave pairs for training (2 * eval-size < 10000)")

    rng = random.Random(args.seed)
    pairs = [(a, b) for a in range(100) for b in range(100)]
    rng.shuffle(pairs)
    em_pairs = pairs[: args.eval_size]
    mc_pairs = pairs[args.eval_size : 2 * args.eval_size]
    train_pairs = sorted(pairs[2 * args.eval_size :])

    train = [{"text": fmt_prompt(a, b) + fmt_sum(a + b) + "\n"} for a, b in train_pairs]
    em = [{"question": fmt_prompt(a, b), "answer": fmt_sum(a + b)} for a, b in em_pairs]
    mc = []
    for a, b in mc_pairs:
        total = a + b
        options = [total, *distractors(total, args.choices - 1, rng)]
        rng.shuffle(options)
        mc.append({"question": fmt_prompt(a, b), "choices": [fmt_sum(s) for s in options], "label": options.index(total)})

    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "eval" / "add_em.jsonl", em)
    write_jsonl(args.out / "eval" / "add_mc.jsonl", mc)
    print(f"prepare: {len(train)} train, {len(em)} add_em, {len(mc)} add_mc items -> {args.out}")


if __name__ == "__main__":
    main()
