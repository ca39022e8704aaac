"""Sequential sampling: looks of growing size and the critical values that keep repeated
looks from inflating the gate's error rates.

Plan: both models are evaluated on the same documents, taken in a seeded random order,
in looks of ``first`` documents (``eval.limit``, or 100), then GROWTH (1.3) times more
each look (100, 130, 169, 220, 286, ...) up to the cap (``eval.max_limit`` or the whole
split), a last step of under half a growth step merged into the look before it; the
gate stops at the first look where every check is conclusive. Earlier looks' documents
are part of every later look, so no document is evaluated twice, and both models stay
loaded from look to look (``evaluation.resident``), so a look costs its documents and
little else.

Deciding at every look is a group-sequential test, and testing K times at level alpha
would raise the chance of a wrong decision towards K * alpha. The gate spends alpha over
the looks instead (Lan & DeMets 1983): the spending function

    alpha(t) = alpha * t ** RHO        (the Kim-DeMets power family, t = n_k / n_max)

says how much of the error rate may have been spent by information fraction t. The
critical value at look k is the z that makes the probability of crossing *first* at
look k exactly ``alpha(t_k) - alpha(t_(k-1))``, computed for the joint normal
distribution of the statistics at the looks (Brownian motion: corr(Z_j, Z_k) =
sqrt(t_j / t_k)) by numerical integration (Armitage, McPherson & Rowe 1969; the values
match gsDesign's). So over all looks a true degradation at the boundary is wrongly
passed (or wrongly failed) with probability at most alpha, however many looks are made.
The pass and the fail boundaries each spend their own alpha: they guard different
errors, and stopping at one only removes chances to cross the other.

Linear spending (RHO = 1) sits between Pocock's (early stops, but a weak
final critical value) and O'Brien-Fleming's (almost no early stops): a clearly equal or
clearly regressed candidate stops early, while the final look keeps most of a single
test's power. At alpha 0.05 the critical values are 2.33, 2.46, 2.40, 2.30, 2.20, 2.09,
1.94 over the 7 looks of a 500-document split and 3.09 ... 2.19, 2.07, 1.96 over the 16
looks of a 5,000-document one (a single look: 1.645). ``benchmarks/gate_errors.py``
measured the trade-off (1,000 runs per design, docs/gate.md): growth 1.3 with linear
spending evaluates 47% (equal quality) and 48% (a 2x max_drop regression) of a
5,000-document split; growth 1.5 49/51% (fewer looks mattered while every look loaded the
models again); spending alpha * t^0.5 with growth 1.5 48/49% but passes a true 0.5x drop
in 47% of runs instead of 52%; doubling looks 53-56%; O'Brien-Fleming-type spending
(RHO 3) 59-61%.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Mapping

# numpy and scipy are imported by the functions that compute: planning looks and
# replaying a cached trail of them need neither.

RHO = 1.0
GROWTH = 1.3
_GRID = 801  # points per look in the numerical integration
_Z_MAX = 8.5  # beyond this the normal tail is below 1e-16: "never crossed"


@dataclass(frozen=True)
class SequentialDesign:
    """The planned looks of a sequential eval, to decide (or replay) look by look.

    ``order[task]`` lists the task's document ids in evaluation order (a seeded random
    order); ``looks[task]`` the cumulative document counts of its looks. Look k of a task
    is the first ``looks[task][k]`` documents of ``order[task]``; a look is available when
    both models have results for its last document.
    """

    order: Mapping[str, tuple[int, ...]]
    looks: Mapping[str, tuple[int, ...]]

    def __post_init__(self):
        for task, looks in self.looks.items():
            if not looks or looks[-1] > len(self.order.get(task, ())):
                raise ValueError(f"{task}: looks {looks} exceed the {len(self.order.get(task, ()))} ordered documents")


def plan_looks(total: int, *, first: int, cap: int | None = None) -> tuple[int, ...]:
    """Cumulative sample counts of each look: first, then GROWTH times more each time
    (100, 130, 169, 220, ...), up to min(total, cap), without a tiny last step."""
    if total < 1 or first < 1:
        raise ValueError("no documents to evaluate")
    last = min(total, cap) if cap is not None else total
    looks = []
    size = float(first)
    while round(size) < last:
        looks.append(int(round(size)))
        size *= GROWTH
    # A last step of under half a growth step (483 -> 500) would be a look, with its
    # lm-eval calls and a share of alpha, for a handful of documents: the look before it
    # goes to the end instead. The first look stays: it is evaluated before the plan exists.
    if len(looks) > 1 and last - looks[-1] < (GROWTH - 1) / 2 * looks[-1]:
        looks.pop()
    looks.append(last)
    return tuple(looks)


def spent(fraction: float, alpha: float) -> float:
    """Alpha spent by information fraction ``fraction`` (0..1)."""
    return alpha * min(max(fraction, 0.0), 1.0) ** RHO


def critical_values(looks: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """One-sided critical z of each look for a level-``alpha`` test over all ``looks``.

    One look is an ordinary test: ``z_(1 - alpha)``.
    """
    if not looks or any(b <= a for a, b in zip(looks, looks[1:])) or looks[0] < 1:
        raise ValueError(f"looks must be increasing positive sample counts, not {looks}")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    return _critical_values(tuple(n / looks[-1] for n in looks), round(alpha, 12))


def confidence_levels(looks: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """The nominal one-sided confidence of each look's bounds (Phi of its critical value)."""
    from scipy import special as _special

    return tuple(float(_special.ndtr(z)) for z in critical_values(looks, alpha))


@functools.lru_cache(maxsize=256)
def _critical_values(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    import numpy as np
    from scipy import special as _special

    # The statistic on the score scale, S_k = Z_k * sqrt(t_k), is a Brownian motion in t.
    # ``density`` is the sub-density of S at the previous look on ``grid``, restricted to
    # the paths that have not crossed yet.
    out = []
    grid = density = weights = None
    previous_t = 0.0
    for k, t in enumerate(fractions):
        target = spent(t, alpha) - spent(previous_t, alpha)
        if k == 0:
            z = float(_special.ndtri(1.0 - target)) if target > 0 else _Z_MAX
            z = min(z, _Z_MAX)
        else:
            step = math.sqrt(t - previous_t)
            mass = weights * density

            def crossing(b: float) -> float:
                return float(np.sum(mass * _special.ndtr((grid - b) / step)))

            if target <= 0:
                z = _Z_MAX
            else:
                lo, hi = -_Z_MAX * math.sqrt(t), _Z_MAX * math.sqrt(t)
                for _ in range(80):  # crossing() falls as the boundary b rises
                    mid = (lo + hi) / 2.0
                    lo, hi = (mid, hi) if crossing(mid) > target else (lo, mid)
                z = min(((lo + hi) / 2.0) / math.sqrt(t), _Z_MAX)
        out.append(z)
        # The continuation region's sub-density at this look, for the next one.
        bound = z * math.sqrt(t)
        new_grid = np.linspace(-_Z_MAX * math.sqrt(t), bound, _GRID)
        new_weights = np.full(_GRID, (new_grid[1] - new_grid[0]))
        new_weights[[0, -1]] /= 2.0  # trapezoid rule
        if k == 0:
            new_density = np.exp(-new_grid**2 / (2 * t)) / math.sqrt(2 * math.pi * t)
        else:
            kernel = np.exp(-((new_grid[:, None] - grid[None, :]) ** 2) / (2 * step**2)) / (step * math.sqrt(2 * math.pi))
            new_density = kernel @ (weights * density)
        grid, density, weights, previous_t = new_grid, new_density, new_weights, t
    return tuple(out)
