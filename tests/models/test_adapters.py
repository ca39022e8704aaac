"""LoRA/PEFT adapters as candidates: resolved with their base, validated against it,
digested with it, evaluated through lm-eval's ``peft=`` and loaded merged for bench/serve.

The adapter is a real LoRA trained in seconds on the example model: it teaches the
adder to answer one more than the sum, so its outputs visibly differ from the base's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection, ModelSourceSpec
from llm_gitops.errors import ModelSourceError
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.models.adapters import base_source
from llm_gitops.models.digest import model_digest
from llm_gitops.models.loader import load_model
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.sources import resolve_model
from tests.corpus.harness import expect_clean_error

pytestmark = pytest.mark.slow

PROMPTS = ["12+34=", "07+45=", "99+99=", "50+25="]


def train_lora(base_dir: Path, out_dir: Path, *, steps: int = 60) -> Path:
    """A LoRA on q_proj/v_proj that shifts every answer by one (a few seconds on a CPU)."""
    import random

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    rng = random.Random(0)
    texts = []
    for _ in range(64):
        a, b = rng.randrange(100), rng.randrange(100)
        texts.append(f"{a:02d}+{b:02d}={a + b + 1:03d}\n")
    batch = tokenizer(texts, return_tensors="pt")
    labels = batch["input_ids"].clone()
    labels[:, :6] = -100  # loss on the answer only
    # At 2e-2 the loss stalled near 0.6 on some builds of the example model (the shift never
    # learnt); at 5e-3 it reaches 0.001 and shifts 35 of 40 held-out sums.
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    model.train()
    # One thread: on a shared CI machine, more threads than free cores is 5x slower here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optim.step()
            optim.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(out_dir)
    return out_dir


def greedy(loaded, prompts=PROMPTS) -> list[str]:
    import torch

    out = []
    for prompt in prompts:
        ids = loaded.tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            gen = loaded.model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=loaded.tokenizer.pad_token_id)
        out.append(loaded.tokenizer.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
    return out


@pytest.fixture(scope="module")
def repo(example_models, tmp_path_factory) -> Path:
    """A repo with the example model, its tasks, and a LoRA trained on it."""
    root = tmp_path_factory.mktemp("adapter-repo")
    shutil.copytree(example_models.good, root / "model")
    shutil.copytree(example_models.repo / "tasks", root / "tasks")
    shutil.copytree(example_models.repo / "data", root / "data")
    train_lora(root / "model", root / "adapter")
    config = json.loads((root / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(root / "model")  # what peft recorded at training
    (root / ".llm-gitops.yaml").write_text(
        "version: 1\nmodels:\n  candidate: {source: ./adapter, base: ./model}\n"
        "eval:\n  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]\n  limit: 20\n  batch_size: 20\n  max_gen_toks: 5\n"
    )
    return root


def test_an_adapter_resolves_with_its_base(repo):
    adapter = resolve_model("./adapter", base_dir=repo)
    base = resolve_model("./model", base_dir=repo)
    assert adapter.kind == "adapter" and (adapter.base.digest, adapter.base.path) == (base.digest, base.path)
    assert adapter.digest != base.digest and adapter.digest != model_digest(repo / "adapter")
    assert adapter.source == f"./adapter (base {repo / 'model'})"
    # The base named in the spec wins over adapter_config.json's, and gives the same model here.
    explicit = resolve_model(ModelSourceSpec(source="./adapter", base="./model"), base_dir=repo)
    assert explicit.digest == adapter.digest
    # A changed adapter is another model.
    other = repo.parent / "adapter-copy"
    shutil.copytree(repo / "adapter", other)
    weights = other / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert resolve_model(str(other), base_dir=repo).digest != adapter.digest


def test_the_adapter_changes_the_outputs_and_loads_merged(repo):
    adapter = resolve_model("./adapter", base_dir=repo)
    base_out = greedy(load_model(repo / "model"))
    merged_out = greedy(load_model(adapter.path))  # what bench and serve get
    assert base_out != merged_out, (base_out, merged_out)
    shifted = sum(int(m[:3]) == int(b[:3]) + 1 for b, m in zip(base_out, merged_out) if m[:3].isdigit() and b[:3].isdigit())
    assert shifted >= 2, (base_out, merged_out)


def test_the_eval_of_the_adapter_equals_the_eval_of_the_merged_model(repo, tmp_path):
    adapter = resolve_model("./adapter", base_dir=repo)
    merged = load_model(adapter.path)
    merged.model.save_pretrained(tmp_path / "merged")
    merged.tokenizer.save_pretrained(tmp_path / "merged")
    settings = EvalSection(tasks=["tasks/add_mc.yaml", "tasks/add_em.yaml"], limit=20, batch_size=20, max_gen_toks=5)
    via_peft = run_eval(adapter, settings, base_dir=repo, cache_root=None)
    plain = run_eval(ResolvedModel(tmp_path / "merged", model_digest(tmp_path / "merged"), "merged", "local"),
                     settings, base_dir=repo, cache_root=None)
    base = run_eval(resolve_model("./model", base_dir=repo), settings, base_dir=repo, cache_root=None)
    for key, metric in via_peft.metrics.items():
        assert metric.doc_ids == plain.metrics[key].doc_ids and len(metric.scores) == 20
        assert metric.scores == plain.metrics[key].scores, key
    assert via_peft.metrics["add_em/exact_match"].value < base.metrics["add_em/exact_match"].value


def test_eval_cli_on_the_adapter_candidate(repo, tmp_path):
    from tests.corpus.harness import run_cli

    run = run_cli(["eval", "--output", str(tmp_path / "out.json")], cwd=repo)
    assert run.code == 0, run.err
    results = json.loads((tmp_path / "out.json").read_text())
    assert results["model"]["digest"] == resolve_model("./adapter", base_dir=repo).digest
    assert set(results["metrics"]) == {"add_mc/acc", "add_em/exact_match"}


def test_bench_cli_measures_the_merged_adapter(repo, tmp_path):
    from tests.corpus.harness import run_cli

    config = tmp_path / ".llm-gitops.yaml"
    config.write_text("version: 1\nperf: {prompts: ['12+34='], max_new_tokens: 2, warmup: 0, repeats: 1, threads: 1}\n")
    out = tmp_path / "perf.json"
    run = run_cli(["bench", "--config", str(config), "--model", str(repo / "adapter"), "--output", str(out), "--no-cache"],
                  cwd=tmp_path)
    assert run.code == 0, run.err
    results = json.loads(out.read_text())
    assert results["model"]["digest"] == resolve_model(str(repo / "adapter"), base_dir=tmp_path).digest
    assert results["metrics"]["tokens_per_s"]["value"] > 0


# ----------------------------------------------------------------- bad adapters, through the CLI
def _adapter_copy(repo: Path, tmp_path: Path) -> Path:
    shutil.copytree(repo / "adapter", tmp_path / "adapter")
    return tmp_path / "adapter"


def _edit_config(adapter: Path, **changes) -> None:
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is _DROP:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))


_DROP = object()


def _tiny_base(tmp_path: Path) -> str:
    from tests.support.tiny_model import tiny_model_copy

    return str(tiny_model_copy(tmp_path / "tiny"))


CASES = {
    "config-not-json": (lambda a, t: (a / "adapter_config.json").write_text("{nope"), None, "adapter_config.json"),
    "config-a-list": (lambda a, t: (a / "adapter_config.json").write_text("[]"), None, "adapter_config.json"),
    "no-peft-type": (lambda a, t: _edit_config(a, peft_type=_DROP), None, "peft_type"),
    "targets-a-number": (lambda a, t: _edit_config(a, target_modules=5), None, "target_modules"),
    "rank-zero": (lambda a, t: _edit_config(a, r=0), None, "'r'"),
    "weights-missing": (lambda a, t: (a / "adapter_model.safetensors").unlink(), None, "without weights"),
    "weights-truncated": (lambda a, t: (a / "adapter_model.safetensors").write_bytes(b"\x10\0\0\0"), None,
                          "adapter_model.safetensors"),
    "base-missing": (lambda a, t: _edit_config(a, base_model_name_or_path=str(t / "gone")), None, str("gone")),
    "base-empty": (lambda a, t: _edit_config(a, base_model_name_or_path=""), None, "names no base model"),
    "target-not-in-base": (lambda a, t: _edit_config(a, target_modules=["q_proj", "w_pack"]), None, "w_pack"),
    "target-regex-matches-nothing": (lambda a, t: _edit_config(a, target_modules=r".*\.nothing"), None,
                                     "matches no layer"),
    "base-of-another-shape": (lambda a, t: None, "tiny", "does not fit the base"),
    "base-override-missing": (lambda a, t: None, "missing", "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_adapter_is_a_clean_error(case, repo, tmp_path):
    mutate, base, culprit = CASES[case]
    adapter = _adapter_copy(repo, tmp_path)
    mutate(adapter, tmp_path)
    base_line = {"tiny": f", base: {_tiny_base(tmp_path)}", "missing": f", base: {tmp_path / 'missing'}"}.get(base, "")
    config = tmp_path / "cfg" / ".llm-gitops.yaml"
    config.parent.mkdir()
    shutil.copytree(repo / "tasks", config.parent / "tasks")
    shutil.copytree(repo / "data", config.parent / "data")
    config.write_text(f"version: 1\nmodels:\n  candidate: {{source: {adapter}{base_line}}}\n"
                      "eval:\n  tasks: [tasks/add_em.yaml]\n")
    expect_clean_error(["eval", "--config", str(config)], cwd=config.parent, culprit=culprit, surface="model",
                       case=f"adapter-{case}", watch=tmp_path)


def test_base_on_a_whole_model_is_an_error(repo):
    with pytest.raises(ModelSourceError, match="'base' applies only to adapter directories"):
        resolve_model(ModelSourceSpec(source="./model", base="./model"), base_dir=repo)


def test_base_source_forms(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert base_source(tmp_path / "a", {"base_model_name_or_path": "../b"}, None) == str(tmp_path / "a" / "../b")
    assert base_source(tmp_path / "a", {"base_model_name_or_path": "meta-llama/Llama-3.1-8B"}, None) == \
        "hf:meta-llama/Llama-3.1-8B"
    assert base_source(tmp_path / "a", {"base_model_name_or_path": str(tmp_path / "b")}, None) == str(tmp_path / "b")
    assert base_source(tmp_path / "a", {"base_model_name_or_path": "x"}, "models:/base@prod") == "models:/base@prod"
