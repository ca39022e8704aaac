"""docs/report-schema.md lists every field report.json has (gate/outcome.py writes it)."""

from __future__ import annotations

from pathlib import Path

from llm_gitops.gate.outcome import _CHECK_FIELDS, CheckResult, GateOutcome, ModelInfo

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"


def test_every_report_field_is_documented():
    check = CheckResult.from_json({**{name: None for name in _CHECK_FIELDS}, "metric": "t/m", "bound": "",
                                   "verdict": "pass", "reason": ""})
    model = ModelInfo(source="./model", digest="sha256:0")
    report = GateOutcome(verdict="pass", checks=(check,), candidate=model, baseline=None).to_json()
    text = DOC.read_text(encoding="utf-8")
    fields = [*report, *report["models"]["candidate"], *report["checks"][0]]
    missing = sorted({name for name in fields if f"`{name}`" not in text})
    assert missing == [], f"docs/report-schema.md does not document: {missing}"
