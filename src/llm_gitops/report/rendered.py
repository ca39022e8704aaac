"""A decided gate, rendered once: what is written, printed, tracked and posted.

Rendering (matplotlib, for the opt-in chart) and deciding (numpy, scipy) are the slow
imports of a gate whose evals are cached, so the decision cache (``gate.decisions``)
stores this whole, and a re-run on the same inputs imports neither.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path

from llm_gitops.gate.outcome import GateOutcome


@dataclass(frozen=True)
class RenderedGate:
    verdict: str
    exit_code: int
    summary: str
    markdown: str  # report.md and the CI job summary
    comment: str  # the PR/MR comment (adds Mermaid charts)
    text: str  # the terminal table
    json: str  # report.json
    png: bytes | None = None  # chart.png; None when not asked for or nothing to draw

    @classmethod
    def from_outcome(cls, outcome: GateOutcome, *, chart: bool = False, root: Path | None = None) -> "RenderedGate":
        """``root``: the repository root, so that paths under it show relative (the comment shows no
        absolute path at all)."""
        from llm_gitops.report.json_report import render_json
        from llm_gitops.report.markdown import render_markdown
        from llm_gitops.report.text import render_text

        rendered = cls(
            verdict=outcome.verdict, exit_code=outcome.exit_code, summary=outcome.summary,
            markdown=render_markdown(outcome, root=root), comment=render_markdown(outcome, for_comment=True, root=root),
            text=render_text(outcome, root=root), json=render_json(outcome),
        )
        return rendered.with_chart(outcome) if chart else rendered

    def with_chart(self, outcome: GateOutcome) -> "RenderedGate":
        """This rendering plus chart.png (matplotlib is imported only here)."""
        from llm_gitops.report.chart import render_chart

        return replace(self, png=render_chart(outcome))

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in ("verdict", "exit_code", "summary", "markdown", "comment", "text", "json")}
        data["png_b64"] = base64.b64encode(self.png).decode() if self.png is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "RenderedGate":
        png = base64.b64decode(data["png_b64"]) if data.get("png_b64") else None
        return cls(verdict=data["verdict"], exit_code=int(data["exit_code"]), summary=data["summary"],
                   markdown=data["markdown"], comment=data["comment"], text=data["text"], json=data["json"], png=png)
