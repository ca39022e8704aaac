"""``llm-gitops gate``: parse flags, resolve the models, run the gate's core, then write,
print, post and track what it decided (the deciding itself is ``gate.run``)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import click

from llm_gitops.cache import write_atomic
from llm_gitops.commands.eval import progress_printer, resolve_command_model
from llm_gitops.commands.options import config_option
from llm_gitops import ci_context
from llm_gitops.commands.step_outputs import append_step_summary, check_step_outputs, write_step_outputs
from llm_gitops.config import load_config
from llm_gitops.config.schema import Config
from llm_gitops.errors import ConfigError, LlmGitopsError
from llm_gitops.gate.decisions import DecisionCache
from llm_gitops.gate.run import GateRequest, GateRun, plan_gate, run_gate
from llm_gitops.logsafe import redact
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.report.rendered import RenderedGate
from llm_gitops.workspace import cache_dir

REPORT_MD, REPORT_JSON, CHART_PNG = "report.md", "report.json", "chart.png"


def git_sha(directory: Path) -> str | None:
    """HEAD of the git repository holding ``directory``, or None outside a repository."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def write_reports(rendered: RenderedGate, output_dir: Path) -> tuple[Path, Path, Path | None]:
    """Write each report file atomically; returns the paths (the chart's is None when absent)."""
    md_path, json_path, png_path = output_dir / REPORT_MD, output_dir / REPORT_JSON, output_dir / CHART_PNG
    if rendered.png is not None:
        write_atomic(png_path, rendered.png)
    else:
        png_path.unlink(missing_ok=True)  # a chart from an earlier run would mislead
    write_atomic(md_path, rendered.markdown)
    write_atomic(json_path, rendered.json)
    return md_path, json_path, png_path if rendered.png is not None else None


@click.command("gate")
@config_option()
@click.option("--candidate", "candidate_src", default=None, metavar="SRC",
              help="Model under test: DIR (relative to the config file), models:/NAME/VERSION, models:/NAME@ALIAS "
                   "or dvc:PATH (default: models.candidate).")
@click.option("--baseline", "baseline_src", default=None, metavar="SRC",
              help="Model to compare with, same forms (default: models.baseline; without one, min/max are "
                   "checked and max_drop checks are inconclusive).")
