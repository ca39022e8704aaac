"""The validated shape of ``.llm-gitops.yaml`` (``version: 1``).

Every field documents its default and why. Sections that later releases add
(``environments``, ``alerts``, ``chatops``) are not accepted yet: an unknown top-level
section is an error with a "did you mean", so a typo never silently disables a gate.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from llm_gitops.config.drop import Drop, parse_drop as _parse_drop  # noqa: F401 - Drop is re-exported
from llm_gitops.config.endpoint_url import split_endpoint
from llm_gitops.config.environments import EnvironmentSpec, check_environments


# The largest count any integer field takes (a 32-bit int): a bigger one is a typo, and
# would overflow in torch or numpy long after the config was accepted.
MAX_COUNT = 2**31 - 1


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Section(BaseModel):
    # Unknown keys are errors (typos must not pass silently); objects are immutable.
    # strict: YAML's ``true`` is not the number 1, ``"5"`` is not 5 and ``5`` is not text;
    # allow_inf_nan=False: ``.nan`` would switch a threshold off (every comparison false).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_blank_text(cls, v):
        # An empty path, name or URI is never meant: "" as a directory would be the cwd.
        if isinstance(v, str) and not v.strip():
            raise ValueError("must not be empty; give a value or remove the key")
        if isinstance(v, str) and (bad := _CONTROL.search(v)):
            # Every text field is one line (a path, name, URL or metric): a line break could
            # forge a key in a step-output or dotenv file or a log line, and a NUL crashes os calls.
            raise ValueError(f"must be one line without control characters (found {bad.group()!r})")
        if isinstance(v, list) and any(isinstance(item, str) and not item.strip() for item in v):
            raise ValueError("items must not be empty")
        return v


# --------------------------------------------------------------------------- models
class ModelSourceSpec(_Section):
    """Where a model comes from.

    ``source`` is one of:
      * a local Hugging Face model directory (relative to the config file), e.g. ``./model``
      * an MLflow registry URI: ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``
      * a DVC-tracked path in this repo: ``dvc:PATH`` (fetched from the repo's default
        DVC remote; ``rev`` picks a git revision, default the working tree)
      * a Hugging Face Hub model: ``hf:ORG/NAME`` or ``hf:ORG/NAME@REVISION``
    """

    source: str = Field(description="A local model directory (relative to the config file), ``models:/NAME/VERSION`` "
                                    "or ``models:/NAME@ALIAS`` from the MLflow registry, ``dvc:PATH``, or "
                                    "``hf:ORG/NAME[@REVISION]`` from the Hugging Face Hub (docs/gpu.md). A directory "
                                    "holding a LoRA/PEFT adapter is evaluated on its ``base``.")
    rev: str | None = Field(default=None, description="Git revision to fetch a ``dvc:`` source at; None = the "
                            "working tree. Only valid with ``dvc:`` sources.")
    base: str | None = Field(default=None, description="For a LoRA/PEFT adapter (a directory with "
                             "adapter_config.json): the base model it applies to, in any source form. None = the "
                             "adapter's own ``base_model_name_or_path`` (a directory, relative to the adapter, or a "
                             "Hugging Face Hub id).")

    @field_validator("source")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty; give a directory, models:/NAME/VERSION, dvc:PATH or hf:ORG/NAME")
        return v.strip()


def _coerce_source(v):
    return {"source": v} if isinstance(v, str) else v


class ModelsSection(_Section):
    """The candidate under test and the baseline it is compared with.

    Both may be overridden on the command line (``--candidate``, ``--baseline``). With no
    baseline, only absolute thresholds are checked.
    """

    candidate: ModelSourceSpec | None = Field(default=None, description="The model under test (``--candidate`` "
                                              "overrides it). A plain string is short for ``{source: ...}``.")
    baseline: ModelSourceSpec | None = Field(default=None, description="The model the candidate is compared with "
                                             "(``--baseline`` overrides it). None = only ``min``/``max`` are checked; "
                                             "``max_drop`` checks pass as \"no baseline yet\" (a first model).")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, dict):
            return {k: _coerce_source(v) for k, v in data.items()}
        return data


# --------------------------------------------------------------------------- eval
class TaskSpec(_Section):
    """One lm-eval task: a built-in task ``name`` or a local task YAML ``path``.

    A local YAML's ``dataset_kwargs.data_files`` are resolved relative to the YAML file
    (lm-eval itself would resolve them against the current directory).
    """

    name: str | None = Field(default=None, description="A built-in lm-eval task, e.g. ``hellaswag``.")
    path: str | None = Field(default=None, description="A local lm-eval task YAML, relative to the config file.")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' (a built-in lm-eval task) or 'path' (a local task YAML)")
        return self

    @property
    def label(self) -> str:
        return self.name or self.path  # type: ignore[return-value]


class VllmSection(_Section):
    """lm-eval's ``vllm`` model arguments (``eval.backend: vllm``, CUDA GPU runners only)."""

    tensor_parallel_size: int = Field(default=1, gt=0, le=1024, description="GPUs one model is split across "
                                      "(vLLM's tensor parallelism); 1 = a single GPU.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1, description="Share of each GPU's memory vLLM "
                                          "may take for weights and KV cache; lower it when the runner shares the GPU.")
    max_model_len: int | None = Field(default=None, gt=0, le=MAX_COUNT, description="Longest sequence vLLM plans "
                                      "its KV cache for; None = the model config's. Lower it when the KV cache does "
                                      "not fit.")


