"""Local lm-eval task suites written into tmp dirs: the example's two task shapes
(multiple choice ``add_mc``, generation ``add_em``) on a few fixed-width sums."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MC_YAML = """\
task: add_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""

EM_YAML = """\
task: add_em
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
target_delimiter: ""
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 4
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


# A loglikelihood task on add_em's documents: lm-eval's per-sample "perplexity" is the
# document's log-likelihood, and the metric is exp(-mean) of them (lower is better).
LL_YAML = """\
task: add_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/add_em.jsonl
test_split: test
output_type: loglikelihood
doc_to_text: "{{question}}"
doc_to_target: "{{answer}}"
target_delimiter: ""
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""

MISS_TASK = "tasks/add_miss.yaml"
MISS_MODULE = """\
def miss_rate(references, predictions, **kwargs):
    # Reported as miss@1, a name lm-eval has not registered: only the run says which way is better.
    return {"miss@1": float(references[0].strip() != predictions[0].strip())}
"""


def write_miss_task(root: Path, *, aggregation: str = "mean") -> None:
    """MISS_TASK beside write_suite's tasks: add_em's documents, scored by the metric function
    ``!function miss.miss_rate`` (higher_is_better: false), which reports ``miss@1``."""
    tasks = root / "tasks"
    (tasks / "add_miss.yaml").write_text(EM_YAML.format(data="data/add_em.jsonl").replace(
        "task: add_em", "task: add_miss").replace(
        "  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n",
        f"  - metric: !function miss.miss_rate\n    aggregation: {aggregation}\n    higher_is_better: false\n"))
    (tasks / "miss.py").write_text(MISS_MODULE)


def sums(count: int, offset: int = 0) -> list[tuple[int, int]]:
    return [((7 * i + offset) % 100, (13 * i + 3 * offset) % 100) for i in range(count)]


def write_suite(root: Path, *, count: int = 30, data_dir: str = "data") -> Path:
    """tasks/add_mc.yaml and tasks/add_em.yaml with data under tasks/<data_dir>/; returns root."""
    tasks = root / "tasks"
    (tasks / data_dir).mkdir(parents=True, exist_ok=True)
    with (tasks / data_dir / "add_mc.jsonl").open("w") as fh:
        for a, b in sums(count):
            s = a + b
            choices = [f"{s:03d}", f"{s + 1:03d}", f"{abs(s - 10):03d}", f"{s + 11:03d}"]
            fh.write(json.dumps({"question": f"{a:02d}+{b:02d}=", "choices": choices, "label": 0}) + "\n")
    with (tasks / data_dir / "add_em.jsonl").open("w") as fh:
        for a, b in sums(count, 1):
            fh.write(json.dumps({"question": f"{a:02d}+{b:02d}=", "answer": f"{a + b:03d}"}) + "\n")
    (tasks / "add_mc.yaml").write_text(MC_YAML.format(data=f"{data_dir}/add_mc.jsonl"))
    (tasks / "add_em.yaml").write_text(EM_YAML.format(data=f"{data_dir}/add_em.jsonl"))
    return root


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    return write_suite(tmp_path / "repo")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tests.support.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")
