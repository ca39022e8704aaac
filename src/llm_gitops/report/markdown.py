"""The gate report as Markdown: the verdict line first, a table, details collapsed.

``render_markdown(outcome)`` is the file and job-summary version;
``render_markdown(outcome, for_comment=True)`` adds a Mermaid ``xychart-beta`` chart of
candidate vs baseline, which GitHub and GitLab both render in comments, so no image has
to be uploaded anywhere. Rendering never posts: ``llm_gitops.forges`` does that.

Every check's row says what decided it ("decided by": the confidence bound, its level
and the margin, or the absolute bound); an inconclusive check says how many samples
would settle it; a sequential eval lists its looks. Paths under ``root`` (the repo) are
shown relative to it, and a comment shows no other absolute path either (only the last
component): a runner's directory layout is noise to a reviewer, and not theirs to see.
"""

from __future__ import annotations

import re
from pathlib import Path

from llm_gitops.gate.outcome import (
    CheckResult,
    GateOutcome,
    ModelInfo,
    format_amount,
    format_p,
    format_range,
    format_value,
    settle_text,
    uses_points,
)

ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "error": "💥"}
TABLE_HEADER = ("metric", "candidate", "baseline", "delta (bounds)", "decided by", "thresholds", "verdict")
# An absolute POSIX path not inside a URL or a models:/ URI (no word character, ':', '/' or '.' before it).
_URL = re.compile(r"([a-z][a-z0-9+.-]*://[^\s)>\]]+)", re.I)
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+([\w.@+-]+)")


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


def decided_by(check: CheckResult) -> str:
    """What decided the check, in a few words: 'upper bound 1.6pt <= 2pt (97.5%)'."""
    if check.verdict == "error":
        return "-"
    if check.cause == "no_baseline":
        return "no baseline yet" if check.verdict == "pass" else "no baseline value"
    if check.cause in ("min", "max"):
        op = "<" if check.cause == "min" else ">"
        return f"value {format_value(check, check.candidate)} {op} {check.cause} {check.bound_of(check.cause)}"
    if check.cause == "hard_max_drop":
        return f"drop {format_amount(check, check.degradation)} > hard_max_drop {check.bound_of('hard_max_drop')}"
    if check.bound_value is not None and check.allowed_drop is not None:
        op = ">" if check.bound_value > check.allowed_drop else "<="
        text = (f"{check.bound_side} bound {format_amount(check, check.bound_value)} {op} "
                f"{format_amount(check, check.allowed_drop)} ({check.confidence * 100:.4g}%)")
        settle = settle_text(check) if check.verdict == "inconclusive" else ""
        return f"{text}; {settle}" if settle else text
    if check.verdict == "pass":
        return "value within min/max" if (check.bound_of("min") or check.bound_of("max")) else "-"
    return check.reason


def table(outcome: GateOutcome) -> str:
    rows = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for c in outcome.checks:
        cells = (
            f"`{c.metric}`",
            format_value(c, c.candidate),
            format_value(c, c.baseline),
            delta_cell(c),
            decided_by(c),
            c.bound,
            f"{ICONS[c.verdict]} {c.verdict}",
        )
        rows.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return "\n".join(rows)


def links_line(outcome: GateOutcome) -> str | None:
    """'[CI run](URL) · [artifacts](URL) · [MLflow run](URL)', or None without links."""
    shown = [f"[{_cell(name).replace(']', '')}]({url.replace(')', '%29').replace(' ', '%20')})"
             for name, url in outcome.links.items() if url]
    return " · ".join(shown) if shown else None


def looks_summary(outcome: GateOutcome) -> str | None:
    """'Sequential eval: every relative check decided by look 4, on 338 documents per task
    (add_em, add_mc).' for a sequential gate; it says so when checks are still undecided
    after the last planned look, or when the looks stopped before it."""
    if not outcome.looks:
        return None
    last = outcome.looks[-1]
    # A task is evaluated until its checks are decided: its count is that of its last look.
    counts = {task: n for look in outcome.looks for task, n in look.get("samples", {}).items()}
    on = f", on {_per_task(counts)}" if counts else ""
    pending = last.get("next")
    if pending:
        return f"Sequential eval: stopped after look {last['look']}{on}; the next look needed {_per_task(pending)}."
    open_ = [c for c in outcome.checks if c.look is not None and c.verdict == "inconclusive"]
    undecided = [c for c in open_ if c.bound_side is not None]
    if undecided:
        whose = "its last planned look" if len(undecided) == 1 else "their last planned looks"
        return (f"Sequential eval: {', '.join(c.metric for c in undecided)} still undecided after {whose} "
                f"({', '.join(str(c.look) for c in undecided)}){on}.")
    if open_:  # not testable: no look could decide them
        return f"Sequential eval: stopped at look {last['look']}{on}; {', '.join(c.metric for c in open_)} not testable."
    return f"Sequential eval: every relative check decided by look {last['look']}{on}."