EVAL_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,3})?)$")


# Documents per task in a sequential gate's first look when eval.limit is not set.
FIRST_LOOK = 100


class EvalSection(_Section):
    """The lm-eval suite that gates every candidate."""

    backend: Literal["hf", "vllm", "local-completions"] = Field(
        default="hf", description="How lm-eval runs the model: ``hf`` (transformers, CPU or GPU; quantized artifacts "
        "and adapters), ``vllm`` (CUDA GPU runners with the vllm package installed; see docs/gpu.md) or "
        "``local-completions`` (lm-eval's OpenAI-compatible client against the server at ``endpoint``: llm-gitops "
        "serve, vLLM, TGI; the model directory, or ``tokenizer``, gives the tokenizer).")
    device: str = Field(default="auto", description="``auto`` (a CUDA GPU when torch sees one, else the CPU), "
                        "``cpu``, ``cuda`` or ``cuda:N``. Part of the eval cache key (as resolved).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(default="auto", description="Weights' dtype "
                                                                    "for the eval: ``auto`` = config.json's dtype on "
                                                                    "a GPU, float32 on the CPU. Part of the eval cache "
                                                                    "key (as resolved).")
    vllm: VllmSection = Field(default_factory=VllmSection, description="vLLM settings, used when ``backend: vllm``.")
    endpoint: str | None = Field(default=None, validate_default=True, description="With ``backend: "
                                 "local-completions``: the server's URL (``http://HOST:PORT``, its ``/v1`` or its "
                                 "``/v1/completions``). Results are cached only when the server reports the served "
                                 "model's digest (llm-gitops serve does), keyed by URL, model id and digest.")
    tokenizer: str | None = Field(default=None, description="With ``backend: local-completions``: a directory with "
                                  "the served model's tokenizer (relative to the config file); None = the model "
                                  "directory's.")

    tasks: list[TaskSpec] = Field(default_factory=list, description="The tasks every model is evaluated on. A "
                                  "string item is short for ``{path: ...}`` when it ends in .yaml/.yml, else "
                                  "``{name: ...}``.")
    # Samples per task. None = the whole test split. An int caps the count; CI jobs use a
    # sample to stay fast, and the gate's statistics account for the smaller n.
    limit: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    # How the ``limit`` samples are chosen: "first" (lm-eval's own) or "random" (a seeded
    # sample over the whole split, so a subset is representative).
    sampling: Literal["first", "random"] = "random"
    num_fewshot: int = Field(default=0, ge=0, le=MAX_COUNT, description="Few-shot examples put before each prompt (lm-eval's "
                             "num_fewshot); 0 suits a model trained on the task's own format.")
    batch_size: int = Field(default=16, gt=0, le=MAX_COUNT, description="Requests per lm-eval batch: trades speed for memory.")
    # Seeds every random choice (sampling, few-shot, torch): same inputs, same results.
    # numpy takes seeds below 2**32.
    seed: int = Field(default=1234, ge=0, lt=2**32)
    # Tokens generated for generate_until tasks; small keeps CPU evals fast.
    max_gen_toks: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    sequential: bool | None = Field(default=None, description="Gate in looks of growing size: the first ``limit`` "
                                    "documents of a seeded random order (100 without a limit), then 1.3x more each "
                                    "look, up to ``max_limit`` or the whole split, stopping at the first look where "
                                    "every check is conclusive; the alpha spent per look keeps the error rates at "
                                    "``gate.alpha``. No document is evaluated twice. None (default) = on when "
                                    "``limit`` is set: a sample that cannot decide grows instead of blocking.")
    max_limit: int | None = Field(default=None, gt=0, le=MAX_COUNT, description="The most documents per task "
                                  "sequential looks may evaluate; None = the whole split. At least the first look "
                                  "(``limit``, or 100).")

    @property
    def sequential_on(self) -> bool:
        """Whether the gate evaluates in sequential looks (``sequential`` None: when ``limit`` is set)."""
        return self.limit is not None if self.sequential is None else self.sequential

    @property
    def first_look(self) -> int:
        """Documents per task in the first sequential look."""
        return self.limit if self.limit is not None else FIRST_LOOK

    @field_validator("max_limit")
    @classmethod
    def _max_limit(cls, v: int | None, info: ValidationInfo) -> int | None:
        # limit and sequential are declared above, so they are validated already.
        limit, sequential = info.data.get("limit"), info.data.get("sequential")
        if v is None:
            return v
        if sequential is False or (sequential is None and limit is None):
            raise ValueError("caps sequential looks, which are off (eval.sequential false, or no eval.limit): "
                             "set eval.sequential: true or remove max_limit")
        first = limit if limit is not None else FIRST_LOOK
        if v < first:
            raise ValueError(f"{v} is below the first look ({first} documents, "
                             f"{'eval.limit' if limit is not None else 'the default'}): raise max_limit to at least "
                             f"{first} or lower eval.limit")
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None, info: ValidationInfo) -> str | None:
        # backend is declared above, so it is validated already.
        backend = info.data.get("backend")
        if backend == "local-completions" and v is None:
            raise ValueError("backend local-completions needs the server's URL, e.g. endpoint: http://127.0.0.1:8000")
        if v is not None and backend != "local-completions":
            raise ValueError(f"is only used with backend: local-completions (backend is {backend!r}); remove it or "
                             "set the backend")
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.username is not None or parts.password is not None:
            # The config is committed, and the URL is printed, recorded in results and keyed on.
            raise ValueError("must not hold credentials (user:password@): the config is committed and the URL is "
                             "recorded in results; serve on a private address, e.g. http://127.0.0.1:8000")
        if parts.query or parts.fragment or v.rstrip().endswith(("?", "#")):
            # lm-eval's client builds its own request URLs from the base: a query would not be sent.
            raise ValueError("must not carry a query or fragment (?..., #...): lm-eval's client would drop it; use "
                             "http://HOST:PORT, its /v1 or its /v1/completions")
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", v):
            raise ValueError(f"{v!r} is not an http(s) URL; e.g. http://127.0.0.1:8000")
        split_endpoint(v)  # its EndpointForm is a ValueError: /v1/chat/completions, /v1/embeddings...
        return v

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer(cls, v: str | None, info: ValidationInfo) -> str | None:
        backend = info.data.get("backend")
        if v is not None and backend != "local-completions":
            raise ValueError(f"is only used with backend: local-completions (backend is {backend!r}; the model "
                             "directory's own tokenizer is used); remove it or set the backend")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not EVAL_DEVICE.match(v):
            raise ValueError(f"{v!r} is not a device; use auto, cpu, cuda or cuda:N (e.g. cuda:0)")
        return v

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_shorthand(cls, v):
        # "- add_em" is a built-in name; "- tasks/add_em.yaml" is a path.
        if isinstance(v, list):
            out = []
            for item in v:
                if isinstance(item, str):
                    out.append({"path": item} if item.endswith((".yaml", ".yml")) else {"name": item})
                else:
                    out.append(item)
            return out
        return v


