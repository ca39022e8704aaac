"""Train the adder: a tiny Llama-style, character-level model that completes ``07+45=`` with ``052``.

The model (~1M parameters, 4.2 MB of safetensors) is a standard Hugging Face Llama, so
anything that loads a Hugging Face model (lm-eval, transformers, llm-gitops) loads it.

Usage:
  python train.py                          # defaults from params.yaml (train section)
  python train.py --steps 200 --out model-quick
  python train.py --seed 3 --out model-seed3

Writes OUT/ (config.json, model.safetensors, tokenizer files, generation_config.json)
and OUT/train_metrics.json (final loss, held-out exact match, seconds, params used).
Deterministic for a given seed, thread count and torch build.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PARAMS = HERE / "params.yaml"

# Specials, digits and the few symbols the task uses; one token per character.
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHARS = list("0123456789") + ["+", "=", " ", "\n"]
PROMPT_LEN = len("07+45=")
SEQ_LEN = len("07+45=052\n")


def build_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()  # characters join back without spaces
    # No BOS/EOS is added on encode: lm-eval scores and generates on the raw prompt,
    # and training must see the same token sequences it will be evaluated on.
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def build_model(tokenizer, seed: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=512,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)


def load_lines(path: Path, field: str) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)[field] for line in f if line.strip()]


def encode_fixed(tokenizer, texts: list[str], length: int):
    """Tokenise every text once, up front; all have the same width, so no padding."""
    import torch

    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    bad = [t for t, i in zip(texts, ids) if len(i) != length]
    if bad:
        raise SystemExit(f"train.py: expected {length} tokens per item, got {bad[0]!r}; re-run data/prepare.py")
    return torch.tensor(ids, dtype=torch.long)


def held_out_exact_match(model, tokenizer, questions: list[str], answers: list[str]) -> float:
    """Greedy exact match on held-out sums (a quick check; lm-eval is the real eval)."""
    import torch

    newline = tokenizer.convert_tokens_to_ids("\n")
    ids = encode_fixed(tokenizer, questions, PROMPT_LEN)
    model.eval()
    with torch.no_grad():
        for _ in range(SEQ_LEN - PROMPT_LEN - 1):  # the three answer digits
            logits = model(input_ids=ids).logits[:, -1, :]
            logits[:, newline] = float("-inf")  # digits only until the sum is complete
            ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
    model.train()
    got = tokenizer.batch_decode(ids[:, PROMPT_LEN:])
    return sum(g == a for g, a in zip(got, answers)) / max(1, len(answers))


def main(argv: list[str] | None = None) -> None:
    params = (yaml.safe_load(PARAMS.read_text()) or {}).get("train", {}) if PARAMS.exists() else {}
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=HERE / "data", help="directory written by data/prepare.py")
    ap.add_argument("--out", type=Path, default=HERE / "model", help="output model directory")
    ap.add_argument("--steps", type=int, default=params.get("steps", 1000))
    ap.add_argument("--seed", type=int, default=params.get("seed", 0))
    ap.add_argument("--batch-size", type=int, default=params.get("batch_size", 128))
    ap.add_argument("--lr", type=float, default=params.get("lr", 3e-3))
    ap.add_argument("--warmup", type=int, default=params.get("warmup", 100))
    ap.add_argument("--weight-decay", type=float, default=params.get("weight_decay", 0.01))
    ap.add_argument("--threads", type=int, default=params.get("threads", 2))
    ap.add_argument("--log-every", type=int, default=params.get("log_every", 100))
    args = ap.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        ap.error("--steps and --batch-size must be positive")

    import torch

    # A fixed thread count keeps runs comparable (and reproducible) across machines.
    torch.set_num_threads(max(1, min(args.threads, os.cpu_count() or 1)))
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    train_file = args.data / "train.jsonl"
    if not train_file.is_file():
        raise SystemExit(f"train.py: {train_file} not found; run `python data/prepare.py` (or `dvc repro`) first")
    tokenizer = build_tokenizer()
    data = encode_fixed(tokenizer, load_lines(train_file, "text"), SEQ_LEN)
    # Loss on the answer only: predicting the random operands teaches nothing.
    labels = data.clone()
    labels[:, :PROMPT_LEN] = -100

    model = build_model(tokenizer, args.seed)
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_at)
    gen = torch.Generator().manual_seed(args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"train: {len(data)} examples, {n_params / 1e6:.2f}M params, {args.steps} steps, "
          f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}, {torch.get_num_threads()} threads", flush=True)

    start = time.monotonic()
    running = None
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(data), (args.batch_size,), generator=gen)
        loss = model(input_ids=data[idx], labels=labels[idx]).loss
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:5d}/{args.steps}  loss {running:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                  f"{time.monotonic() - start:6.1f}s", flush=True)
    seconds = time.monotonic() - start

    em_file = args.data / "eval" / "add_em.jsonl"
    em = None
    if em_file.is_file():
        em = held_out_exact_match(model, tokenizer, load_lines(em_file, "question"), load_lines(em_file, "answer"))
        print(f"held-out exact match: {em:.3f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    metrics = {
        "loss": round(running, 6), "held_out_exact_match": em, "train_seconds": round(seconds, 1),
        "steps": args.steps, "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr,
    }
    (args.out / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"saved {args.out} ({seconds:.0f}s training)", flush=True)


if __name__ == "__main__":
    main()
