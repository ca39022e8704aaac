"""``llm-gitops serve``: an OpenAI-compatible completion server with Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops.commands.options import config_option


@click.command("serve")
@click.option("--model", "model_source", required=True, metavar="SRC",
              help="Model to serve: a directory (plain or a quantize artifact), models:/NAME/VERSION, "
                   "models:/NAME@ALIAS or dvc:PATH.")
@config_option("Config file whose MLflow store resolves models:/ sources (default: none; the local store).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Use 0.0.0.0 inside a container so a published port reaches it.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--color", type=click.Choice(["blue", "green"]), default=None, envvar="LLM_GITOPS_COLOR",
              help="Blue/green slot this server runs in; a label on its metrics. [env: LLM_GITOPS_COLOR]")
@click.option("--model-version", default=None, envvar="LLM_GITOPS_MODEL_VERSION",
              help="Version label on the metrics (e.g. the registry version or git sha). "
                   "[env: LLM_GITOPS_MODEL_VERSION]")
@click.option("--model-name", default=None, help="Name returned as 'model' in responses (default: the directory name).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes. Each loads its own copy of the model and keeps its own metrics; "
                   "on CPU one worker already uses every core, so 1 is usually fastest.")
@click.option("--max-tokens", default=256, show_default=True, type=click.IntRange(1),
              help="Largest max_tokens a request may ask for.")
@click.option("--max-prompt-chars", default=8192, show_default=True, type=click.IntRange(1),
              help="Longest prompt accepted, in characters.")
@click.option("--max-queue", default=16, show_default=True, type=click.IntRange(0, 10_000),
              help="Completions that may wait for the model (one runs at a time, per worker); more are refused at "
                   "once with 429 and Retry-After instead of timing out in a long queue.")
@click.option("--request-timeout", default=60.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Seconds a completion may take, queueing included; then its generation stops and it gets 504.")
@click.option("--threads", default=None, type=click.IntRange(1, 1024),
              help="CPU threads one generation uses (default: torch's, one per core it sees). Set it to the cores "
                   "this container really gets: more threads than cores spin-wait on each other (10x slower).")
@click.option("--drain-seconds", default=5.0, show_default=True, type=click.FloatRange(0),
              help="After SIGTERM, answer /readyz 503 this long (still serving) before closing.")
@click.option("--graceful-timeout", default=30.0, show_default=True, type=click.FloatRange(0),
              help="After draining, wait this long for in-flight requests before cancelling them.")
def command(model_source: str, config_path: Path | None, host: str, port: int, color: str | None,
            model_version: str | None, model_name: str | None, workers: int, max_tokens: int,
            max_prompt_chars: int, max_queue: int, request_timeout: float, threads: int | None,
            drain_seconds: float, graceful_timeout: float) -> None:
    """Serve a model over an OpenAI-compatible HTTP API.

    \b
    Routes:
      POST /v1/completions  {"prompt": "12+34=", "max_tokens": 4, "temperature": 0}
      GET  /v1/models       the served model
      GET  /healthz         200 while alive
      GET  /readyz          200 once loaded and warmed up; 503 while loading or draining
      GET  /metrics         Prometheus: llm_gitops_requests_total{route,method,status},
                            llm_gitops_request_duration_seconds, llm_gitops_generated_tokens_total,
                            llm_gitops_model_info{digest,version,color,method}
    Temperature 0 is greedy decoding; echo and logprobs give token log-probabilities
    (lm-eval's local-completions model can score loglikelihood tasks against it). Bad
    requests get OpenAI-shaped 4xx errors naming the field. Load is bounded: 429 with
    Retry-After when --max-queue requests already wait, 504 after --request-timeout, and
    a client that disconnects stops its generation (counted in
    llm_gitops_requests_rejected_total and llm_gitops_requests_cancelled_total).

    \b
    Shutdown: on SIGTERM /readyz turns 503 for --drain-seconds while requests are
    still answered, then in-flight requests finish and the process exits 0.

    \b
    Examples:
      llm-gitops serve --model ./model
      llm-gitops serve --model ./model-int8 --host 0.0.0.0 --port 8080 --color green
      curl -s localhost:8000/v1/completions -H 'content-type: application/json' \\
           -d '{"prompt": "12+34=", "max_tokens": 3, "temperature": 0}'
    """
    from llm_gitops.commands.preflight import source_flag
    from llm_gitops.models.sources import resolve_model
    from llm_gitops.serve.server import ServeOptions, serve

    tracking_uri = None
    base_dir = Path.cwd()
    if config_path is not None:
        from llm_gitops.config import load_config
        from llm_gitops.tracking.mlflow_tracking import resolve_tracking_uri

        config = load_config(config_path)
        base_dir, tracking_uri = config.base_dir, resolve_tracking_uri(config)
    model = resolve_model(source_flag(model_source, "--model"), base_dir=base_dir, tracking_uri=tracking_uri)
    click.echo(f"serving {model.source} ({model.digest[:19]}) on http://{host}:{port}", err=True)
    options = ServeOptions(
        model_dir=str(model.path), digest=model.digest, color=color, model_name=model_name,
        model_version=model_version, max_prompt_chars=max_prompt_chars, max_tokens=max_tokens,
        max_queue=max_queue, request_timeout=request_timeout, threads=threads, drain_seconds=drain_seconds,
    )
    serve(options, host=host, port=port, workers=workers, graceful_timeout=graceful_timeout)
