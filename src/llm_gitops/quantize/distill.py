"""distill: train a smaller Llama student on the teacher's soft labels.

The student shares the teacher's tokenizer and vocabulary; its width and depth come
from ``quantize.distill_hidden_size`` / ``distill_layers``. Each step samples a batch
of texts from ``quantize.distill_dataset`` (JSONL, one ``{"text": ...}`` per line) and
minimises ``ALPHA * KL(teacher || student at T) * T^2 + (1 - ALPHA) * CE(hard labels)``:
the soft labels carry the teacher's knowledge of near misses, the hard labels keep the
student honest where the teacher is wrong. A weak teacher caps the student.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from llm_gitops.errors import ConfigError
from llm_gitops.models.loaded import LoadedModel, load_hf_dir
from llm_gitops.quantize.base import MethodReport, Progress, QuantizeParams

TEMPERATURE = 2.0
ALPHA = 0.5  # weight of the soft-label (KL) term
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.01
WARMUP_FRACTION = 0.1
MAX_TOKENS = 256  # longer texts are truncated: distillation here is for small models
DATASET_FIX = "set quantize.distill_dataset to a JSONL file with one {\"text\": ...} object per line"


def read_texts(path: Path | None) -> list[str]:
    """The ``text`` of every line of the JSONL dataset; ``ConfigError`` naming the line."""
    if path is None:
        raise ConfigError("quantize.distill_dataset is not set; distill needs text to train the student on", hint=DATASET_FIX)
    if not path.is_file():
        raise ConfigError(f"quantize.distill_dataset: {path} does not exist", hint=DATASET_FIX)
    texts = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path}:{lineno}: not valid JSON ({exc.msg})", hint=DATASET_FIX) from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ConfigError(f"{path}:{lineno}: expected an object with a string 'text' field", hint=DATASET_FIX)
            texts.append(row["text"])
    if not texts:
        raise ConfigError(f"{path}: the distillation dataset is empty", hint=DATASET_FIX)
    return texts


def _heads_for(hidden: int) -> int:
    """Attention heads of ~32 dimensions each that divide ``hidden`` exactly."""
    heads = max(1, hidden // 32)
    while hidden % heads:
        heads -= 1
    return heads


def student_config(teacher: Any, tokenizer: Any, *, hidden: int, layers: int) -> Any:
    from transformers import LlamaConfig

    tconf = teacher.config
    vocab = teacher.get_output_embeddings().weight.shape[0]
    positions = getattr(tconf, "max_position_embeddings", None) or getattr(tconf, "n_positions", None) or 2048
    heads = _heads_for(hidden)
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _encode(texts: list[str], tokenizer: Any, max_len: int):
    """All texts as one right-padded id tensor plus lengths (tokenised once, up front)."""
    import torch

    encoded = [ids[:max_len] for ids in tokenizer(texts)["input_ids"]]
    encoded = [ids for ids in encoded if len(ids) >= 2]  # one token predicts nothing
    if not encoded:
        raise ConfigError("quantize.distill_dataset: every text is shorter than two tokens", hint=DATASET_FIX)
    width = max(len(ids) for ids in encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    data = torch.full((len(encoded), width), pad, dtype=torch.long)
    for row, ids in enumerate(encoded):
        data[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    lengths = torch.tensor([len(ids) for ids in encoded])
    return data, lengths


def distill_loss(student_logits, teacher_logits, labels, mask):
    """(total, kl, ce) over the positions that predict a real next token."""
    import torch.nn.functional as F

    valid = mask[:, 1:].bool()
    s = student_logits[:, :-1][valid]
    t = teacher_logits[:, :-1][valid]
    y = labels[:, 1:][valid]
    kl = F.kl_div(
        F.log_softmax(s / TEMPERATURE, dim=-1), F.log_softmax(t / TEMPERATURE, dim=-1), log_target=True, reduction="batchmean"
    ) * (TEMPERATURE**2)
    ce = F.cross_entropy(s, y)
    return ALPHA * kl + (1 - ALPHA) * ce, kl, ce


class Distill:
    name = "distill"
    summary = "train a smaller Llama student on the teacher's soft labels (quantize.distill_*)"

    def applies_to(self, model: Any) -> str | None:
        if model.get_output_embeddings() is None:
            return "it has no output head to take soft labels from"
        return None

    def check(self, params: QuantizeParams) -> None:
        read_texts(params.distill_dataset)

    def quantize(self, src_dir: Path, out_dir: Path, params: QuantizeParams, progress: Progress) -> MethodReport:
        import torch
        from transformers import LlamaForCausalLM

        texts = read_texts(params.distill_dataset)
        teacher_loaded = load_hf_dir(src_dir)
        teacher, tokenizer = teacher_loaded.model, teacher_loaded.tokenizer
        teacher.eval()
        config = student_config(teacher, tokenizer, hidden=params.distill_hidden_size, layers=params.distill_layers)
        torch.manual_seed(params.seed)
        student = LlamaForCausalLM(config)
        data, lengths = _encode(texts, tokenizer, min(MAX_TOKENS, config.max_position_embeddings))
        teacher_params = sum(p.numel() for p in teacher.parameters())
        student_params = sum(p.numel() for p in student.parameters())
        progress(
            f"{self.name}: student {student_params:,} params ({student_params / teacher_params:.0%} of the teacher), "
            f"{len(data)} texts, {params.distill_steps} steps"
        )

        steps = params.distill_steps
        warmup = max(1, int(steps * WARMUP_FRACTION))
        optimiser = torch.optim.AdamW(student.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser,
            lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))),
        )
        generator = torch.Generator().manual_seed(params.seed)
        every = max(1, steps // 10)
        first_loss = None
        recent: list[float] = []
        started = time.monotonic()
        student.train()
        for step in range(1, steps + 1):
            idx = torch.randint(len(data), (min(BATCH_SIZE, len(data)),), generator=generator)
            width = int(lengths[idx].max())
            ids = data[idx, :width]
            mask = (torch.arange(width)[None, :] < lengths[idx][:, None]).long()
            with torch.no_grad():
                teacher_logits = teacher(input_ids=ids, attention_mask=mask).logits
            student_logits = student(input_ids=ids, attention_mask=mask).logits
            loss, kl, ce = distill_loss(student_logits, teacher_logits, ids, mask)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            value = loss.item()
            first_loss = value if first_loss is None else first_loss
            recent = (recent + [value])[-every:]
            if step % every == 0 or step == steps:
                progress(
                    f"{self.name}: step {step}/{steps} loss {value:.4f} (kl {kl.item():.4f}, ce {ce.item():.4f}) "
                    f"{time.monotonic() - started:.0f}s"
                )
        student.eval()
        student.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        files = tuple(sorted(p.name for p in out_dir.glob("*.safetensors")))
        return MethodReport(
            parameters={
                "dataset": str(params.distill_dataset),
                "dataset_sha256": hashlib.sha256(params.distill_dataset.read_bytes()).hexdigest(),
                "steps": steps,
                "hidden_size": params.distill_hidden_size,
                "layers": params.distill_layers,
                "temperature": TEMPERATURE,
                "alpha_kl": ALPHA,
                "batch_size": BATCH_SIZE,
                "learning_rate": LEARNING_RATE,
                "seed": params.seed,
            },
            files=files,
            measured={
                "student_params": student_params,
                "teacher_params": teacher_params,
                "initial_loss": round(first_loss, 6),
                "final_loss": round(sum(recent) / len(recent), 6),
                "train_seconds": round(time.monotonic() - started, 2),
            },
        )

    def load(self, artifact_dir: Path, manifest: dict[str, Any]) -> LoadedModel:
        return load_hf_dir(artifact_dir, manifest=manifest)


QUANTIZER = Distill()
