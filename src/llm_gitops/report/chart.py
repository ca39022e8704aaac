"""The gate report's chart: candidate vs baseline bars with 95% error bars, as PNG bytes.

Scores in [0, 1] share one panel; every other metric (perf, unbounded eval metrics)
gets its own small panel in its own unit. The candidate's bar is coloured by its
check's verdict, the baseline's is grey. Matplotlib's object API with the Agg canvas is
used (no pyplot): no display, no global figure state.
"""

from __future__ import annotations

import io

from llm_gitops.gate.outcome import CheckResult, GateOutcome, uses_points

VERDICT_COLOURS = {"pass": "#2da44e", "fail": "#cf222e", "inconclusive": "#d4a72c", "error": "#6e7781"}
BASELINE_COLOUR = "#8c959f"


def _panels(checks: tuple[CheckResult, ...]) -> list[tuple[str, list[CheckResult]]]:
    drawable = [c for c in checks if c.candidate is not None]
    scores = [c for c in drawable if uses_points(c)]
    panels = [("score", scores)] if scores else []
    panels += [(c.unit or "value", [c]) for c in drawable if not uses_points(c)]
    return panels


def render_chart(outcome: GateOutcome) -> bytes | None:
    """PNG bytes of the chart, or None when no check has a candidate value to draw."""
    panels = _panels(outcome.checks)
    if not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    widths = [max(1.0, len(checks) * 1.2) for _, checks in panels]
    fig = Figure(figsize=(min(16.0, 1.5 + 1.9 * sum(widths)), 4.2), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), gridspec_kw={"width_ratios": widths}, squeeze=False)[0]
    bar = 0.38
    for ax, (unit, checks) in zip(axes, panels):
        xs = list(range(len(checks)))
        cand = [c.candidate for c in checks]
        cand_err = [c.candidate_err or 0.0 for c in checks]
        ax.bar([x - bar / 2 for x in xs], cand, bar, yerr=cand_err, capsize=4,
               color=[VERDICT_COLOURS[c.verdict] for c in checks], label="candidate")
        with_base = [(x, c) for x, c in zip(xs, checks) if c.baseline is not None]
        if with_base:
            ax.bar([x + bar / 2 for x, _ in with_base], [c.baseline for _, c in with_base], bar,
                   yerr=[c.baseline_err or 0.0 for _, c in with_base], capsize=4, color=BASELINE_COLOUR, label="baseline")
        ax.set_xticks(xs)
        ax.set_xticklabels([c.metric for c in checks], rotation=15 if len(checks) > 2 else 0, fontsize=8)
        ax.set_ylabel(unit)
        if unit == "score":
            ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        for x, c in zip(xs, checks):
            ax.annotate(c.verdict, (x - bar / 2, 0), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color="white", fontweight="bold", rotation=90)
    # The candidate's colour is its verdict, so the legend lists each verdict shown.
    shown = [v for v in VERDICT_COLOURS if any(c.verdict == v for _, checks in panels for c in checks)]
    handles = [Patch(color=VERDICT_COLOURS[v], label=f"candidate: {v}") for v in shown]
    handles.append(Patch(color=BASELINE_COLOUR, label="baseline"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"llm-gitops gate: {outcome.verdict}  (error bars: 95% CI)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
