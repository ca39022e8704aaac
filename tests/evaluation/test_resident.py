"""Models kept loaded between a gate's looks: the memory rule on fakes, then the real runner."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.placement import cuda_devices
from llm_gitops.evaluation.resident import HEADROOM, ResidentModels, free_memory, weight_bytes
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.evaluation.conftest import write_suite

GB = 1 << 30
on_a_gpu = pytest.mark.skipif(cuda_devices() == 0, reason="needs a CUDA GPU")


class Loads:
    """Fake lm-eval models whose loading and unloading are recorded in order."""

    def __init__(self):
        self.events: list[str] = []

    def opener(self, name: str, fail: bool = False):
        @contextlib.contextmanager
        def open_lm():
            if fail:
                raise MemoryError(f"{name} does not fit")
            self.events.append(f"load {name}")
            try:
                yield f"lm-{name}"
            finally:
                self.events.append(f"unload {name}")

        return open_lm


def test_a_model_is_loaded_once_and_unloaded_at_close():
    loads = Loads()
    with ResidentModels(free=lambda _d: 100 * GB) as resident:
        for _ in range(3):
            assert resident.get(("a",), loads.opener("a"), device="cpu", need_bytes=lambda: GB) == "lm-a"
        assert resident.holds(("a",))
    assert loads.events == ["load a", "unload a"]
    assert not resident.holds(("a",))


def test_two_models_stay_loaded_when_memory_allows():
    loads = Loads()
    with ResidentModels(free=lambda _d: int(HEADROOM * GB)) as resident:
        for _ in range(2):
            resident.get(("a",), loads.opener("a"), device="cpu", need_bytes=lambda: GB)
            resident.get(("b",), loads.opener("b"), device="cpu", need_bytes=lambda: GB)
    assert loads.events == ["load a", "load b", "unload a", "unload b"]


@pytest.mark.parametrize("free", [int(HEADROOM * GB) - 1, None], ids=["too little", "unknown"])
def test_without_room_the_resident_model_is_unloaded_first(free):
    loads = Loads()
    with ResidentModels(free=lambda _d: free) as resident:
        resident.get(("a",), loads.opener("a"), device="cpu", need_bytes=lambda: GB)
        resident.get(("b",), loads.opener("b"), device="cpu", need_bytes=lambda: GB)
        assert resident.holds(("b",)) and not resident.holds(("a",))
    assert loads.events == ["load a", "unload a", "load b", "unload b"]


def test_an_exclusive_model_is_always_alone():
    loads = Loads()
    with ResidentModels(free=lambda _d: 100 * GB) as resident:
        resident.get(("a",), loads.opener("a"), device="cuda", need_bytes=lambda: GB)
        resident.get(("v",), loads.opener("v"), device="cuda", need_bytes=lambda: GB, exclusive=True)
        resident.get(("b",), loads.opener("b"), device="cuda", need_bytes=lambda: GB)
    assert loads.events == ["load a", "unload a", "load v", "unload v", "load b", "unload b"]


def test_a_model_that_fails_to_load_is_not_held():
    loads = Loads()
    with ResidentModels(free=lambda _d: 100 * GB) as resident:
        resident.get(("a",), loads.opener("a"), device="cpu", need_bytes=lambda: GB)
        with pytest.raises(MemoryError):
            resident.get(("b",), loads.opener("b", fail=True), device="cpu", need_bytes=lambda: GB)
        assert resident.holds(("a",)) and not resident.holds(("b",))
    assert loads.events == ["load a", "unload a"]


class CyclicModel:
    """A loaded model in a reference cycle (as lm-eval's wrappers and models can be): only a collection frees it."""

    def __init__(self):
        self.me = self


def test_a_model_in_a_reference_cycle_is_freed_before_the_next_loads_and_at_close():
    import weakref

    refs: list[weakref.ref] = []

    def opener():
        @contextlib.contextmanager
        def open_lm():
            assert all(ref() is None for ref in refs), "the unloaded model is still in memory"
            model = CyclicModel()
            refs.append(weakref.ref(model))
            yield model

        return open_lm

    with ResidentModels(free=lambda _d: 0) as resident:
        resident.get(("a",), opener(), device="cpu", need_bytes=lambda: GB)
        resident.get(("b",), opener(), device="cpu", need_bytes=lambda: GB)  # no room: a goes first
        assert refs[1]() is not None
    assert refs[1]() is None


def test_weights_and_memory_are_measured(tiny_model_dir: Path, tmp_path: Path):
    weights = [p for p in tiny_model_dir.iterdir() if p.suffix in (".safetensors", ".bin")]
    size = sum(p.stat().st_size for p in weights)
    model = ResolvedModel(tiny_model_dir, "sha256:" + "0" * 64, "tiny", "local")
    assert size > 0 and weight_bytes(model) == size
    adapter_dir = tmp_path / "adapter"
    adapter_dir.mkdir()
    (adapter_dir / "adapter_model.safetensors").write_bytes(b"x" * 10)
    adapter = ResolvedModel(adapter_dir, "sha256:" + "1" * 64, "lora", "adapter", base=model)
    assert weight_bytes(adapter) == size + 10
    free = free_memory("cpu")
    assert isinstance(free, int) and free > 0


@on_a_gpu
def test_free_gpu_memory_is_measured():
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    for device in ("cuda", "cuda:0"):
        free = free_memory(device)
        assert isinstance(free, int) and 0 < free <= total, (device, free, total)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=on_a_gpu)])
def test_the_runner_loads_once_across_looks_with_the_same_scores(tiny_model_dir: Path, tmp_path: Path, monkeypatch,
                                                                 device):
    import llm_gitops.models.loader as loader

    root = write_suite(tmp_path / "r", count=20)
    settings = EvalSection(tasks=["tasks/add_mc.yaml", "tasks/add_em.yaml"], batch_size=4, seed=3, device=device)
    model = ResolvedModel(tiny_model_dir, model_digest(tiny_model_dir), "tiny", "local")
    slices = [(0, 6), (6, 10)]
    unloaded = [run_eval(model, settings, base_dir=root, cache_root=None, order_slice=s) for s in slices]

    loaded: list[Path] = []
    real_load = loader.load_model
    monkeypatch.setattr(loader, "load_model", lambda path, **kw: loaded.append(path) or real_load(path, **kw))
    lines: list[str] = []
    with ResidentModels() as resident:
        kept = [run_eval(model, settings, base_dir=root, cache_root=None, order_slice=s, resident=resident,
                         progress=lines.append) for s in slices]
        assert len(loaded) == 1 and any("still loaded" in line for line in lines)
        assert any(line.endswith("(documents 6-10 of each task's random order)") for line in lines)
    for a, b in zip(unloaded, kept):
        for key in a.metrics:
            assert (a.metrics[key].doc_ids, a.metrics[key].scores) == (b.metrics[key].doc_ids, b.metrics[key].scores)
