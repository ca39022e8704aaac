"""The gate report for a terminal: the verdict line, then an aligned table."""

from __future__ import annotations

from llm_gitops.gate.outcome import GateOutcome, format_value
from llm_gitops.report.markdown import ICONS, TABLE_HEADER, delta_cell


def render_text(outcome: GateOutcome) -> str:
    lines = [f"{ICONS[outcome.verdict]} {outcome.summary}"]
    if outcome.checks:
        rows = [TABLE_HEADER] + [
            (c.metric, format_value(c, c.candidate), format_value(c, c.baseline), delta_cell(c), c.bound, c.verdict)
            for c in outcome.checks
        ]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(TABLE_HEADER))]
        lines.append("")
        for row in rows:
            lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    lines.extend(f"note: {note}" for note in outcome.notes)
    return "\n".join(lines) + "\n"