# --------------------------------------------------------------------------- perf
class PerfSection(_Section):
    """How ``bench`` measures a model. Defaults suit a small model on a CPU runner."""

    prompts: list[str] = Field(default_factory=lambda: ["12+34="], description="Prompts the benchmark generates "
                               "from; the default suits the example adder model: use prompts like your traffic.")
    max_new_tokens: int = Field(default=16, gt=0, le=MAX_COUNT, description="Tokens generated per measured call.")
    # Warm-up generations are not measured (first calls pay for lazy initialisation).
    warmup: int = Field(default=2, ge=0, le=MAX_COUNT)
    # Measured generations per prompt; more repeats, tighter latency estimates.
    repeats: int = Field(default=5, gt=0, le=MAX_COUNT)
    threads: int | None = Field(default=None, gt=0, le=4096, description="torch CPU threads while measuring; None = "
                                "torch's default. Part of the bench cache key, since timings depend on it.")


# --------------------------------------------------------------------------- thresholds
class Threshold(_Section):
    """One check on one metric.

    ``metric`` names an eval metric as ``TASK/METRIC`` (e.g. ``add_em/exact_match``), with
    ``,FILTER`` for a filter other than lm-eval's ``none`` (e.g.
    ``humaneval/pass@1,create_test``), or a perf metric as ``perf/NAME`` (e.g.
    ``perf/latency_p95_ms``). A task whose metric is a function (``metric: !function
    utils.pass_at_k``) reports under names known only once it runs, so any name is accepted
    for it until then; its direction is the run's (lm-eval gives it the function's). A
    built-in group (``mmlu``) is checked task by task (``mmlu_anatomy/acc``): its own
    aggregate (``mmlu/acc``) is not a metric the gate decides on.

    * ``min`` / ``max``: absolute bounds on the candidate.
    * ``max_drop``: the degradation vs the baseline that is tolerated, decided by one-sided
      confidence bounds (``gate.policy``): shown within it passes, shown beyond it fails,
      neither is ``inconclusive``.
    * ``hard_max_drop``: an observed drop beyond this fails, without statistics.

    A bare number is in the metric's own units: on a share between 0 and 1 (``acc``,
    ``exact_match``, ``f1``), ``0.02`` and ``2pt`` are both two points. There a bound no
    value can meet (``min: 80``) or a drop that tolerates any drop (``max_drop: 2``) is
    refused, naming the field.
    """

    metric: str = Field(description="``TASK/METRIC`` (e.g. ``add_em/exact_match``) or ``perf/NAME`` (e.g. "
                        "``perf/latency_p95_ms``); it must name a metric the eval tasks or the benchmark produce.")
    min: float | None = Field(default=None, description="Lowest acceptable candidate value; needs no baseline.")
    max: float | None = Field(default=None, description="Highest acceptable candidate value (e.g. a latency bound); "
                              "needs no baseline.")
    max_drop: Drop | None = Field(default=None, description="Tolerated degradation vs the baseline (a fall, or a "
                                  "rise for lower-is-better metrics like latency), decided by confidence bounds at "
                                  "``gate.alpha``: pass when the drop's upper bound is within it, fail when its lower "
                                  "bound exceeds it, else inconclusive. Skipped while there is no baseline yet.")
    hard_max_drop: Drop | None = Field(default=None, description="An observed degradation beyond this fails, "
                                       "without statistics.")

    _parse = field_validator("max_drop", "hard_max_drop", mode="before")(classmethod(lambda cls, v: _parse_drop(v)))

    @field_validator("metric")
    @classmethod
    def _metric_shape(cls, v: str) -> str:
        if "/" not in v or v.startswith("/") or v.endswith("/"):
            raise ValueError(f"{v!r} is not TASK/METRIC (e.g. add_em/exact_match) or perf/NAME")
        return v

    @model_validator(mode="after")
    def _some_bound(self):
        if self.min is None and self.max is None and self.max_drop is None and self.hard_max_drop is None:
            raise ValueError("a threshold needs at least one of min, max, max_drop, hard_max_drop")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g}): no value could pass; swap them")
        soft, hard = self.max_drop, self.hard_max_drop
        if soft is not None and hard is not None and soft.unit == hard.unit and hard.value < soft.value:
            raise ValueError(f"hard_max_drop ({hard}) is below max_drop ({soft}): a tolerated drop would fail; "
                             "make hard_max_drop the larger")
        return self


