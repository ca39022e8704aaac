"""Running the real lm-evaluation-harness on a model, cached by content.

The cache key covers everything that decides the numbers: the model's content digest,
the task suite's content hash (configs and data files), the eval settings, the lm-eval
version and this module's results schema. A hit is answered from JSON before torch or
lm-eval are imported, so a re-run of an unchanged PR costs well under a second.

The model is loaded through ``llm_gitops.models.loader.load_model`` and handed to
lm-eval's ``HFLM`` as an object, so quantized artifacts are evaluated exactly as they
are served.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import sys
import tempfile
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

from llm_gitops.cache import ResultCache, content_key
from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError, MeasurementFailed
from llm_gitops.evaluation.endpoint import Served
from llm_gitops.evaluation.placement import Placement, resolve_placement
from llm_gitops.evaluation.resident import ResidentModels, weight_bytes
from llm_gitops.evaluation.results import EVAL_SCHEMA, EvalResults, MetricResult, sample_hash
from llm_gitops.evaluation.tasks import (
    DEFAULT_FILTER,
    TaskSuite,
    builtin_task_manager,
    check_builtin_names,
    metric_key,
    resolve_tasks,
)
from llm_gitops.gc_pause import import_libraries
from llm_gitops.models.loaded import MODEL_LIBRARIES
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.timestamps import utc_timestamp

log = logging.getLogger(__name__)

CACHE_NAMESPACE = "eval"
# Bump when a change here alters results for the same inputs (invalidates old entries).
RUNNER_REVISION = 1
# Loggers that narrate every request at INFO/WARNING; quiet unless the user asked for -v.
_NOISY_LOGGERS = ("lm_eval", "lm-eval", "datasets", "transformers", "accelerate", "evaluate", "filelock")

Progress = Callable[[str], None]


def harness_version() -> str:
    """lm-eval's installed version, read from package metadata (no import)."""
    try:
        return metadata.version("lm_eval")
    except metadata.PackageNotFoundError:
        return "not-installed"


def eval_settings(settings: EvalSection, suite: TaskSuite, placement: Placement | None = None) -> dict[str, Any]:
    """The settings recorded in results and hashed into the cache key.

    ``placement`` is the resolved device and dtype (``auto`` made concrete); without
    it the configured values are recorded.
    """
    recorded: dict[str, Any] = {
        "backend": settings.backend,
        "device": placement.device if placement else settings.device,
        "dtype": placement.dtype if placement else settings.dtype,
        "tasks": suite.names,
        "limit": settings.limit,
        "sampling": settings.sampling,
        "num_fewshot": settings.num_fewshot,
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "max_gen_toks": settings.max_gen_toks,
    }
    if settings.backend == "vllm":
        recorded["vllm"] = settings.vllm.model_dump(mode="json")
    return recorded


def eval_cache_key(model_digest: str, suite: TaskSuite, settings: dict[str, Any], version: str) -> str:
    return content_key(
        {
            "schema": EVAL_SCHEMA,
            "runner": RUNNER_REVISION,
            "model": model_digest,
            "tasks": suite.config_hash,
            "settings": settings,
            "lm_eval": version,
        }
    )


def sample_indices(task_name: str, total: int, limit: int, seed: int) -> list[int]:
    """A seeded random subset of ``limit`` doc indices out of ``total``, ascending.

    Seeded by (seed, task), so candidate and baseline see the same docs and can be
    paired. Ascending order matters: lm-eval maps results back to doc ids by position.
    """
    rng = random.Random(f"{seed}:{task_name}")
    return sorted(rng.sample(range(total), limit))


def document_order(task_name: str, total: int, seed: int, sampling: str = "random") -> list[int]:
    """Every doc index of a task in the order sequential looks evaluate them.

    A seeded permutation (seeded by (seed, task), so both models get the same order), or
    the split's own order for ``sampling: first``. Look k evaluates a prefix of it, so
    each look's documents include the earlier looks'.
    """
    order = list(range(total))
    if sampling == "random":
        random.Random(f"{seed}:{task_name}:order").shuffle(order)
    return order


