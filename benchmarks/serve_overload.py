"""Overload: 200 concurrent clients with a 5 s timeout against ``llm-gitops serve``.

The example repo's trained adder (built once into the test cache) is served on loopback
with the default limits (``--max-queue 16``, ``--request-timeout 60``) and ``--threads 1``. Every client opens
its own connection, sends one "A+B=" completion (greedy, ``--max-tokens`` new tokens, no
stop string, so each request is real work) and gives up after ``--timeout`` seconds,
closing its connection. Two rounds:

* one-shot: a 429 is final (the issue's measurement);
* retrying: a 429 is retried after its ``Retry-After`` while the client's time lasts, as
  OpenAI's client libraries do.

Printed per round: the share answered in time, shed with 429/503, and given up by the
client; the server's own counters (answered, refused, cancelled; tokens generated for
requests that were then cancelled); and the work done after the last client left
(whether generation was still running, tokens generated until the server was idle, and
how long that took; the goal is none). Server RSS before and after.

    .venv/bin/python benchmarks/serve_overload.py [--clients 200] [--timeout 5] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", os.path.join(tempfile.gettempdir(), "llm-gitops-bench-hf-home"))

COUNTERS = {
    "answered (200)": ("llm_gitops_requests_total", {"route": "/v1/completions", "status": "200"}),
    "refused (429)": ("llm_gitops_requests_total", {"route": "/v1/completions", "status": "429"}),
    "timed out (504)": ("llm_gitops_requests_total", {"route": "/v1/completions", "status": "504"}),
    "client gone (499)": ("llm_gitops_requests_total", {"route": "/v1/completions", "status": "499"}),
    "tokens answered": ("llm_gitops_generated_tokens_total", {}),
    "tokens for cancelled requests": ("llm_gitops_cancelled_generated_tokens_total", {}),
}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _scrape(base: str) -> str:
    import httpx

    return httpx.get(f"{base}/metrics", timeout=30).text


def _counters(text: str) -> dict[str, float]:
    from tests.serve.conftest import metric_value

    return {label: metric_value(text, name, **labels) for label, (name, labels) in COUNTERS.items()}


async def _client(http, i: int, *, timeout: float, max_tokens: int, retry: bool) -> str:
    """One client: its outcome ("answered", "shed", "gave up" or "error: ...")."""
    import httpx

    deadline = time.monotonic() + timeout
    body = {"prompt": f"{i % 100:02d}+{(i * 7) % 100:02d}=", "max_tokens": max_tokens, "temperature": 0}
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "gave up"
        try:
            response = await asyncio.wait_for(http.post("/v1/completions", json=body), left)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            return "gave up"  # a cancelled request closes its connection: the server sees the client go
        except httpx.TransportError as exc:
            return f"error: {type(exc).__name__}"
        if response.status_code == 200:
            return "answered"
        if response.status_code not in (429, 503):
            return f"error: {response.status_code}"
        wait = float(response.headers.get("retry-after", "1"))
        if not retry or time.monotonic() + wait >= deadline:
            return "shed"
        await asyncio.sleep(wait)


async def _round(base: str, *, clients: int, timeout: float, max_tokens: int, retry: bool) -> Counter:
    import httpx

    # One pool without keep-alive: every request its own connection, as independent clients
    # have (one client object, because making 200 of them costs seconds of TLS setup).
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as http:
        outcomes = await asyncio.gather(*(_client(http, i, timeout=timeout, max_tokens=max_tokens, retry=retry)
                                          for i in range(clients)))
    return Counter(outcomes)


def _after_clients_left(base: str) -> dict[str, float]:
    """Right after the last client left: was the model still busy, and how much did it do until idle?"""
    from tests.serve.conftest import metric_value

    left_at = time.monotonic()
    first = _scrape(base)

    def work(text: str) -> float:
        return metric_value(text, "llm_gitops_decoded_tokens_total")  # counted as each token is made

    text = first
    while metric_value(text, "llm_gitops_generation_active") or metric_value(text, "llm_gitops_queue_depth"):
        if time.monotonic() - left_at > 120:
            break
        time.sleep(0.05)
        text = _scrape(base)
    return {
        "generating when the last client left": metric_value(first, "llm_gitops_generation_active"),
        "queued when the last client left": metric_value(first, "llm_gitops_queue_depth"),
        "tokens generated after the last client left": work(text) - work(first),
        "seconds until idle": time.monotonic() - left_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=5.0, help="each client's timeout, seconds")
    parser.add_argument("--max-tokens", type=int, default=48, help="the example model has 64 positions")
    parser.add_argument("--threads", type=int, default=1,
                        help="serve --threads: on a shared 2-core machine two torch threads spin-wait on each other")
    args = parser.parse_args()

    import httpx

    from tests.serve.conftest import serve_process
    from tests.support.example_models import ensure_example_models

    model = ensure_example_models().good
    with tempfile.TemporaryDirectory() as tmp, serve_process(model, Path(tmp) / "serve.log", "--drain-seconds", "0",
                                                                "--threads", str(args.threads)) as (proc, base):
        one = httpx.post(f"{base}/v1/completions", timeout=60,
                         json={"prompt": "12+34=", "max_tokens": args.max_tokens, "temperature": 0})
        if one.status_code != 200:
            raise SystemExit(f"a single request failed: {one.status_code} {one.text}")
        started = time.perf_counter()
        httpx.post(f"{base}/v1/completions", timeout=60,
                   json={"prompt": "12+34=", "max_tokens": args.max_tokens, "temperature": 0})
        alone = time.perf_counter() - started
        rss_before = _rss_mib(proc.pid)
        print(f"one request alone: {alone * 1000:.0f} ms for {one.json()['usage']['completion_tokens']} tokens "
              f"(--threads {args.threads}); {args.clients} clients, {args.timeout:g} s timeout each")
        for name, retry in (("one-shot", False), ("retrying", True)):
            before = _counters(_scrape(base))
            outcomes = asyncio.run(_round(base, clients=args.clients, timeout=args.timeout,
                                          max_tokens=args.max_tokens, retry=retry))
            after_left = _after_clients_left(base)
            after = _counters(_scrape(base))
            print(f"\n[{name}]")
            for outcome in ("answered", "shed", "gave up"):
                print(f"  {outcome + ' in time' if outcome == 'answered' else outcome:<46}"
                      f"{outcomes[outcome]:>6}  ({100 * outcomes[outcome] / args.clients:.1f}%)")
            for outcome, count in sorted(outcomes.items()):
                if outcome.startswith("error"):
                    print(f"  {outcome:<46}{count:>6}")
            for label in COUNTERS:
                print(f"  server: {label:<38}{after[label] - before[label]:>6.0f}")
            for label, value in after_left.items():
                print(f"  {label:<46}{value:>6.2f}" if "seconds" in label else f"  {label:<46}{value:>6.0f}")
        rss_after = _rss_mib(proc.pid)
        print(f"\nserver RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log = (Path(tmp) / "serve.log").read_text()
        print(f"server log: {'a traceback' if 'Traceback' in log else 'no traceback'}; exit {proc.returncode}")


if __name__ == "__main__":
    main()
