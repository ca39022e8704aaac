"""The gate report as Markdown: the verdict line first, a table, details collapsed.

``render_markdown(outcome)`` is the file and job-summary version;
``render_markdown(outcome, for_comment=True)`` adds a Mermaid ``xychart-beta`` chart of
candidate vs baseline, which GitHub and GitLab both render in comments, so no image has
to be uploaded anywhere. Rendering never posts: ``llm_gitops.forges`` does that.
"""

from __future__ import annotations

from llm_gitops.gate.outcome import (
    CheckResult,
    GateOutcome,
    ModelInfo,
    format_amount,
    format_p,
    format_range,
    format_value,
    uses_points,
)

ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "error": "💥"}
TABLE_HEADER = ("metric", "candidate", "baseline", "delta (95% CI)", "bound", "verdict")


def _cell(text: object) -> str:
    # A '|' would split the cell; a newline would end the table.
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_line(outcome: GateOutcome) -> str:
    """'❌ **fail** - 1 of 4 checks failed: add_em/exact_match dropped 12.0pt (95% CI 8.1..15.9, p<0.001)'."""
    return f"{ICONS[outcome.verdict]} **{outcome.verdict}** - {outcome.summary_reason}"


def delta_cell(check: CheckResult) -> str:
    if check.delta is None:
        return "-"
    text = format_amount(check, check.delta, signed=True)
    interval = format_range(check, check.ci_low, check.ci_high)
    return f"{text} ({interval})" if interval else text


def table(outcome: GateOutcome) -> str:
    rows = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for c in outcome.checks:
        cells = (
            f"`{c.metric}`",
            format_value(c, c.candidate),
            format_value(c, c.baseline),
            delta_cell(c),
            c.bound,
            f"{ICONS[c.verdict]} {c.verdict}",
        )
        rows.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return "\n".join(rows)


def _model_line(label: str, info: ModelInfo | None) -> str:
    if info is None:
        return f"- **{label}**: none (relative bounds not checked)"
    cache = []
    if info.eval_cached is not None:
        cache.append(f"eval {'cached' if info.eval_cached else 'run'}")
    if info.perf_cached is not None:
        cache.append(f"perf {'cached' if info.perf_cached else 'run'}")
    extra = f" ({', '.join(cache)})" if cache else ""
    return f"- **{label}**: `{info.source}` ({info.kind}) `{info.digest}`{extra}"


def _check_details(outcome: GateOutcome) -> str:
    rows = ["| metric | n | test | p-value | reason |", "|---|---|---|---|---|"]
    for c in outcome.checks:
        p = format_p(c.p_value) if c.p_value is not None else "-"
        rows.append("| " + " | ".join(_cell(x) for x in (f"`{c.metric}`", c.n if c.n is not None else "-", c.test or "-", p, c.reason)) + " |")
    return "\n".join(rows)


def _settings_line(outcome: GateOutcome) -> str:
    return ", ".join(f"{k}: `{v}`" for k, v in outcome.settings.items())


def _timings_line(outcome: GateOutcome) -> str:
    return ", ".join(f"{k.replace('_s', '').replace('_', ' ')} {float(v):.1f} s" for k, v in outcome.timings.items())


def details(outcome: GateOutcome) -> str:
    parts = [_model_line("Candidate", outcome.candidate), _model_line("Baseline", outcome.baseline)]
    body = "\n".join(parts)
    if outcome.checks:
        body += "\n\n" + _check_details(outcome)
    if outcome.settings:
        body += f"\n\n**Settings**: {_settings_line(outcome)}"
    if outcome.timings:
        body += f"\n\n**Timings**: {_timings_line(outcome)}"
    if outcome.version or outcome.created_at:
        body += f"\n\nllm-gitops {outcome.version} at {outcome.created_at}".rstrip()
    return f"<details><summary>Details</summary>\n\n{body}\n\n</details>"


def _label(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def mermaid_chart(outcome: GateOutcome) -> str | None:
    """A Mermaid bar chart of candidate vs baseline, or None when nothing compares.

    Scores in [0, 1] share one chart (bars side by side per metric; xychart has no
    legend, so the labels say which is which). Perf metrics, each in its own unit, are
    shown as the candidate's percentage of the baseline against a 100% line.
    """
    blocks = []
    scores = [c for c in outcome.checks if c.candidate is not None and c.baseline is not None and uses_points(c)]
    if scores:
        labels, values = [], []
        for c in scores:
            labels += [_label(f"{c.metric} cand"), _label(f"{c.metric} base")]
            values += [f"{c.candidate:.3f}", f"{c.baseline:.3f}"]
        blocks.append(
            "```mermaid\nxychart-beta\n"
            '  title "Candidate vs baseline"\n'
            f"  x-axis [{', '.join(labels)}]\n"
            '  y-axis "score" 0 --> 1\n'
            f"  bar [{', '.join(values)}]\n"
            "```"
        )
    perf = [c for c in outcome.checks if c.kind == "perf" and c.candidate is not None and c.baseline]
    if perf:
        ratios = [100.0 * c.candidate / c.baseline for c in perf]
        top = max(150.0, max(ratios) * 1.1)
        blocks.append(
            "```mermaid\nxychart-beta\n"
            '  title "Performance: candidate as % of baseline"\n'
            f"  x-axis [{', '.join(_label(c.metric) for c in perf)}]\n"
            f'  y-axis "% of baseline" 0 --> {top:.0f}\n'
            f"  bar [{', '.join(f'{r:.1f}' for r in ratios)}]\n"
            f"  line [{', '.join('100' for _ in perf)}]\n"
            "```"
        )
    return "\n\n".join(blocks) if blocks else None


def render_markdown(outcome: GateOutcome, *, for_comment: bool = False, title: str | None = None) -> str:
    """The whole report. Its first line is the verdict (after ``title``, when given)."""
    parts = ([f"### {title}"] if title else []) + [summary_line(outcome)]
    if outcome.checks:
        parts.append(table(outcome))
    if outcome.notes:
        parts.append("\n".join(f"- {note}" for note in outcome.notes))
    if for_comment:
        chart = mermaid_chart(outcome)
        if chart:
            parts.append(chart)
    parts.append(details(outcome))
    return "\n\n".join(parts) + "\n"
