"""Big libraries imported with the collector off and frozen after; models never frozen."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

from llm_gitops.gc_pause import import_libraries
from tests.evaluation.conftest import write_suite


@pytest.fixture
def fresh_module(tmp_path, monkeypatch):
    """A module no one has imported yet, recording whether the collector ran during its import."""
    name = f"llm_gitops_gc_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("import gc\nCOLLECTOR_WAS_ON = gc.isenabled()\nTABLE = [[i] for i in range(50_000)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    gc.unfreeze()  # give the test process's objects back to the collector


class Cycle:
    def __init__(self):
        self.me = self


def test_imports_with_the_collector_off_then_freezes_what_was_built(fresh_module):
    assert gc.isenabled()
    garbage = Cycle()
    dead = weakref.ref(garbage)
    del garbage  # unreachable, but only a collection frees a cycle
    frozen_before = gc.get_freeze_count()

    import_libraries(fresh_module)

    module = sys.modules[fresh_module]
    assert module.COLLECTOR_WAS_ON is False
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + 50_000  # the module's table among them
    assert dead() is None  # what was garbage before was collected, not frozen forever


def test_nothing_is_frozen_when_everything_is_imported(fresh_module):
    import_libraries(fresh_module)
    gc.unfreeze()
    import_libraries(fresh_module, "json")
    assert gc.get_freeze_count() == 0


def test_a_failed_import_gives_the_collector_back(fresh_module, tmp_path):
    (tmp_path / "llm_gitops_gc_broken.py").write_text("raise ImportError('no such library here')\n")
    with pytest.raises(ImportError, match="no such library here"):
        import_libraries("llm_gitops_gc_broken")
    assert gc.isenabled()
    gc.disable()
    try:
        import_libraries(fresh_module)
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


# In a fresh process, as the CLI runs: the first eval imports lm-eval, transformers and
# torch frozen; the model it loads is not, so closing the resident models frees it.
RUNNER = """
import gc, sys, weakref
from pathlib import Path
from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.resident import ResidentModels
from llm_gitops.evaluation.runner import run_eval
import llm_gitops.models.loader as loader
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel

model_dir, root = Path(sys.argv[1]), Path(sys.argv[2])
loaded = []
real_load = loader.load_model
def load(path, **kw):
    model = real_load(path, **kw)
    model.model.cycle = [model.model]  # only a collection can free it now, and never a frozen one
    loaded.append(weakref.ref(model.model))
    return model
loader.load_model = load
settings = EvalSection(tasks=["tasks/add_mc.yaml"], batch_size=4, seed=3)
model = ResolvedModel(model_dir, model_digest(model_dir), "tiny", "local")
with ResidentModels() as resident:
    run_eval(model, settings, base_dir=root, cache_root=None, order_slice=(0, 4), resident=resident)
    assert len(loaded) == 1 and loaded[0]() is not None
print("frozen", gc.get_freeze_count(), "model freed", loaded[0]() is None)
"""


def test_the_first_eval_freezes_the_libraries_not_the_model(tiny_model_dir: Path, tmp_path: Path):
    root = write_suite(tmp_path / "r", count=8)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(RUNNER), str(tiny_model_dir), str(root)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    assert int(words[words.index("frozen") + 1]) > 500_000  # torch, transformers, lm-eval
    assert proc.stdout.strip().endswith("model freed True")


def test_a_quantizer_s_load_freezes_the_libraries_once_and_never_a_held_model(tiny_model_dir: Path):
    # load_hf_dir is where the quantizers load their source: the first load imports and
    # freezes; a second load, while the first model is held, finds everything imported.
    script = ("import gc, sys\nfrom llm_gitops.models.loaded import load_hf_dir\n"
              "first = load_hf_dir(sys.argv[1])\nafter_first = gc.get_freeze_count()\n"
              "second = load_hf_dir(sys.argv[1])\nprint(after_first, gc.get_freeze_count())\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tiny_model_dir)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after_first, after_second = (int(word) for word in proc.stdout.split()[-2:])
    assert after_first > 300_000 and after_second == after_first
