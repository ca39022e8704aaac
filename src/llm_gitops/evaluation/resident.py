"""Models kept loaded between the lm-eval calls of one gate (its sequential looks).

Each sequential look evaluates both models on a few more documents. Loading a model
for every look would cost one load per look per model: seconds for a small model,
minutes for a big one. ``ResidentModels`` keeps what the eval runner loaded until the
gate is done, as far as memory allows:

- before it loads another model while some are resident, it keeps them only if the
  memory left (RAM, within the cgroup's limit, for the CPU; the device's free memory
  for CUDA) is at least twice the new model's weight files: a 16-bit checkpoint loaded
  in float32 doubles, and the evaluation's activations need room too. Otherwise it
  unloads them first, and the looks (``gate.looks``) alternate the models' order so
  that the model loaded last is evaluated first at the next look: one load per look
  instead of two;
- a vLLM engine reserves most of the GPU for itself, so it is resident alone.

One ``ResidentModels`` serves one set of eval settings (one gate): the key is the
model and where it runs, not the settings that built its lm-eval wrapper.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path
from typing import Any, Callable, ContextManager

from llm_gitops.models.digest import digest_files, is_weight_file
from llm_gitops.models.resolved import ResolvedModel

# How much free memory a model needs beside those already loaded, per byte of its weight files.
HEADROOM = 2.0


def weight_bytes(model: ResolvedModel) -> int:
    """Bytes of the weight files ``model`` loads (an adapter's: its own and its base's)."""
    dirs = [model.path] + ([model.base.path] if model.base is not None else [])
    return sum(p.stat().st_size for d in dirs if Path(d).is_dir() for p in digest_files(d) if is_weight_file(p))


def _cgroup_room() -> int | None:
    """What the cgroup (v2) limit leaves to this process tree; None without a limit."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        used = int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def free_memory(device: str) -> int | None:
    """Bytes a new model could take on ``device`` now; None when it can't be told."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
        return int(torch.cuda.mem_get_info(index)[0])
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    if "MemAvailable" not in fields:
        return None
    available = int(fields["MemAvailable"].split()[0]) * 1024
    room = _cgroup_room()
    return available if room is None else min(available, room)


class ResidentModels:
    """lm-eval models kept loaded across ``runner.run_eval`` calls, until ``close``."""

    def __init__(self, free: Callable[[str], int | None] = free_memory):
        self._free = free
        # key -> (the lm-eval model, what unloads it, whether it must be alone)
        self._held: dict[tuple, tuple[Any, contextlib.ExitStack, bool]] = {}

    def __enter__(self) -> "ResidentModels":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def holds(self, key: tuple) -> bool:
        return key in self._held

    def get(self, key: tuple, open_lm: Callable[[], ContextManager[Any]], *, device: str,
            need_bytes: Callable[[], int], exclusive: bool = False) -> Any:
        """The model loaded under ``key``, loading it with ``open_lm`` if it is not resident.

        ``need_bytes()``: its weight files' size, asked only when it is loaded beside
        others. ``exclusive``: it must be alone (a vLLM engine). Others are unloaded first
        when it is exclusive or when there is no room for it beside them.
        """
        if key in self._held:
            return self._held[key][0]
        alone = exclusive or any(solo for _lm, _stack, solo in self._held.values())
        if self._held and (alone or not self._room(device, need_bytes)):
            self.close()
        with contextlib.ExitStack() as stack:
            lm = stack.enter_context(open_lm())
            self._held[key] = (lm, stack.pop_all(), exclusive)
        return lm

    def _unload(self) -> None:
        held, self._held = self._held, {}
        for _lm, stack, _solo in held.values():
            stack.close()

    def _room(self, device: str, need_bytes: Callable[[], int]) -> bool:
        free = self._free(device)
        return free is not None and free >= HEADROOM * need_bytes()

    def close(self) -> None:
        """Unload every resident model and give its memory back."""
        self._unload()
        # After _unload has returned: its frame held the last model until then, and a
        # model in a reference cycle is only freed by a collection that sees it unreferenced.
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
