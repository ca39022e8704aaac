"""``llm-gitops gate``: parse flags, resolve the models, run the gate's core, then write,
print, post and track what it decided (the deciding itself is ``gate.run``)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import click

from llm_gitops import ci_context
from llm_gitops.cache import write_atomic
from llm_gitops.commands.eval import progress_printer
from llm_gitops.commands.options import config_option
from llm_gitops.commands.preflight import check_output_dir, command_model, source_flag
from llm_gitops.commands.step_outputs import append_step_summary, check_step_outputs, write_step_outputs
from llm_gitops.config import load_config
from llm_gitops.config.schema import Config
from llm_gitops.errors import ConfigError, ExternalServiceError, LlmGitopsError, NoSuchModelYet
from llm_gitops.gate.decisions import DecisionCache
from llm_gitops.git_checkout import head_and_parents, head_commit
from llm_gitops.gate.run import PERF_PREFIX, GatePlan, GateRequest, GateRun, plan_gate, run_gate
from llm_gitops.logsafe import redact
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.sources import source_forms
from llm_gitops.report.rendered import RenderedGate
from llm_gitops.workspace import cache_dir

REPORT_MD, REPORT_JSON, CHART_PNG = "report.md", "report.json", "chart.png"


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


MLFLOW_LINK = "MLflow run"


def report_links(ctx: ci_context.CiContext) -> dict[str, str]:
    """Links the report and comment show: the CI run and, on GitHub Actions, its artifacts."""
    if not ctx.run_url:
        return {}
    links = {"CI run": ctx.run_url}
    if ctx.system == "github-actions":
        links["artifacts"] = f"{ctx.run_url}#artifacts"
    return links


@click.command("gate")
@config_option()
@click.option("--candidate", "candidate_src", default=None, metavar="SRC",
              help=f"Model under test: {source_forms()}; a directory is relative to the config file "
                   "(default: models.candidate).")
@click.option("--baseline", "baseline_src", default=None, metavar="SRC",
              help="Model to compare with, same forms (default: models.baseline; without one, only min/max "
                   "are checked).")
@click.option("--candidate-results", "candidate_results", type=click.Path(), default=None,
              metavar="PATH", help="lm-eval's own output for the candidate, instead of evaluating a model: the "
              "--output_path directory of 'lm_eval ... --log_samples', or its results_*.json (relative to the "
              "current directory).")
@click.option("--baseline-results", "baseline_results", type=click.Path(), default=None,
              metavar="PATH", help="lm-eval's own output for the baseline, same forms.")
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
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Samples per task (overrides eval.limit); with sequential looks, the first look's.")
@click.option("--json", "as_json", is_flag=True,
              help="Print report.json on stdout (for scripts); the table and progress go to stderr.")
def command(config_path: Path | None, candidate_src: str | None, baseline_src: str | None,
            candidate_results: str | None, baseline_results: str | None, report_to: str | None,
            output_dir: Path | None, output_env: Path | None, chart: bool | None, no_cache: bool, no_perf: bool,
            limit: int | None, as_json: bool) -> None:
    """Compare a candidate with thresholds and a baseline: pass, fail or inconclusive.

    Both models run the eval suite (cached by content) and, when perf thresholds exist,
    the benchmark. Either side may instead be lm-eval's own output (--candidate-results,
    --baseline-results: results_*.json with --log_samples samples files), checked against
    the config's tasks, the other side's harness version and its documents. Each threshold is one check: min/max bound the candidate; max_drop
    tolerates a degradation vs the baseline, decided by confidence bounds at gate.alpha:
    pass when the drop's upper bound is within it, fail when its lower bound exceeds it
    (or the drop exceeds hard_max_drop), else inconclusive, which never passes silently:
    gate.on_inconclusive decides its exit code. With eval.limit set, the eval runs in
    sequential looks that add documents only while a check is undecided.

    With eval.backend: local-completions the candidate is the model served at
    eval.endpoint (the blue/green preview check): --candidate supplies the tokenizer
    (unless eval.tokenizer names one) and, when the server reports its model's digest
    (llm-gitops serve does), must be the model it serves, at every look. The baseline is
    then lm-eval output (--baseline-results).

    Writes report.md, report.json (schema llm-gitops/gate-report/v1) and, with --chart
    or report.chart, chart.png; appends the report to $GITHUB_STEP_SUMMARY and
    verdict/report-path to $GITHUB_OUTPUT when those are set, logs the run to MLflow
    (tracking.mlflow) and posts the report as a pull/merge request comment (--report-to).

    \b
    Examples:
      llm-gitops gate
      llm-gitops gate --candidate ./model --baseline models:/adder@production
      llm-gitops gate --baseline dvc:model --limit 200 --report-to none
      llm-gitops gate --candidate-results out/cand --baseline-results out/base
      llm-gitops gate --no-perf --output-dir out/ --output-env gate.env --chart

    \b
    Exit codes: 0 pass (or inconclusive with on_inconclusive pass/neutral),
    1 fail (or inconclusive with on_inconclusive fail), 2 bad config, flag, output
    path, CI variable, model source or lm-eval results (checked first: nothing is
    written; results that do not match the model evaluated beside them are refused
    after its eval, writing only its eval cache entry) or a failed
    post to a forge named by --report-to or report.to on a pass, 3 an internal error
    (a bug), 4 a measurement failed while running, a server at eval.endpoint breaking
    down mid-run included (verdict 'error', written to report.json).
    """
    started = time.perf_counter()
    say = progress_printer()
    candidate_src, baseline_src = source_flag(candidate_src, "--candidate"), source_flag(baseline_src, "--baseline")
    # click would read an empty path (an unset CI variable) as the current directory.
    candidate_results, baseline_results = (
        Path(source_flag(value, flag, example="out/lm-eval")) if value is not None else None
        for value, flag in ((candidate_results, "--candidate-results"), (baseline_results, "--baseline-results")))
    config = load_config(config_path)
    for flag, model_flag, given, other in (("--candidate-results", "--candidate", candidate_results, candidate_src),
                                           ("--baseline-results", "--baseline", baseline_results, baseline_src)):
        if given is not None and other is not None:
            raise ConfigError(f"{flag} and {model_flag}: both given", hint="pass one of them for that side")
    as_results = candidate_results is not None or baseline_results is not None
    if limit is not None and candidate_results is not None and baseline_results is not None:
        raise ConfigError("--limit: both sides are lm-eval results, decided on the documents they scored: there is "
                          "nothing to evaluate, so nothing to limit", hint="drop --limit, or run lm-eval with --limit")
    plan = plan_gate(config, no_perf=no_perf, limit=limit,
                     no_perf_reason="a side is lm-eval results, with no model to benchmark" if as_results else None)
    if candidate_results is not None and config.tracking.mlflow.enabled and config.tracking.mlflow.register_as:
        raise ConfigError(
            f"{config.where('tracking', 'mlflow', 'register_as')}: tracking.mlflow.register_as: a candidate given as "
            "lm-eval results (--candidate-results) has no model to register",
            hint="pass --candidate DIR to register it, or unset register_as")
    candidate_spec = candidate_src or config.models.candidate
    if candidate_spec is None and candidate_results is None:
        raise ConfigError(
            f"{config.where('models')}: models.candidate is not set and no --candidate was given",
            hint="pass --candidate DIR|models:/NAME@ALIAS|dvc:PATH or set models.candidate",
        )
    baseline_spec = None if baseline_results is not None else baseline_src or config.models.baseline
    if config.eval.backend == "local-completions" and candidate_results is None and baseline_spec is not None:
        raise ConfigError(
            f"{config.where('eval', 'backend')}: eval.backend: local-completions evaluates the one server at "
            "eval.endpoint, so the candidate and the baseline would both be that server",
            hint="give the baseline as lm-eval output (--baseline-results), or gate the models with backend hf")
    out_dir = output_dir.resolve() if output_dir is not None else config.resolve_path(config.report.output_dir)
    # Every output path, the CI context (event payload, variables; detected once, here)
    # and every step-output file are checked before anything is measured or written.
    check_output_dir(out_dir, "--output-dir" if output_dir is not None
                     else f"{config.where('report', 'output_dir')}: report.output_dir")
    cache_root = None if no_cache else cache_dir(config.base_dir)
    if cache_root is not None:
        check_output_dir(cache_root, "the cache directory (.llm-gitops/ beside the config, or $LLM_GITOPS_STATE_DIR)")
    ctx = ci_context.detect()
    check_step_outputs(ctx, output_env, {"LLM_GITOPS_REPORT": str(out_dir / REPORT_MD),
                                         "LLM_GITOPS_REPORT_JSON": str(out_dir / REPORT_JSON)})
    from llm_gitops.forges.publish import forge_for, report_target

    target = report_target(report_to, config.report.to)
    # The forge posted to, else (posting off) the job's: a PR the CI names without its head
    # (a comment event) is looked up even then, as whether it is a fork's decides whether it
    # may run here. forge_for has checked that a named forge is the job's.
    forge = forge_for(ctx, target) or ctx.forge
    token = ci_context.forge_token(None, forge) if forge is not None else None
    ctx = _with_pull_request(ctx, forge, token, explicit=target not in ("auto", "none"), base_dir=config.base_dir)
    ci_context.refuse_privileged_fork(ctx, "gate")

    # Bad sources and bad results files are exit 2 before anything is measured or written.
    runs = {}
    if candidate_results is not None:
        candidate, runs["candidate"] = _results_side(plan, candidate_results, "--candidate-results")
    else:
        candidate = command_model(config, candidate_spec, flag="--candidate")
    if baseline_results is not None:
        baseline, runs["baseline"] = _results_side(plan, baseline_results, "--baseline-results")
    else:
        try:
            baseline = (command_model(config, baseline_spec, flag="--baseline", field="models.baseline")
                        if baseline_spec is not None else None)
        except NoSuchModelYet as exc:
            # A team's first model: the baseline it names is registered by the first merge.
            # Relative checks are skipped with a note, not an error that blocks every PR.
            baseline = None
            plan = replace(plan, notes=(*plan.notes, f"the baseline does not exist yet: {redact(str(exc))}"))
    if runs:
        from llm_gitops.evaluation.lm_eval_results import check_sides
        from llm_gitops.evaluation.runner import harness_version

        check_sides(runs.get("candidate"), runs.get("baseline"), installed_harness=harness_version(),
                    baseline_is_model=baseline is not None and "baseline" not in runs)
    # Said once both resolved (and results paired): a bad side's error is then the only line on stderr.
    say(f"gate: candidate {candidate.source} ({candidate.short_digest})")
    if baseline is not None:
        say(f"gate: baseline {baseline.source} ({baseline.short_digest})")

    request = GateRequest(config=config, candidate=candidate, baseline=baseline, limit=limit, no_perf=no_perf,
                          cache_root=cache_root, chart=config.report.chart if chart is None else chart,
                          candidate_eval=runs["candidate"].results if "candidate" in runs else None,
                          baseline_eval=runs["baseline"].results if "baseline" in runs else None,
                          links=report_links(ctx), started=started)
    from llm_gitops.evaluation.endpoint import located

    with located(config.where):  # eval.endpoint / eval.tokenizer errors name the config's FILE:LINE
        result = run_gate(request, progress=say, plan=plan)
    if result.failure_detail:
        # One line, not a traceback: the measurement (not the input) failed; the details are in a log.
        from llm_gitops.cli import write_log

        log = write_log(result.failure_detail, kind="gate")
        click.echo(f"error: {redact(result.outcome.error or 'a measurement failed')} (verdict 'error'; "
                   f"the traceback is in {log})", err=True)
    code = _write_publish_track(config, result, out_dir, output_env, target, candidate, say, ctx=ctx, token=token,
                                decisions=DecisionCache(cache_root) if cache_root is not None else None)
    if as_json:
        click.echo(result.rendered.text, nl=False, err=True)
        click.echo(result.rendered.json, nl=not result.rendered.json.endswith("\n"))
    else:
        click.echo(result.rendered.text, nl=False)
    if code:
        # SystemExit, not click's Exit: the entry point runs click with
        # standalone_mode=False, where click turns Exit into a discarded return value.
        raise SystemExit(code)


def _with_pull_request(ctx: ci_context.CiContext, forge: str | None, token: ci_context.ForgeToken | None, *,
                       explicit: bool, base_dir: Path) -> ci_context.CiContext:
    """The context with the PR head the forge names, where the CI's variables do not (see
    ``forges.publish.pull_request_context``). A forge that cannot be asked is an error when
    posting was asked for by name; under 'auto' it is a warning, and nothing is posted."""
    from llm_gitops.forges.publish import pull_request_context

    if ctx.pr_number is None or ctx.head_sha is not None:
        return ctx  # nothing to look up (and no git to ask)
    try:
        return pull_request_context(ctx, forge, token, head_and_parents(base_dir))
    except ExternalServiceError as exc:
        if explicit:
            raise
        click.echo(f"warning: the report will not be posted: {redact(str(exc))}", err=True)
        return ctx


def _results_side(plan: GatePlan, path: Path, label: str):
    """(ResolvedModel standing for them, LmEvalRun) of lm-eval output given for one side."""
    from llm_gitops.evaluation.lm_eval_results import results_side

    required = {t.metric for t in plan.thresholds if not t.metric.startswith(PERF_PREFIX)}
    return results_side(path, label=label, settings=plan.config.eval, base_dir=plan.config.base_dir,
                        required_metrics=required)


def _write_publish_track(config: Config, result: GateRun, out_dir: Path, output_env: Path | None, target: str,
                         candidate: ResolvedModel, say, *, ctx: ci_context.CiContext,
                         token: ci_context.ForgeToken | None, decisions: DecisionCache | None) -> int:
    """Write the reports and step outputs, post, log to MLflow; returns the exit code."""
    tracking = _Tracking.plan(config, result, candidate, say, commit=ctx.head_sha or head_commit(config.base_dir) or "",
                              decisions=decisions)
    if tracking is not None and tracking.linkable:
        # A tracking server has a page a reviewer can open: make the run first, so that the
        # report and the comment link it (one comment, not one edited afterwards).
        result = tracking.link(result)
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

    # Else post first: the reviewer's comment should not wait for MLflow's slow import.
    code = rendered.exit_code
    if target != "none":
        code = _publish(config, rendered, target, code, say, ctx=ctx, token=token)
    if tracking is not None:
        tracking.log(result, [md_path, json_path] + ([png_path] if png_path else []))
    return code


class _Tracking:
    """The gate's MLflow run: reused when this decision was logged at this commit, else logged.

    A tracking failure is a warning: the verdict stands. The commit is what the run is
    recorded against: the PR head from the CI context when there is one (on a GitHub
    pull_request checkout HEAD is a merge commit, not what the commit status is set on),
    else HEAD.
    """

    def __init__(self, config: Config, result: GateRun, candidate: ResolvedModel, say, *, commit: str,
                 decisions: DecisionCache | None, uri: str, already: tuple[str, str | None] | None):
        self.config, self.candidate, self.say, self.commit, self.decisions = config, candidate, say, commit, decisions
        self.key, self.uri, self.already = result.decision_key, uri, already
        self.started = None  # the run made before the report (a linkable store)
        self.unreachable = False  # the run could not be made: nothing to log after posting

    @classmethod
    def plan(cls, config: Config, result: GateRun, candidate: ResolvedModel, say, *, commit: str,
             decisions: DecisionCache | None) -> "_Tracking | None":
        if result.rendered.verdict == "error" or not config.tracking.mlflow.enabled:
            return None
        from llm_gitops.tracking.store import resolve_tracking_uri, sqlite_path

        uri = resolve_tracking_uri(config)
        key = result.decision_key
        already = decisions.tracked_run(key, uri, commit) if decisions is not None and key is not None else None
        store = sqlite_path(uri)
        if already and store is not None and not store.is_file():
            already = None  # the local store was deleted: log the decision again
        return cls(config, result, candidate, say, commit=commit, decisions=decisions, uri=uri, already=already)

    @property
    def linkable(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    def link(self, result: GateRun) -> GateRun:
        """``result`` with the MLflow run's page among its links (the run created if new)."""
        from llm_gitops.tracking.mlflow_tracking import start_gate_run

        url = self.already[1] if self.already else None
        if self.already is None:
            try:
                self.started = start_gate_run(self.config, candidate=self.candidate, git_sha=self.commit or None)
            except LlmGitopsError as exc:
                click.echo(f"warning: the gate run was not logged to MLflow: {redact(str(exc))}", err=True)
                self.unreachable = True
                return result
            url = self.started.url
        return result.with_outcome(links={**result.outcome.links, MLFLOW_LINK: url}, root=self.config.base_dir) if url else result

    def log(self, result: GateRun, artifacts: list[Path]) -> None:
        from llm_gitops.tracking.mlflow_tracking import log_gate_run

        if self.unreachable:
            return
        if self.already:
            self.say(f"gate: already logged as MLflow run {self.already[0]}")
            return
        try:
            record = log_gate_run(self.config, report=json.loads(result.rendered.json), artifacts=artifacts,
                                  candidate=self.candidate, git_sha=self.commit or None,
                                  run=self.started)
        except LlmGitopsError as exc:
            click.echo(f"warning: the gate run was not logged to MLflow: {redact(str(exc))}", err=True)
            return
        registered = f", registered version {record.model_version}" if getattr(record, "model_version", None) else ""
        url = getattr(record, "url", None)
        self.say(f"gate: logged MLflow run {record.run_id}{registered}" + (f" ({url})" if url else ""))
        if self.decisions is not None and self.key is not None:
            self.decisions.add_tracked(self.key, self.uri, self.commit, record.run_id,
                                       getattr(record, "url", None))