def _number(value: Any) -> float | None:
    """A plain float from a Python/numpy scalar; None for anything else ('N/A', tuples)."""
    if isinstance(value, str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def extract_metrics(res: dict[str, Any], task_names: list[str]) -> dict[str, MetricResult]:
    """Turn lm-eval's results dict into MetricResults with per-sample scores.

    ``res["results"][task]`` holds ``"<metric>,<filter>"`` and ``"<metric>_stderr,<filter>"``;
    ``res["samples"][task]`` holds one record per (doc, filter) with each metric's value.
    """
    out: dict[str, MetricResult] = {}
    for task in task_names:
        values = res.get("results", {}).get(task)
        if values is None:
            raise EvalError(f"lm-eval returned no results for task {task!r}", hint="check the task's YAML and data")
        higher = res.get("higher_is_better", {}).get(task, {}) or {}
        n_info = res.get("n-samples", {}).get(task, {}) or {}
        records = (res.get("samples") or {}).get(task, []) or []
        for key, raw in values.items():
            if "," not in key or key.split(",", 1)[0].endswith("_stderr"):
                continue
            metric, filter_name = key.split(",", 1)
            value = _number(raw)
            if value is None:
                continue
            stderr = _number(values.get(f"{metric}_stderr,{filter_name}"))
            if stderr is not None and math.isnan(stderr):
                stderr = None
            pairs = []
            for rec in records:
                if rec.get("filter", DEFAULT_FILTER) != filter_name or metric not in rec:
                    continue
                score = _number(rec[metric])
                if score is None:  # a corpus-level metric (bleu...): no per-sample score
                    pairs = []
                    break
                pairs.append((int(rec["doc_id"]), score))
            pairs.sort()
            n = len(pairs) or int(n_info.get("effective", 0) or 0)
            out[metric_key(task, metric, filter_name)] = MetricResult(
                task=task,
                metric=metric,
                value=value,
                stderr=stderr,
                n=n,
                higher_is_better=higher.get(metric) is not False,  # lm-eval says None for "unknown": higher, as for results
                doc_ids=tuple(d for d, _ in pairs),
                scores=tuple(s for _, s in pairs),
            )
    return out


def extract_sample_hashes(res: dict[str, Any], task_names: list[str]) -> dict[str, dict[int, str]]:
    """task -> doc id -> ``sample_hash`` of lm-eval's per-sample records (none for records
    without hashes)."""
    out: dict[str, dict[int, str]] = {}
    for task in task_names:
        for rec in (res.get("samples") or {}).get(task, []) or []:
            hashes = [rec.get(k) for k in ("doc_hash", "prompt_hash", "target_hash")]
            if all(isinstance(h, str) for h in hashes):
                out.setdefault(task, {})[int(rec["doc_id"])] = sample_hash(*hashes)
    return out


@contextlib.contextmanager
def _quiet_logs(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    saved = {}
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# lm-eval modules that draw progress bars with a module-level ``tqdm`` name.
_TQDM_MODULES = ("lm_eval.api.task", "lm_eval.api.model", "lm_eval.models.huggingface", "lm_eval.models.api_models")
# What an evaluation imports, imported up front before any model is loaded (gc_pause);
# a served model needs no modeling code here.
SERVED_EVAL_LIBRARIES = ("datasets", "lm_eval", "lm_eval.evaluator", *_TQDM_MODULES)
EVAL_LIBRARIES = (*SERVED_EVAL_LIBRARIES, *MODEL_LIBRARIES)


@contextlib.contextmanager
def _quiet_progress(enabled: bool) -> Iterator[None]:
    """Hide progress bars (lm-eval's, datasets', transformers') in CI logs unless -v.

    lm-eval passes ``disable=False`` explicitly, so tqdm's environment switch can't
    reach its bars; its modules' ``tqdm`` name is swapped for the duration instead.
    """
    if not enabled:
        yield
        return
    import importlib

    import datasets
    import transformers
    from tqdm import tqdm

    def silent_tqdm(*args: Any, **kwargs: Any):
        kwargs["disable"] = True
        return tqdm(*args, **kwargs)

    modules = [importlib.import_module(name) for name in _TQDM_MODULES]
    saved = [getattr(m, "tqdm", None) for m in modules]
    datasets_were_off = datasets.is_progress_bar_enabled() is False
    transformers_were_off = not transformers.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    for module in modules:
        if hasattr(module, "tqdm"):
            module.tqdm = silent_tqdm
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            if original is not None:
                module.tqdm = original
        if not datasets_were_off:
            datasets.enable_progress_bars()
        if not transformers_were_off:
            transformers.utils.logging.enable_progress_bar()


# What ``simple_evaluate`` adds to its results about the machine, and how: ``pip list``
# and ``git`` in subprocesses on every call (a quarter second per call here, more in a
# large environment; outside a git checkout git prints "fatal: not a git repository").
# The runner keeps none of it: results record the harness version and the model's digest.
_ENVIRONMENT_REPORT = ("add_env_info", "get_git_commit_hash")


@contextlib.contextmanager
def _no_environment_report() -> Iterator[None]:
    """Skip lm-eval's per-call environment report (a no-op where lm-eval has no such hook)."""
    import lm_eval.evaluator as evaluator

    saved = {name: getattr(evaluator, name) for name in _ENVIRONMENT_REPORT if hasattr(evaluator, name)}
    for name in saved:
        setattr(evaluator, name, lambda *args, **kwargs: None)
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(evaluator, name, original)


@contextlib.contextmanager
def _no_retie(model: Any, retie_safe: bool) -> Iterator[None]:
    """Keep HFLM's ``tie_weights()`` from re-tying a quantized head (it breaks or undoes it)."""
    if retie_safe:
        yield
        return
    model.tie_weights = lambda *args, **kwargs: None
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            del model.tie_weights


def _check_served(served: Served, model: ResolvedModel, expect_digest: str | None) -> None:
    """EvalError when the server reports serving another model than ``expect_digest``
    (a gate's candidate or baseline): its scores would be gated as that model's."""
    digest = served.endpoint.digest
    if expect_digest is None or digest is None or digest == expect_digest:
        return
    raise EvalError(
        f"eval.endpoint {served.endpoint.completions_url} serves {digest[:19]} (model {served.endpoint.model_id!r}), "
        f"but {model.source} is {expect_digest[:19]}: the served model's scores would be reported as another's",
        hint="serve that model there (llm-gitops serve --model DIR), or gate the model that is served")


@contextlib.contextmanager
def _server_failures(settings: EvalSection, served: Served | None) -> Iterator[None]:
    """A server that fails or answers garbage mid-run (after the probe passed) is named as eval.endpoint."""
    if served is None:
        yield
        return
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - lm-eval's API client raises HTTP, retry and parse errors alike
        text = str(exc).strip().splitlines()
        # Not exit 2: every input was checked (the probe passed), and a retry may succeed.
        raise MeasurementFailed(
            f"eval.endpoint {settings.endpoint}: the server failed during the evaluation "
            f"({type(exc).__name__}{': ' + text[0][:200] if text else ''})",
            hint="check the server's log and that it serves the model of eval.tokenizer, then re-run",
        ) from None


@contextlib.contextmanager
def _lm_for(model: ResolvedModel, settings: EvalSection, placement: Placement, served: Served | None = None) -> Iterator[Any]:
    """The lm-eval model for ``model``: a name plus model args, or a loaded HFLM.

    An adapter goes to lm-eval as its base plus ``peft=`` (``lora_local_path`` on vLLM),
    so lm-eval applies it itself. ``served``: the server at eval.endpoint instead.
    """
    from lm_eval.api.registry import get_model

    if served is not None:
        from llm_gitops.evaluation.endpoint import completions_model_args

        yield get_model("local-completions").create_from_arg_obj(completions_model_args(
            served.endpoint, served.tokenizer, seed=settings.seed, max_gen_toks=settings.max_gen_toks))
        return

    from llm_gitops.evaluation.backends import hf_peft_model_args, vllm_model_args
    from llm_gitops.models.adapters import base_dir_of, is_adapter

    adapter = model.path if is_adapter(model.path) else None
    if settings.backend == "vllm":
        pretrained = base_dir_of(adapter) if adapter else model.path
        yield get_model("vllm").create_from_arg_obj(vllm_model_args(pretrained, settings, placement, adapter_dir=adapter))
        return
    if adapter is not None:
        yield get_model("hf").create_from_arg_obj(hf_peft_model_args(base_dir_of(adapter), adapter, settings, placement))
        return
    from lm_eval.models.huggingface import HFLM

    from llm_gitops.models.loader import load_model

    loaded = load_model(model.path, device=placement.device, dtype=placement.dtype)
    with _no_retie(loaded.model, loaded.retie_safe):
        yield HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=settings.batch_size)


def run_eval(
    model: ResolvedModel,
    settings: EvalSection,
    *,
    base_dir: Path,
    cache_root: Path | None,
    progress: Progress | None = None,
    order_slice: tuple[int, int] | None = None,
    documents: dict[str, list[int]] | None = None,
    resident: ResidentModels | None = None,
    suite: TaskSuite | None = None,
    expect_digest: str | None = None,
) -> EvalResults:
    """Evaluate ``model`` on the suite in ``settings`` (or answer from the cache).

    ``cache_root`` None disables the cache (no read, no write). ``order_slice`` (start,
    stop): evaluate only the documents at those positions of each task's
    ``document_order`` (a sequential look's new documents, cached on their own), instead
    of ``limit``; the results' settings then record ``split_sizes`` (documents per task).
    ``documents``: evaluate exactly these doc ids per task (a deploy's smoke eval repeats
    the documents a release recorded); tasks not named are not evaluated. ``resident``:
    keep the loaded model there for the next call (a gate's next look) instead of
    unloading it when this one ends. ``suite``: ``settings``' tasks resolved already
    (a gate resolves them once for all its calls). ``expect_digest``: with a served
    model, the digest it must report being (a gate's candidate or baseline; checked at
    every call, so a server that changes models between a gate's looks is caught).
    """
    say = progress or (lambda _msg: None)
    suite = suite if suite is not None else resolve_tasks(settings, base_dir=base_dir)
    version = harness_version()
    # An adapter runs in its base's dtype.
    placement = resolve_placement(settings.device, settings.dtype, model.base.path if model.base else model.path)
    recorded = eval_settings(settings, suite, placement)
    if order_slice is not None:
        recorded = {**recorded, "limit": None, "order_slice": list(order_slice)}
    if documents is not None:
        recorded = {**recorded, "limit": None, "documents": {t: sorted(ids) for t, ids in sorted(documents.items())}}
    served = None
    if settings.backend == "local-completions":
        from llm_gitops.evaluation.endpoint import served_target

        # The server is the model: its identity keys the results (none known: not cached).
        served = served_target(settings.endpoint or "", suite, tokenizer=settings.tokenizer, model_dir=model.path,
                               base_dir=base_dir)
        _check_served(served, model, expect_digest)
        model = replace(model, digest=served.endpoint.model_digest, source=served.endpoint.completions_url)
        recorded = {**recorded, "endpoint": served.endpoint.identity()}
    model_part = served.key_part if served is not None else model.digest
    key = eval_cache_key(model_part, suite, recorded, version) if model_part else ""
    cache = ResultCache(cache_root, CACHE_NAMESPACE) if cache_root is not None and key else None
    asked = {t: sorted(ids) for t, ids in documents.items() if ids} if documents is not None else None
    # Given documents of several tasks (a sequential look's, for the tasks still undecided)
    # are cached per task, under the key a call for that task alone has: another gate
    # against the same baseline, with other tasks undecided at that look, reuses them.
    task_keys = ({t: eval_cache_key(model_part, suite, {**recorded, "documents": {t: ids}}, version)
                  for t, ids in asked.items()} if cache is not None and asked is not None and len(asked) > 1 else None)
    def cached_whole() -> EvalResults | None:
        results = _cached(cache, key) if cache is not None else None
        if results is None:
            return None
        say(f"eval: cache hit for {model.short_digest} ({', '.join(asked if asked is not None else suite.names)})")
        return replace(results, model_source=model.source)

    # Read before the lock too, so that a hit (every look of a re-run) takes none.
    if (answered := cached_whole()) is not None:
        return answered
    # One process of this machine evaluates a model on given documents: another asking for
    # them meanwhile (a second CI job gating against the same baseline) waits, then finds them cached.
    with (cache.alone(key, on_wait=lambda: say(f"eval: waiting for another llm-gitops run evaluating "
                                               f"{model.short_digest} on the same documents"))
          if cache is not None else contextlib.nullcontext()):
        found: dict[str, EvalResults] = {}
        if cache is not None:
            if (answered := cached_whole()) is not None:  # evaluated by the run waited for
                return answered
            if task_keys is not None:
                found = {t: hit for t, k in task_keys.items() if (hit := _cached(cache, k)) is not None}
                if found:
                    say(f"eval: cache hit for {model.short_digest} ({', '.join(found)})")
                if len(found) == len(task_keys):
                    return _tasks_joined([found[t] for t in asked], model_source=model.source, settings=recorded, key=key)
                documents = {t: ids for t, ids in asked.items() if t not in found}

        started = time.perf_counter()
        quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
        import_libraries(*(EVAL_LIBRARIES if served is None else SERVED_EVAL_LIBRARIES))
        with _quiet_logs(quiet), _quiet_progress(quiet), tempfile.TemporaryDirectory(prefix="llm-gitops-tasks-") as tmp:
            res, leaf_tasks = _evaluate(model, settings, placement, suite, Path(tmp), say, order_slice, served, documents,
                                        resident)
        metrics = extract_metrics(res, leaf_tasks)
        if order_slice is not None:
            sizes = {t: int((res.get("n-samples", {}).get(t) or {}).get("original", 0)) for t in res.get("n-samples", {})}
            recorded = {**recorded, "split_sizes": sizes}
        duration = round(time.perf_counter() - started, 3)
        results = EvalResults(
            model_digest=model.digest,
            model_source=model.source,
            harness_version=version,
            task_config_hash=suite.config_hash,
            settings=recorded,
            metrics=metrics,
            created_at=utc_timestamp(),
            duration_s=duration,
            cache_key=key,
            sample_hashes=extract_sample_hashes(res, leaf_tasks),
        )
        if task_keys is not None:
            fresh = {t: _task_part(results, t, {**recorded, "documents": {t: documents[t]}}, task_keys[t],
                                   len(documents[t]) / sum(map(len, documents.values())))
                     for t in documents}
            for t, part in fresh.items():
                cache.put(task_keys[t], part.to_json())
            results = _tasks_joined([found[t] if t in found else fresh[t] for t in asked], model_source=model.source,
                                    settings=recorded, key=key)
        elif cache is not None:
            cache.put(key, results.to_json())
        say(f"eval: done in {duration:.1f}s")
        return results


def _cached(cache: ResultCache, key: str) -> EvalResults | None:
    """The cache's results under ``key``; None when absent or from an incompatible build."""
    hit = cache.get(key)
    if hit is None:
        return None
    try:
        return EvalResults.from_json(hit, cached=True)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # an entry from an incompatible build: recompute


def _task_part(results: EvalResults, task: str, settings: dict[str, Any], key: str, share: float) -> EvalResults:
    """``results``' part for ``task`` (its metrics and sample hashes), as a call for that task alone records it."""
    return replace(results, settings=settings, cache_key=key, duration_s=round(results.duration_s * share, 3),
                   metrics={k: m for k, m in results.metrics.items() if m.task == task},
                   sample_hashes={t: h for t, h in results.sample_hashes.items() if t == task})


def _tasks_joined(parts: list[EvalResults], *, model_source: str, settings: dict[str, Any], key: str) -> EvalResults:
    """Per-task results (each of one task's given documents) as the one call that asked for them all."""
    return replace(parts[0], model_source=model_source, settings=settings, cache_key=key,
                   metrics={k: m for p in parts for k, m in p.metrics.items()},
                   sample_hashes={t: h for p in parts for t, h in p.sample_hashes.items()},
                   duration_s=round(sum(p.duration_s for p in parts), 3), cached=all(p.cached for p in parts))


def _evaluate(
    model: ResolvedModel, settings: EvalSection, placement: Placement, suite: TaskSuite, tmp: Path, say: Progress,
    order_slice: tuple[int, int] | None = None, served: Served | None = None,
    documents: dict[str, list[int]] | None = None, resident: ResidentModels | None = None,
) -> tuple[dict, list[str]]:
    """The cache-miss path: everything heavy is imported here.

    Returns lm-eval's results and the leaf task names (a built-in group or tag expands
    to its tasks; each is reported on its own).
    """
    if settings.backend == "vllm":
        from llm_gitops.evaluation.backends import require_vllm

        require_vllm(placement, model.path)  # before minutes of task loading
    include_dir = suite.write_include_dir(tmp / "tasks")
    # Building lm-eval's built-in index takes seconds: only when a built-in name is used.
    manager = builtin_task_manager(include_dir, include_defaults=suite.has_builtin)
    if suite.has_builtin:
        check_builtin_names(suite, manager)

    try:
        loaded = manager.load(suite.names)
    except Exception as exc:  # noqa: BLE001 - lm-eval raises many types for a bad task/dataset
        raise EvalError(
            f"eval.tasks: lm-eval could not load {', '.join(suite.names)}: {type(exc).__name__}: {exc}",
            hint="check each task YAML's dataset_path/dataset_kwargs and splits",
        ) from None
    tasks = list(loaded["tasks"].values())

    limit: int | None = settings.limit
    samples: dict[str, list[int]] | None = None
    if settings.limit is not None and settings.sampling == "random":
        samples = {}
        for name, task in loaded["tasks"].items():
            total = len(task.eval_docs)
            if settings.limit < total:
                samples[name] = sample_indices(name, total, settings.limit, settings.seed)
        # lm-eval takes either a limit or explicit samples; tasks not in ``samples`` run whole.
        samples = samples or None
        limit = None
    if order_slice is not None:
        start, stop = order_slice
        samples = {name: sorted(document_order(name, len(task.eval_docs), settings.seed, settings.sampling)[start:stop])
                   for name, task in loaded["tasks"].items()}
        # A task whose split ended before this slice has nothing left to evaluate.
        tasks = [task for name, task in loaded["tasks"].items() if samples[name]]
        samples = {name: docs for name, docs in samples.items() if docs}
        limit = None
    if documents is not None:
        samples = {name: sorted(documents[name]) for name in loaded["tasks"] if documents.get(name)}
        tasks = [task for name, task in loaded["tasks"].items() if name in samples]
        limit = None

    # A served model costs nothing to keep: only what this process loads is kept resident.
    resident = resident if served is None else None
    loaded_as = (model.digest, str(model.path), placement)
    if served is not None:
        say(f"eval: asking {served.endpoint.completions_url} (model {served.endpoint.model_id})")
    elif resident is not None and resident.holds(loaded_as):
        say(f"eval: model {model.source} ({model.short_digest}) still loaded")
    else:
        say(f"eval: loading model {model.source} ({model.short_digest}) on {placement.device} in {placement.dtype}")
    import lm_eval

    gen_kwargs = {"max_gen_toks": settings.max_gen_toks} if settings.max_gen_toks else None
    with contextlib.ExitStack() as stack:
        if resident is not None:
            lm = resident.get(loaded_as, lambda: _lm_for(model, settings, placement), device=placement.device,
                              need_bytes=lambda: weight_bytes(model), exclusive=settings.backend == "vllm")
        else:
            lm = stack.enter_context(_lm_for(model, settings, placement, served))
        stack.enter_context(_server_failures(settings, served))
        stack.enter_context(_no_environment_report())
        # lm-eval prints some progress (e.g. "bootstrapping for stddev: perplexity") on
        # stdout, which is the command's own output: report.json under --json.
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        if order_slice is not None:
            scope = f" (documents {order_slice[0]}-{order_slice[1]} of each task's {settings.sampling} order)"
        elif documents is not None:
            scope = " (given documents: " + ", ".join(f"{name} {len(ids)}" for name, ids in samples.items()) + ")"
        else:
            scope = f" (limit {settings.limit}, {settings.sampling})" if settings.limit else ""
        # A look's slice or given documents may leave tasks out (decided, or their split ended).
        running = list(samples or {}) if order_slice is not None or documents is not None else suite.names
        say(f"eval: running {', '.join(running)}{scope}")
        res = lm_eval.simple_evaluate(
            model=lm,
            tasks=tasks,
            task_manager=manager,
            num_fewshot=settings.num_fewshot,
            batch_size=settings.batch_size,
            device=placement.device,
            limit=limit,
            samples=samples,
            log_samples=True,
            gen_kwargs=gen_kwargs,
            random_seed=settings.seed,
            numpy_random_seed=settings.seed,
            torch_random_seed=settings.seed,
            fewshot_random_seed=settings.seed,
        )
    if res is None:
        raise EvalError("lm-eval returned no results", hint="run with -v to see lm-eval's log")
    return res, list(loaded["tasks"]) if order_slice is None and documents is None else list(samples)
