"""The real ``lm-eval run`` command line's output, gated as a team would: the options a team
passes to lm-eval (``--output_path FILE.json``, ``--predict_only``, ``--apply_chat_template``,
``--num_fewshot`` with ``--seed``, ``--gen_kwargs``) and what happens to its files afterwards
(a samples file lost, gzip'd). Each is read as lm-eval meant it, or refused with one line
that names the side and the lm-eval option to change.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error, run_cli
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import samples_files, suite_gate_config

pytestmark = pytest.mark.slow

SURFACE = "lm-eval-cli"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = write_suite(tmp_path_factory.mktemp("lm-eval-cli") / "repo", count=20)
    (root / ".llm-gitops.yaml").write_text(suite_gate_config(eval_extra="  batch_size: 8\n"))
    return root


@pytest.fixture(scope="module")
def lm_eval(repo, tmp_path_factory):
    """``lm_eval(model_dir, name, *options)``: run the lm-eval CLI on the suite's two tasks
    with ``--output_path OUT/<name> --log_samples`` (``name`` ending in .json: that file
    form); returns the --output_path given. Runs are made once per module."""
    root = tmp_path_factory.mktemp("lm-eval-cli-out")
    made: dict[tuple, Path] = {}

    def run(model: Path, name: str, *options: str, dtype: str = "float32") -> Path:
        key = (str(model), name, options, dtype)
        if key not in made:
            out = root / name
            done = subprocess.run(
                [str(Path(sys.executable).parent / "lm-eval"), "run", "--model", "hf",
                 "--model_args", f"pretrained={model},dtype={dtype}", "--tasks", "add_em,add_mc",
                 "--include_path", ".", "--output_path", str(out), "--log_samples", "--device", "cpu",
                 "--batch_size", "8", *options],
                cwd=repo / "tasks", capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            made[key] = out
        return made[key]

    return run


def gate(repo: Path, *args: str):
    shutil.rmtree(repo / ".llm-gitops", ignore_errors=True)
    run = run_cli(["gate", "--no-cache", *args], cwd=repo, timeout_s=300)
    report = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text()) if run.code in (0, 1) else None
    return run, report


def checks(report: dict) -> dict[str, tuple]:
    return {c["metric"]: (c["verdict"], c["candidate"], c["baseline"], c["n"]) for c in report["checks"]}


def refused(repo: Path, case: str, culprit: list[str], *args: str):
    shutil.rmtree(repo / ".llm-gitops", ignore_errors=True)
    return expect_clean_error(["gate", "--no-cache", *args], cwd=repo, culprit=culprit, surface=SURFACE, case=case,
                              timeout_s=300)


def test_output_path_given_as_a_json_file_is_passed_to_the_gate_as_is(repo, lm_eval, example_models):
    """``lm_eval --output_path OUT/base.json`` writes OUT/base_<date>.json: the same PATH, or
    OUT, gives that run to the gate, as the dated file does; two runs there are refused."""
    base = lm_eval(example_models.good, "file/base.json")
    [written] = base.parent.glob("base_*.json")
    cand = lm_eval(example_models.regressed, "regressed")
    verdicts = []
    for given in (base, base.parent, written):
        run, report = gate(repo, "--candidate-results", str(cand), "--baseline-results", str(given))
        assert run.code == 1, run.err
        assert report["models"]["baseline"]["source"] == str(written)
        verdicts.append(checks(report))
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert {v[0] for v in verdicts[0].values()} == {"fail"}

    second = written.with_name("base_2020-01-01T00-00-00.000001.json")
    shutil.copy(written, second)
    try:
        refused(repo, "output-path-file-two-runs", [f"--baseline-results {base}: names 2 lm-eval runs",
                                                    written.name, second.name, "pass the one to gate on"],
                "--candidate-results", str(cand), "--baseline-results", str(base))
    finally:
        second.unlink()


def test_where_each_side_ran_is_reported_and_a_precision_difference_noted(repo, lm_eval, example_models):
    """lm-eval's config records its device and dtype: the report shows them for a results
    side, and the resolved ones for a model evaluated here. A candidate scored in bfloat16
    against a float32 baseline is noted (part of the difference may be the precision's);
    the same precision on both sides is not."""
    bf16 = lm_eval(example_models.good, "good-bf16", dtype="bfloat16")
    fp32 = lm_eval(example_models.regressed, "regressed")
    for baseline in (["--baseline", str(example_models.regressed)], ["--baseline-results", str(fp32)]):
        run, report = gate(repo, "--candidate-results", str(bf16), *baseline, "--no-perf")
        assert run.code == 0, run.err
        models = report["models"]
        assert (models["candidate"]["device"], models["candidate"]["dtype"]) == ("cpu", "bfloat16")
        assert (models["baseline"]["device"], models["baseline"]["dtype"]) == ("cpu", "float32")
        assert "the candidate was evaluated in bfloat16, the baseline in float32: precisions do not score " \
               "bit-identically, so part of the difference may be theirs" in report["notes"]
        markdown = (repo / ".llm-gitops" / "reports" / "report.md").read_text()
        assert "evaluated on cpu in bfloat16" in markdown and "evaluated on cpu in float32" in markdown
    run, report = gate(repo, "--candidate-results", str(fp32), "--baseline", str(example_models.good), "--no-perf")
    assert run.code == 1, run.err
    assert report["models"]["candidate"]["dtype"] == report["models"]["baseline"]["dtype"] == "float32"
    assert not [n for n in report["notes"] if "precisions" in n]


def test_greedy_decoding_asked_for_as_temperature_0_is_the_task_s_own(repo, lm_eval, example_models):
    """``--gen_kwargs temperature=0`` is how vLLM and API runs are usually asked for greedy
    decoding: beside the task's do_sample: false it changes nothing, so the results are
    gated as the task's. A temperature that would sample elsewhere is still refused."""
    base = lm_eval(example_models.regressed, "regressed")
    greedy = lm_eval(example_models.good, "temperature-0", "--gen_kwargs", "temperature=0")
    run, report = gate(repo, "--candidate-results", str(greedy), "--baseline-results", str(base))
    assert run.code == 0, run.err
    assert {v[0] for v in checks(report).values()} == {"pass"}
    warm = lm_eval(example_models.good, "temperature-0.7", "--gen_kwargs", "temperature=0.7")
    [results] = warm.rglob("results_*.json")
    refused(repo, "gen-kwargs-temperature-0.7", [f"--candidate-results {results}: task 'add_em' was run with "
                                                 "generation_kwargs = ", '"temperature": 0.7',
                                                 "re-run lm-eval without --gen_kwargs"],
            "--candidate-results", str(warm), "--baseline-results", str(base))


def test_a_predict_only_run_is_refused_as_one(repo, lm_eval, example_models):
    """``--predict_only`` saves answers with the placeholder metric 'bypass' (null scores):
    the error says so, not that the file was edited."""
    pred = lm_eval(example_models.good, "predict-only", "--predict_only")
    [results] = pred.rglob("results_*.json")
    refused(repo, "predict-only", [f"--candidate-results {results}: was made with --predict_only",
                                   "re-run lm-eval without --predict_only"],
            "--candidate-results", str(pred), "--baseline", str(example_models.good), "--no-perf")


def test_prompt_options_are_blamed_on_the_side_that_used_them(repo, lm_eval, example_models, tmp_path):
    """A candidate run with ``--apply_chat_template`` against a plain baseline: the error
    names the candidate's file (the one with the option), not the baseline's."""
    chat_model = tmp_path / "chat-model"
    shutil.copytree(example_models.good, chat_model)
    tokenizer_config = chat_model / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text())
    settings["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tokenizer_config.write_text(json.dumps(settings))
    chat = lm_eval(chat_model, "chat", "--apply_chat_template")
    [chat_results] = chat.rglob("results_*.json")
    plain = lm_eval(example_models.regressed, "regressed")
    refused(repo, "chat-template-candidate", [
        f"--candidate-results {chat_results}: was evaluated with a chat template (--apply_chat_template)",
        "the baseline with no prompt options"], "--candidate-results", str(chat), "--baseline-results",
        str(plain))


def test_a_lost_or_compressed_samples_file_is_said_to_be_one(repo, lm_eval, example_models, tmp_path):
    """A run with --log_samples whose samples file of one task is not beside the results (an
    interrupted run, an artifact copied in part) is not "run without --log_samples"; gzip'd
    files are named as such."""
    source = lm_eval(example_models.regressed, "regressed")
    good = ["--baseline", str(example_models.good), "--no-perf"]  # refused before anything is evaluated

    lost = tmp_path / "lost"
    shutil.copytree(source, lost)
    [results] = lost.rglob("results_*.json")
    samples = samples_files(results)
    samples["add_mc"].unlink()
    refused(repo, "samples-lost", [f"--candidate-results {results}: has no samples file for task 'add_mc'",
                                   "though its run logged samples", samples["add_em"].name, "interrupted"],
            "--candidate-results", str(lost), *good)

    packed = tmp_path / "packed"
    shutil.copytree(source, packed)
    [results] = packed.rglob("results_*.json")
    for path in [results, *samples_files(results).values()]:
        with path.open("rb") as src, gzip.open(path.with_name(path.name + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    samples_em = samples_files(results)["add_em"]
    samples_em.unlink()
    refused(repo, "samples-gzipped", [f"--candidate-results {samples_em}.gz: is gzip-compressed", "gunzip"],
            "--candidate-results", str(packed), *good)
    for path in [results, *samples_files(results).values()]:
        path.unlink(missing_ok=True)
    refused(repo, "results-gzipped-dir", [f"--candidate-results {packed}: holds lm-eval's results gzip-compressed",
                                          "gunzip"], "--candidate-results", str(packed), *good)
    refused(repo, "results-gzipped-file", [f"--candidate-results {results}.gz: is gzip-compressed", "gunzip"],
            "--candidate-results", f"{results}.gz", *good)


def test_few_shot_runs_with_other_seeds_are_refused_naming_the_seed(repo, lm_eval, example_models, tmp_path):
    """``--num_fewshot 1`` on both sides, one with ``--seed 42``: the examples were drawn with
    other seeds; the error says so (and which), not "another task config"."""
    here = tmp_path / "repo"
    shutil.copytree(repo, here, ignore=shutil.ignore_patterns(".llm-gitops"))
    (here / ".llm-gitops.yaml").write_text(suite_gate_config(eval_extra="  batch_size: 8\n  num_fewshot: 1\n"))
    base = lm_eval(example_models.good, "fewshot", "--num_fewshot", "1")
    cand = lm_eval(example_models.regressed, "fewshot-seed-42", "--num_fewshot", "1", "--seed", "42")
    [base_results] = base.rglob("results_*.json")
    refused(here, "few-shot-seed", [f"--baseline-results {base_results}: task 'add_em' drew its 1-shot examples with "
                                    "seed 1234", "with seed 42", "the same lm-eval --seed"],
            "--candidate-results", str(cand), "--baseline-results", str(base))


def test_gen_kwargs_max_gen_toks_points_at_eval_max_gen_toks(repo, lm_eval, example_models, tmp_path):
    """``--gen_kwargs max_gen_toks=8`` overrides the YAML's 4: refused, naming --gen_kwargs and
    eval.max_gen_toks: 8; with that setting the run is gated as the models are in-process."""
    longer = lm_eval(example_models.good, "max-gen-toks-8", "--gen_kwargs", "max_gen_toks=8")
    refused(repo, "gen-kwargs-max-gen-toks", ["--candidate-results", "generation_kwargs", "without --gen_kwargs",
                                              "set eval.max_gen_toks: 8"],
            "--candidate-results", str(longer), "--baseline", str(example_models.regressed), "--no-perf")
    here = tmp_path / "repo"
    shutil.copytree(repo, here, ignore=shutil.ignore_patterns(".llm-gitops"))
    (here / ".llm-gitops.yaml").write_text(suite_gate_config(eval_extra="  batch_size: 8\n  max_gen_toks: 8\n"))
    mixed, by_mixed = gate(here, "--candidate-results", str(longer), "--baseline", str(example_models.regressed),
                           "--no-perf")
    models, by_models = gate(here, "--candidate", str(example_models.good), "--baseline", str(example_models.regressed),
                             "--no-perf")
    assert mixed.code == models.code == 0, (mixed.err, models.err)
    assert checks(by_mixed) == checks(by_models)
