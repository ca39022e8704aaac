"""Release records: content-addressed, tamper-evident, comparable."""

from __future__ import annotations

import json

import pytest

from llm_gitops.errors import ConfigError
from llm_gitops.evaluation.results import MetricResult
from llm_gitops.release.record import RecordedEval, compare, load_release, release_from_build, write_release

DIGEST = "sha256:" + "ab" * 32


def build_json(tmp_path, *, digest=DIGEST, model="sha256:" + "11" * 32):
    path = tmp_path / "build.json"
    path.write_text(json.dumps({
        "schema": "llm-gitops/build/v1", "image": "127.0.0.1:5000/adder", "tag": "t1", "digest": digest,
        "reference": f"127.0.0.1:5000/adder@{digest}" if digest else "127.0.0.1:5000/adder:t1",
        "model": {"digest": model, "source": "./model"}, "recorded_at": "2026-12-02T10:00:00Z",
        "labels": {"io.llm-gitops.quantization.method": "int8-dynamic", "org.opencontainers.image.revision": "c0ffee"},
    }))
    return path


def report_json(tmp_path, em=0.98, verdict="pass"):
    path = tmp_path / f"report-{em}.json"
    path.write_text(json.dumps({"verdict": verdict, "summary": f"{verdict} - ok", "checks": [
        {"metric": "add_em/exact_match", "candidate": em}, {"metric": "add_mc/acc", "candidate": 1.0}]}))
    return path


def test_release_round_trips_with_a_content_address(tmp_path):
    release = release_from_build(build_json(tmp_path), report_path=report_json(tmp_path), source_commit=None)
    assert release.id.startswith("r-") and len(release.id) == 14
    assert release.quantization == "int8-dynamic" and release.source_commit == "c0ffee"
    assert release.gate.metrics == {"add_em/exact_match": 0.98, "add_mc/acc": 1.0}
    path = write_release(release, tmp_path / "releases")
    assert path.name == f"{release.id}.json"
    assert load_release(tmp_path / "releases", release.id) == release
    # Same inputs, same id: writing again changes nothing.
    again = release_from_build(build_json(tmp_path), report_path=report_json(tmp_path), source_commit=None)
    assert again.id == release.id


def test_an_edited_release_is_refused(tmp_path):
    release = release_from_build(build_json(tmp_path), report_path=None, source_commit="abc")
    path = write_release(release, tmp_path / "releases")
    data = json.loads(path.read_text())
    data["image"] = "127.0.0.1:5000/evil@sha256:" + "cd" * 32
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="does not match its id"):
        load_release(tmp_path / "releases", release.id)


@pytest.mark.parametrize("content, message", [
    ("{", "not a readable release record"),
    ("[]", "must be a JSON object"),
    ('{"schema": "llm-gitops/release/v1"}', "not a release record"),
])
def test_broken_release_files_are_clean_errors(tmp_path, content, message):
    (tmp_path / "r-0123456789ab.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_release(tmp_path, "r-0123456789ab")


def test_release_ids_are_checked_before_any_path_is_built(tmp_path):
    with pytest.raises(ConfigError, match="is not a release id"):
        load_release(tmp_path, "../../etc/passwd")


def test_an_unpushed_build_cannot_be_released(tmp_path):
    with pytest.raises(ConfigError, match="no pushed digest"):
        release_from_build(build_json(tmp_path, digest=None), report_path=None, source_commit=None)


def test_compare_names_what_changes(tmp_path):
    old = release_from_build(build_json(tmp_path), report_path=report_json(tmp_path, 0.95), source_commit="a")
    new = release_from_build(build_json(tmp_path, digest="sha256:" + "ef" * 32, model="sha256:" + "22" * 32),
                             report_path=report_json(tmp_path, 0.98), source_commit="b")
    change = compare(old, new)
    assert change.image_changed and change.model_changed
    text = "\n".join(change.lines())
    assert f"`{old.id}` -> `{new.id}`" in text
    assert "add_em/exact_match: 0.95 -> 0.98 (+0.03)" in text
    first = "\n".join(compare(None, new).lines())
    assert "first release of this environment" in first
    assert "- gate: pass - ok" in change.lines()


def recorded(scores=(1.0, 0.0, 1.0)) -> RecordedEval:
    metric = MetricResult("add_em", "exact_match", sum(scores) / len(scores), None, len(scores), True,
                          tuple(range(len(scores))), tuple(scores))
    return RecordedEval(model_digest="sha256:" + "11" * 32, harness_version="0.4.13",
                        settings={"seed": 1, "sampling": "random", "num_fewshot": 0, "max_gen_toks": 5,
                                  "split_sizes": {"add_em": 500}},
                        task_configs={"add_em": "sha256:" + "33" * 32}, metrics={metric.key: metric.to_json()})


def test_a_recorded_eval_is_part_of_the_content_address(tmp_path):
    bare = release_from_build(build_json(tmp_path), report_path=report_json(tmp_path), source_commit=None)
    with_eval = release_from_build(build_json(tmp_path), report_path=report_json(tmp_path), source_commit=None,
                                   recorded_eval=recorded())
    assert with_eval.id != bare.id
    assert "eval" not in bare.content()  # releases recorded before evals were keep their ids
    write_release(with_eval, tmp_path / "releases")
    loaded = load_release(tmp_path / "releases", with_eval.id)
    assert loaded == with_eval and loaded.eval.documents == 3
    assert "- recorded eval (for smoke evals): 3 documents per task of add_em" in compare(None, loaded).lines()
    # One recorded score changed by hand: the release no longer loads.
    path = tmp_path / "releases" / f"{with_eval.id}.json"
    data = json.loads(path.read_text())
    data["eval"]["metrics"]["add_em/exact_match"]["samples"]["scores"][1] = 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="does not match its id"):
        load_release(tmp_path / "releases", with_eval.id)


def test_a_release_too_large_for_its_file_is_refused(tmp_path):
    huge = recorded(scores=tuple(float(i % 2) for i in range(120_000)))
    release = release_from_build(build_json(tmp_path), report_path=None, source_commit=None, recorded_eval=huge)
    with pytest.raises(ConfigError, match="--eval-docs"):
        write_release(release, tmp_path / "releases")
    assert not (tmp_path / "releases").exists()
