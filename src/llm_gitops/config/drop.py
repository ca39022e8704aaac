"""A tolerated degradation (``max_drop``): metric units, points or percent.

Its own module because thresholds (``config.schema``) and smoke evals
(``config.environments``, which the schema imports) both take one.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

_DROP = re.compile(r"^\s*(?P<num>\d+(\.\d+)?)\s*(?P<unit>pt|points?|%)?\s*$")


class Drop(BaseModel):
    """A tolerated degradation: metric units (``0.02``), points (``2pt``) or percent (``5%``)."""

    model_config = ConfigDict(frozen=True)
    value: float
    unit: Literal["abs", "pt", "pct"]

    def allowed(self, baseline: float) -> float:
        """The tolerated degradation in the metric's own units."""
        if self.unit == "pt":
            return self.value / 100.0
        if self.unit == "pct":
            return abs(baseline) * self.value / 100.0
        return self.value

    def __str__(self) -> str:
        return {"abs": f"{self.value:g}", "pt": f"{self.value:g}pt", "pct": f"{self.value:g}%"}[self.unit]


def parse_drop(v):
    if v is None or isinstance(v, Drop):
        return v
    if isinstance(v, bool):
        raise ValueError("expected a number (0.02), points ('2pt') or a percentage ('5%')")
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise ValueError("must be a finite number; .nan and .inf are not allowed")
        if v < 0:
            raise ValueError("must be >= 0")
        return Drop(value=float(v), unit="abs")
    if isinstance(v, str):
        m = _DROP.match(v)
        if m:
            value = float(m.group("num"))
            if not math.isfinite(value):  # hundreds of digits overflow to inf
                raise ValueError(f"{v[:40]!r} is too large for a drop")
            unit = m.group("unit") or ""
            return Drop(value=value, unit="pct" if unit == "%" else ("pt" if unit else "abs"))
    raise ValueError(f"{v!r} is not a drop; expected a number (0.02), points ('2pt') or a percentage ('5%')")