class GateSection(_Section):
    """How the gate decides."""

    # The error rate of the relative checks: the chance that a truly regressed metric
    # passes (or a tolerable one fails), family-wise over the checks (Holm) and the
    # sequential looks (alpha spending). 0.05 is the usual trade-off.
    alpha: float = Field(default=0.05, gt=0, lt=1)
    # What an overall 'inconclusive' does to the exit code: "fail" (safe default: a
    # drop that cannot be ruled out blocks the merge), "pass" (warn only), or "neutral"
    # (exit 0; GitHub's check run concludes "neutral", and the commit status, which has
    # no such state on either forge, is success with "inconclusive" in its description).
    on_inconclusive: Literal["fail", "pass", "neutral"] = "fail"
    # Resamples of the paired bootstrap behind confidence intervals.
    bootstrap_samples: int = Field(default=2000, ge=100, le=1_000_000)
    # Measure performance in the gate as well as accuracy.
    perf: bool = True


# --------------------------------------------------------------------------- tracking
class MlflowSection(_Section):
    """MLflow tracking. Default: a local sqlite store under ``.llm-gitops/``."""

    enabled: bool = Field(default=True, description="Log each gate run (params, metrics, report files) to MLflow. "
                          "A logging failure is a warning; the verdict stands.")
    # None = sqlite:///<repo>/.llm-gitops/mlflow.db (offline, nothing to run), artifacts in
    # .llm-gitops/mlartifacts. A bare path (no scheme) is a sqlite file beside the config.
    tracking_uri: str | None = None
    experiment: str = Field(default="llm-gitops", description="MLflow experiment that gate runs and ``register`` "
                            "uploads are logged under; created when absent.")
    # Register the candidate as a version of this registered model after the gate runs
    # (tagged with git sha, verdict and report digest). None = don't register.
    register_as: str | None = None


