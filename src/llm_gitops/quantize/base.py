"""What every compression method provides, and the parameters they share.

A method is a module with one object that satisfies ``Quantizer`` and one entry in
``registry.QUANTIZERS``. ``artifact.build_artifact`` does everything around it (model
checks, temp dir, manifest, digest, atomic rename), so a method only turns a source
directory into model files and says how to load them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llm_gitops.config.schema import QuantizeSection
    from llm_gitops.models.loaded import LoadedModel

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default progress sink: say nothing."""


@dataclass(frozen=True)
class QuantizeParams:
    """The knobs of every method (each method reads the ones it needs).

    Built from the config's ``quantize`` section (``from_section``) so that CLI flags,
    the budget search and tests all pass the same thing.
    """

    sparsity: float = 0.3
    distill_dataset: Path | None = None
    distill_steps: int = 300
    distill_hidden_size: int = 64
    distill_layers: int = 2
    seed: int = 0

    @classmethod
    def from_section(cls, section: QuantizeSection, *, base_dir: Path, seed: int = 0) -> QuantizeParams:
        dataset = section.distill_dataset
        path = None
        if dataset is not None:
            path = Path(dataset).expanduser()
            path = path if path.is_absolute() else (Path(base_dir) / path).resolve()
        return cls(
            sparsity=section.sparsity,
            distill_dataset=path,
            distill_steps=section.distill_steps,
            distill_hidden_size=section.distill_hidden_size,
            distill_layers=section.distill_layers,
            seed=seed,
        )


@dataclass(frozen=True)
class MethodReport:
    """What a method tells the manifest: the parameters it used and what it measured.

    ``files`` are the weight files it wrote (relative names), which the manifest lists
    so that a copy missing one is caught before loading.
    """

    parameters: dict[str, Any]
    files: tuple[str, ...]
    measured: dict[str, Any] = field(default_factory=dict)


class Quantizer(Protocol):
    """One way to make a model smaller or faster."""

    name: str  # the CLI and config spelling, e.g. "int8-dynamic"
    summary: str  # one line for --help

    def applies_to(self, model: Any) -> str | None:
        """``None`` if this method can compress ``model``; otherwise why not (one line).

        ``model`` may live on the meta device: only its module structure is inspected.
        """

    def check(self, params: QuantizeParams) -> None:
        """Raise ``ConfigError`` for parameters this method cannot use (before any work)."""

    def quantize(self, src_dir: Path, out_dir: Path, params: QuantizeParams, progress: Progress) -> MethodReport:
        """Write the compressed model (weights, config, tokenizer) into ``out_dir``."""

    def load(self, artifact_dir: Path, manifest: dict[str, Any]) -> LoadedModel:
        """Load what ``quantize`` wrote, ready for inference on CPU."""