@click.option("--report-to", type=click.Choice(["auto", "github", "gitlab", "none"]), default=None,
              help="Where to post the report (default: report.to, itself 'auto': the forge of the CI job, if any).")
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory for report.md, report.json and chart.png (default: report.output_dir).")
@click.option("--output-env", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Append LLM_GITOPS_VERDICT=.. and LLM_GITOPS_REPORT=.. to this dotenv file (GitLab, Jenkins).")
@click.option("--chart/--no-chart", default=None,
              help="Also write chart.png (matplotlib; default: report.chart, off: the report has a Mermaid chart).")
@click.option("--no-cache", is_flag=True, help="Ignore and don't update the eval/bench result cache.")
@click.option("--no-perf", is_flag=True, help="Skip the benchmark; perf/* thresholds are reported as not checked.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Samples per task (overrides eval.limit).")
def command(config_path: Path | None, candidate_src: str | None, baseline_src: str | None, report_to: str | None,
            output_dir: Path | None, output_env: Path | None, chart: bool | None, no_cache: bool, no_perf: bool,
            limit: int | None) -> None:
    """Compare a candidate with thresholds and a baseline: pass, fail or inconclusive.

    Both models run the eval suite (cached by content) and, when perf thresholds exist,
    the benchmark. Each threshold is one check: min/max bound the candidate; max_drop
    tolerates a degradation vs the baseline. A larger drop fails when a paired test says
    it is significant at gate.alpha (or it exceeds hard_max_drop); otherwise the check is
    inconclusive, which never passes silently: gate.on_inconclusive decides its exit code.

    \b
    Writes report.md, report.json (schema llm-gitops/gate-report/v1) and, with --chart
    or report.chart, chart.png;
    appends the report to $GITHUB_STEP_SUMMARY and verdict/report-path to $GITHUB_OUTPUT
    when those are set, logs the run to MLflow (tracking.mlflow) and posts the report
    as a pull/merge request comment (--report-to).

    \b
    Examples:
      llm-gitops gate
      llm-gitops gate --candidate ./model --baseline models:/adder@production
      llm-gitops gate --baseline dvc:model --limit 200 --report-to none
      llm-gitops gate --no-perf --output-dir out/ --output-env gate.env --chart

    \b
    Exit codes: 0 pass (or inconclusive with on_inconclusive pass/neutral),
    1 fail (or inconclusive with on_inconclusive fail), 2 bad config, flag or model
    source (nothing is written) or a failed post to an explicit --report-to on a
    pass, 3 the evaluation itself failed (verdict 'error' is written to report.json)
    or an internal error.
    """
    started = time.perf_counter()
    say = progress_printer()
    config = load_config(config_path)
    plan = plan_gate(config, no_perf=no_perf, limit=limit)
    candidate_spec = candidate_src or config.models.candidate
    if candidate_spec is None:
        raise ConfigError(
            f"{config.where('models')}: models.candidate is not set and no --candidate was given",
            hint="pass --candidate DIR|models:/NAME@ALIAS|dvc:PATH or set models.candidate",
        )
    baseline_spec = baseline_src or config.models.baseline
    out_dir = output_dir.resolve() if output_dir is not None else config.resolve_path(config.report.output_dir)
    target = report_to or config.report.to
    # The CI context (event payload, variables) and every step-output file are checked
    # before anything is measured or written.
    ctx = ci_context.detect()
    check_step_outputs(ctx, output_env, {"LLM_GITOPS_REPORT": str(out_dir / REPORT_MD),
                                         "LLM_GITOPS_REPORT_JSON": str(out_dir / REPORT_JSON)})

    # Bad sources are exit 2 before anything is measured or written.
    candidate = resolve_command_model(config, candidate_spec)
    say(f"gate: candidate {candidate.source} ({candidate.short_digest})")
    baseline = resolve_command_model(config, baseline_spec) if baseline_spec is not None else None
    if baseline is not None:
        say(f"gate: baseline {baseline.source} ({baseline.short_digest})")

    cache_root = None if no_cache else cache_dir(config.base_dir)
    request = GateRequest(config=config, candidate=candidate, baseline=baseline, limit=limit, no_perf=no_perf,
                          cache_root=cache_root, chart=config.report.chart if chart is None else chart)
    result = run_gate(request, progress=say, plan=plan)
    if result.failure_detail:
        click.echo(result.failure_detail, err=True)
    code = _write_publish_track(config, result, out_dir, output_env, target, candidate, say, ctx=ctx,
                                decisions=DecisionCache(cache_root) if cache_root is not None else None)
    click.echo(result.rendered.text, nl=False)
    if code:
        # SystemExit, not click's Exit: the entry point runs click with
        # standalone_mode=False, where click turns Exit into a discarded return value.
        raise SystemExit(code)


def _write_publish_track(config: Config, result: GateRun, out_dir: Path, output_env: Path | None, target: str,
                         candidate: ResolvedModel, say, *, ctx: ci_context.CiContext,
                         decisions: DecisionCache | None) -> int:
    """Write the reports and step outputs, post, log to MLflow; returns the exit code."""
    rendered = result.rendered
    md_path, json_path, png_path = write_reports(rendered, out_dir)
    say(f"gate: wrote {md_path}, {json_path}" + (f", {png_path}" if png_path else ""))

    append_step_summary(ctx, rendered.markdown)
    write_step_outputs(
        ctx,
        {"verdict": rendered.verdict, "report-path": str(md_path), "report-json": str(json_path)},
        {"LLM_GITOPS_VERDICT": rendered.verdict, "LLM_GITOPS_REPORT": str(md_path), "LLM_GITOPS_REPORT_JSON": str(json_path)},
        output_env,
    )

    # Post first: the reviewer's comment should not wait for MLflow's slow import.
    code = rendered.exit_code
    if target != "none":
        code = _publish(config, rendered, target, code, say)
    if rendered.verdict != "error" and config.tracking.mlflow.enabled:
        _track(config, result, [md_path, json_path] + ([png_path] if png_path else []), candidate, say,
               decisions=decisions)
    return code


def _track(config: Config, result: GateRun, artifacts: list[Path], candidate: ResolvedModel, say, *,
           decisions: DecisionCache | None) -> None:
    """Log the run to MLflow. A tracking failure is a warning: the verdict stands."""
    from llm_gitops.tracking.mlflow_tracking import log_gate_run, resolve_tracking_uri, sqlite_path

    sha = git_sha(config.base_dir) or ""
    tracking_uri = resolve_tracking_uri(config)
    key = result.decision_key
    already = decisions.tracked_run(key, tracking_uri, sha) if decisions is not None and key is not None else None
    store = sqlite_path(tracking_uri)
    if already and (store is None or store.is_file()):
        # The same decision at the same commit is one run, however often CI re-runs it.
        say(f"gate: already logged as MLflow run {already}")
        return
    try:
        record = log_gate_run(config, report=json.loads(result.rendered.json), artifacts=artifacts,
                              candidate=candidate, git_sha=sha or None)
    except LlmGitopsError as exc:
        click.echo(f"warning: the gate run was not logged to MLflow: {redact(str(exc))}", err=True)
        return
    registered = f", registered version {record.model_version}" if getattr(record, "model_version", None) else ""
    say(f"gate: logged MLflow run {record.run_id}{registered}")
    if decisions is not None and key is not None:
        decisions.add_tracked(key, tracking_uri, sha, record.run_id)


def _publish(config: Config, rendered: RenderedGate, target: str, code: int, say) -> int:
    """Post the report; returns the exit code (a failed explicit post turns a pass into 2)."""
    from llm_gitops.forges.publish import publish_gate_report

    # The raw verdict goes to the forge: publish maps 'inconclusive' to a commit state
    # through the same gate.on_inconclusive policy that decided the exit code.
    try:
        result = publish_gate_report(markdown=rendered.comment, verdict=rendered.verdict, summary=rendered.summary,
                                     target=target, config=config)
    except LlmGitopsError as exc:
        click.echo(f"error: the report was not posted ({target}): {redact(str(exc))}", err=True)
        # An explicitly requested post that fails is a misconfiguration (exit 2), but it
        # never hides a failing verdict's own exit code.
        return exc.exit_code if (code == 0 and target != "auto") else code
    if result.posted:
        say(f"gate: report posted: {result.comment_url or result.reason}")
    else:
        say(f"gate: report not posted: {result.reason}")
    return code