class TrackingSection(_Section):
    """Where gate runs and model versions are recorded."""

    mlflow: MlflowSection = Field(default_factory=MlflowSection)


# --------------------------------------------------------------------------- report / forge
class ReportSection(_Section):
    """Where the gate's report goes."""

    # Directory for report.md, report.json and chart.png (relative to the config file).
    output_dir: str = ".llm-gitops/reports"
    # Where to post the report: auto (detect the CI and forge), github, gitlab, none.
    to: Literal["auto", "github", "gitlab", "none"] = "auto"
    # Also draw chart.png (matplotlib). Off by default: the report and the comment already
    # carry the same chart as Mermaid; ``gate --chart`` turns it on for one run.
    chart: bool = False


# --------------------------------------------------------------------------- quantize
class QuantizeSection(_Section):
    """Defaults for ``llm-gitops quantize``."""

    # Methods tried by ``quantize --budget`` in order; the first is the plain default.
    methods: list[Literal["int8-dynamic", "int8-weight-only", "prune", "distill"]] = Field(
        default_factory=lambda: ["int8-dynamic", "int8-weight-only"]
    )
    # The accuracy drop an artifact may cost vs the unquantized model (same units as
    # thresholds' max_drop). None = no budget: quantize with the first method only.
    budget: Drop | None = None
    # Among artifacts within budget, keep the "smallest" or the "fastest".
    prefer: Literal["smallest", "fastest"] = "smallest"
    # prune: fraction of weights zeroed.
    sparsity: float = Field(default=0.3, gt=0, lt=1)
    # distill: student shape and the training data (JSONL, one {"text": ...} per line,
    # relative to the config file; e.g. the example repo's data/train.jsonl). Required
    # only when distill is used.
    distill_dataset: str | None = None
    distill_steps: int = Field(default=300, gt=0, le=MAX_COUNT, description="distill: training steps of the student.")
    distill_hidden_size: int = Field(default=64, gt=0, le=MAX_COUNT, description="distill: the student's hidden size.")
    distill_layers: int = Field(default=2, gt=0, le=MAX_COUNT, description="distill: the student's number of layers.")

    _parse = field_validator("budget", mode="before")(classmethod(lambda cls, v: _parse_drop(v)))


