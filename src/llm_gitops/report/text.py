"""The gate report for a terminal: the verdict line, then an aligned table."""

from __future__ import annotations

from pathlib import Path

from llm_gitops.gate.outcome import GateOutcome, format_value
from llm_gitops.report.markdown import ICONS, TABLE_HEADER, decided_by, delta_cell, looks_summary, relative_paths


def render_text(outcome: GateOutcome, *, root: str | Path | None = None) -> str:
    """The report for a terminal; paths under ``root`` (the repo) are shown relative to it."""
    lines = [f"{ICONS[outcome.verdict]} {outcome.summary}"]
    if outcome.checks:
        rows = [TABLE_HEADER] + [
            (c.metric, format_value(c, c.candidate), format_value(c, c.baseline), delta_cell(c), decided_by(c), c.bound,
             c.verdict)
            for c in outcome.checks
        ]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(TABLE_HEADER))]
        lines.append("")
        for row in rows:
            lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    sequential = looks_summary(outcome)
    if sequential:
        lines.append(sequential)
    lines.extend(f"note: {note}" for note in outcome.notes)
    lines.extend(f"{name}: {url}" for name, url in outcome.links.items() if url)
    return relative_paths("\n".join(lines) + "\n", root, hide_absolute=False)
