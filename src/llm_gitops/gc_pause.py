"""Big libraries imported without the garbage collector, then kept out of its way.

Importing torch, transformers (its ``modeling_utils`` alone: ~1,500 modules), lm-eval
or MLflow creates about a million objects that live until the process ends (modules,
classes, functions) and almost no garbage. Meanwhile CPython runs a full collection
each time the heap has grown by a quarter, every one a pass over all of it, and every
pass after the imports walks them again. Measured on a 2-core runner: a cold gate of
the example (7.6 s) spent 1.65 s in the collector, 1.4 s of it in 9 full passes that
found at most 182 unreachable objects each.

So :func:`import_libraries` collects what is garbage now (cheap: everything older is
frozen already), imports with the collector off, and freezes the result
(``gc.freeze``): later collections skip it. The freeze takes in whatever else is alive
at that moment, which is why it is called before a model is loaded (the eval runner,
``load_model``, ``load_hf_dir``: the first of them imports, the others find everything
imported and freeze nothing), never while one is held: a frozen model's reference
cycles would never be collected, and ``ResidentModels.close`` relies on collecting them
to give memory back.
"""

from __future__ import annotations

import gc
import importlib
import sys


def import_libraries(*modules: str) -> None:
    """Import ``modules`` (those not imported yet) with the collector off; freeze what they built."""
    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return
    enabled = gc.isenabled()
    gc.collect()  # nothing that is garbage now gets frozen
    gc.disable()
    try:
        for name in missing:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
