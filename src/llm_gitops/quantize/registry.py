"""The compression methods, by the name the CLI and the config use.

Adding a method is one module with a ``QUANTIZER`` object that satisfies
``base.Quantizer``, one entry here, and one test file.
"""

from __future__ import annotations

from llm_gitops.errors import ConfigError
from llm_gitops.quantize import distill, int8_dynamic, int8_weight_only, prune
from llm_gitops.quantize.base import Quantizer

QUANTIZERS: dict[str, Quantizer] = {
    q.name: q for q in (int8_dynamic.QUANTIZER, int8_weight_only.QUANTIZER, prune.QUANTIZER, distill.QUANTIZER)
}


def get_quantizer(name: str) -> Quantizer:
    try:
        return QUANTIZERS[name]
    except KeyError:
        raise ConfigError(f"unknown quantize method {name!r}", hint=f"choose one of: {', '.join(QUANTIZERS)}") from None