def _publish(config: Config, rendered: RenderedGate, target: str, code: int, say, *, ctx: ci_context.CiContext,
             token: ci_context.ForgeToken | None) -> int:
    """Post the report; returns the exit code (a failed post to a target named by
    --report-to or report.to turns a pass into 2; under 'auto' it is a warning)."""
    from llm_gitops.forges.publish import publish_gate_report

    # The raw verdict goes to the forge: publish maps 'inconclusive' to a commit state
    # through the same gate.on_inconclusive policy that decided the exit code.
    try:
        # A report that is not posted is shown on stderr: stdout carries only the table (or --json).
        result = publish_gate_report(markdown=rendered.comment, verdict=rendered.verdict, summary=rendered.summary,
                                     ctx=ctx, token=token, target=target, config=config,
                                     echo=lambda text: click.echo(text, err=True))
    except LlmGitopsError as exc:
        explicit = target != "auto"
        click.echo(f"{'error' if explicit else 'warning'}: posting the report ({target}) failed: {redact(str(exc))}",
                   err=True)
        # A post that was asked for by name and fails is exit 2 (the reports are written),
        # but it never hides a failing verdict's own exit code.
        return exc.exit_code if (code == 0 and explicit) else code
    if result.posted:
        say(f"gate: report posted: {result.comment_url or result.reason}")
    else:
        say(f"gate: report not posted: {result.reason}")
    return code