def _per_task(counts: dict) -> str:
    """'200 documents per task (add_em, add_mc)', or '500 (add_em), 120 (add_mc) documents'."""
    if len(set(counts.values())) == 1:
        n = next(iter(counts.values()))
        return f"{n:,} documents per task ({', '.join(counts)})" if len(counts) > 1 else f"{n:,} documents ({next(iter(counts))})"
    return ", ".join(f"{n:,} ({task})" for task, n in counts.items()) + " documents"


def _model_line(label: str, info: ModelInfo | None) -> str:
    if info is None:
        return f"- **{label}**: none (relative bounds not checked)"
    cache = []
    if info.eval_cached is not None:
        cache.append(f"eval {'cached' if info.eval_cached else 'run'}")
    if info.perf_cached is not None:
        cache.append(f"perf {'cached' if info.perf_cached else 'run'}")
    extra = f" ({', '.join(cache)})" if cache else ""
    served = f", evaluated as served at `{info.served_by}`" if info.served_by else ""
    placed = " ".join(f"{word} {value}" for word, value in (("on", info.device), ("in", info.dtype)) if value)
    where = f", evaluated {placed}" if placed else ""
    return f"- **{label}**: `{info.source}` ({info.kind}) `{info.digest}`{served}{where}{extra}"


def _check_details(outcome: GateOutcome) -> str:
    rows = ["| metric | n | method | p-value (claim) | resolves (MDE) | reason |", "|---|---|---|---|---|---|"]
    for c in outcome.checks:
        claim = c.claim_p()
        p = f"{format_p(claim[1])} ({claim[0]})" if claim is not None else "-"
        mde = f"±{format_amount(c, c.mde)} around max_drop" if c.mde is not None else "-"
        cells = (f"`{c.metric}`", c.n if c.n is not None else "-", c.test or "-", p, mde, c.reason)
        rows.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return "\n".join(rows)


def _looks_table(outcome: GateOutcome) -> str:
    rows = ["| look | samples | decided |", "|---|---|---|"]
    for look in outcome.looks:
        samples = ", ".join(f"{task} {n:,}" for task, n in look.get("samples", {}).items())
        decided = ", ".join(f"`{m}` {v}" for m, v in look.get("decided", {}).items()) or "-"
        rows.append("| " + " | ".join(_cell(x) for x in (look.get("look"), samples, decided)) + " |")
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
    if outcome.looks:
        body += "\n\n" + _looks_table(outcome)
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


def relative_paths(text: str, root: str | Path | None, *, hide_absolute: bool) -> str:
    """``text`` with paths under ``root`` made relative to it; with ``hide_absolute`` any
    other absolute path is cut to its last component ('.../results.json'). URLs are left
    whole: their paths are not the runner's."""
    base = str(Path(root)).rstrip("/") if root is not None else ""
    under_root = re.compile(re.escape(base) + r"(?=/|\b)/?") if base else None

    def local(piece: str) -> str:
        if under_root is not None:
            piece = under_root.sub(lambda m: "" if m.group(0).endswith("/") else ".", piece)
        if hide_absolute:
            piece = _ABSOLUTE_PATH.sub(lambda m: f".../{m.group(1)}", piece)
        return piece

    return "".join(p if i % 2 else local(p) for i, p in enumerate(_URL.split(text)))


def render_markdown(outcome: GateOutcome, *, for_comment: bool = False, title: str | None = None,
                    root: str | Path | None = None) -> str:
    """The whole report. Its first line is the verdict (after ``title``, when given).

    ``root``: the repository root; paths under it are shown relative to it.
    """
    parts = ([f"### {title}"] if title else []) + [summary_line(outcome)]
    links = links_line(outcome)
    if links:
        parts.append(links)
    if outcome.checks:
        parts.append(table(outcome))
    sequential = looks_summary(outcome)
    if sequential:
        parts.append(sequential)
    if outcome.notes:
        parts.append("\n".join(f"- {note}" for note in outcome.notes))
    if for_comment:
        chart = mermaid_chart(outcome)
        if chart:
            parts.append(chart)
    parts.append(details(outcome))
    return relative_paths("\n\n".join(parts) + "\n", root, hide_absolute=for_comment)