# --------------------------------------------------------------------------- image
class ImageSection(_Section):
    """The container image ``llm-gitops build`` makes."""

    # Repository to tag and push, e.g. registry.example.com/team/adder. Required to push.
    repository: str | None = None
    # Any image with python3 (3.11, like a wheelhouse built here) and its venv module.
    # Builds do not refresh it; air-gapped, load it into the engine beforehand.
    base_image: str = "python:3.11-slim"
    # A directory of wheels built on the host; installed with --no-index (air-gapped).
    wheelhouse: str | None = None
    # Extra CA bundle copied into the image (corporate proxies).
    ca_bundle: str | None = None
    # Extra pip arguments for the image's install step (e.g. an index URL).
    pip_extra_args: list[str] = Field(default_factory=list)
    port: int = Field(default=8000, gt=0, lt=65536, description="Port the image's server listens on (EXPOSE, "
                      "health check and ``serve --port``).")
    # Docker API of the engine that builds, e.g. unix:///run/podman/podman.sock. None =
    # DOCKER_HOST, else the engine's default socket.
    engine: str | None = None


# --------------------------------------------------------------------------- root
class Config(_Section):
    """The whole file. ``version`` is required so that the format can evolve."""

    version: Literal[1] = Field(description="Format version of this file; must be 1. Required, so that a later "
                                "format is refused by an llm-gitops that would misread it.")
    models: ModelsSection = Field(default_factory=ModelsSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    perf: PerfSection = Field(default_factory=PerfSection)
    thresholds: list[Threshold] = Field(default_factory=list, description="The checks the gate makes; with none, "
                                        "``gate`` refuses to run (it would have nothing to decide).")
    gate: GateSection = Field(default_factory=GateSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)
    report: ReportSection = Field(default_factory=ReportSection)
    quantize: QuantizeSection = Field(default_factory=QuantizeSection)
    image: ImageSection = Field(default_factory=ImageSection)
    environments: dict[str, EnvironmentSpec] = Field(default_factory=dict, description="Deploy environments by "
                                                     "name (``staging``, ``prod``); ``deploy/<name>.yaml`` in the repo "
                                                     "says which release each one runs.")

    _environments = field_validator("environments")(classmethod(lambda cls, v: check_environments(v)))

    # Where the file was read from; relative paths in it resolve against its directory.
    _path: Path | None = PrivateAttr(default=None)
    # Line of each value in the file, by field path (e.g. ("thresholds", 0, "metric")),
    # so that checks made after loading can still point at a line.
    _lines: dict = PrivateAttr(default_factory=dict)

    def where(self, *loc) -> str:
        """``FILE:LINE`` of a field (or of its nearest parent the file has)."""
        name = str(self._path) if self._path is not None else ".llm-gitops.yaml"
        for depth in range(len(loc), 0, -1):
            line = self._lines.get(tuple(loc[:depth]))
            if line:
                return f"{name}:{line}"
        return name

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.resolve().parent if self._path is not None else Path.cwd()

    def resolve_path(self, value: str | Path) -> Path:
        """A path from the config, made absolute against the config file's directory."""
        # os.path.expanduser leaves an unknown ``~user`` as it is (as a shell does), where
        # Path.expanduser raises.
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else (self.base_dir / p).resolve()


# Sections later releases add; naming one today gets a clear "not yet" error.
FUTURE_SECTIONS = {"alerts", "chatops", "deploy", "governance", "drift"}

