"""Prometheus metrics of one server, in a registry of its own.

A private registry (not the process-global default) keeps two apps in one process (tests,
a blue and a green in one interpreter) from sharing or colliding on counters.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The *_created series double the output and no dashboard or alert here reads them.
disable_created_metrics()

# Latency buckets for CPU generation: tens of milliseconds to a minute.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServeMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "llm_gitops_requests", "HTTP requests answered, by route and status code.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "llm_gitops_request_duration_seconds", "Time to answer a request, by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge(
            "llm_gitops_requests_in_flight", "Requests being answered now (queued for the model included).",
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "llm_gitops_prompt_tokens", "Prompt tokens of answered completions.", registry=self.registry,
        )
        self.generated_tokens = Counter(
            "llm_gitops_generated_tokens", "Tokens generated for answered completions.", registry=self.registry,
        )
        self.rejected = Counter(
            "llm_gitops_requests_rejected", "Requests refused before any work, by reason (queue_full: answered 429).",
            ["reason"], registry=self.registry,
        )
        self.cancelled = Counter(
            "llm_gitops_requests_cancelled",
            "Admitted requests given up, by reason (client_gone: the client disconnected; timeout: answered 504).",
            ["reason"], registry=self.registry,
        )
        self.decoded_tokens = Counter(
            "llm_gitops_decoded_tokens",
            "Tokens generated, counted as each is made (answered or not): shows work still going on.",
            registry=self.registry,
        )
        self.cancelled_tokens = Counter(
            "llm_gitops_cancelled_generated_tokens",
            "Tokens generated for requests that were then given up: work nobody received.", registry=self.registry,
        )
        self.queue_depth = Gauge(
            "llm_gitops_queue_depth", "Requests admitted and waiting for the model.", registry=self.registry,
        )
        self.generating = Gauge(
            "llm_gitops_generation_active", "1 while the model is working on a request.", registry=self.registry,
        )
        self.ready = Gauge(
            "llm_gitops_ready", "1 when the model is loaded and warmed up and the server is not draining.",
            registry=self.registry,
        )
        self.model = Info("llm_gitops_model", "The model this server answers with.", registry=self.registry)

    def set_model(self, *, digest: str, version: str, color: str, method: str, name: str) -> None:
        self.model.info({"digest": digest, "version": version, "color": color, "method": method, "name": name})

    def render(self) -> bytes:
        return generate_latest(self.registry)
