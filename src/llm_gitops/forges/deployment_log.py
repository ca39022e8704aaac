"""Deployments kept as plain JSON-able records, for the forges that keep their own (the
in-memory fake, the local forge): GitHub's rules, written once.

A record is ``{"id", "environment", "sha", "ref", "payload", "created_at", "statuses": [...]}``,
each status ``{"state", "description", "environment_url", "log_url", "created_at"}``,
oldest first. As GitHub's ``auto_inactive`` does, a deployment's ``success`` makes the
environment's earlier successful deployments ``inactive``, so exactly one is current.
"""

from __future__ import annotations

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import DEPLOYMENT_STATES, Deployment
from llm_gitops.timestamps import utc_timestamp


def create(records: list[dict], *, sha: str, ref: str, environment: str, description: str,
           payload: dict[str, str], log_url: str | None = None) -> Deployment:
    """Append a new deployment, ``in_progress``."""
    if not environment or not sha:
        raise ExternalServiceError("a deployment needs an environment and a commit")
    record = {"id": 1 + max((r["id"] for r in records), default=0), "environment": environment, "sha": sha,
              "ref": ref, "payload": dict(payload), "created_at": utc_timestamp(), "statuses": []}
    records.append(record)
    return add_status(records, record["id"], "in_progress", description, log_url=log_url)


def add_status(records: list[dict], deployment_id: int, state: str, description: str, *,
               environment_url: str | None = None, log_url: str | None = None) -> Deployment:
    if state not in DEPLOYMENT_STATES:
        raise ExternalServiceError(f"unknown deployment state {state!r}", hint=f"use one of: {', '.join(DEPLOYMENT_STATES)}")
    record = next((r for r in records if r["id"] == deployment_id), None)
    if record is None:
        raise ExternalServiceError(f"deployment {deployment_id} not found")
    now = utc_timestamp()
    record["statuses"].append({"state": state, "description": description, "environment_url": environment_url,
                               "log_url": log_url, "created_at": now})
    if state == "success":
        for other in records:
            if other is not record and other["environment"] == record["environment"] and _state(other) == "success":
                # As on GitHub: the description of the success it ends is kept.
                other["statuses"].append({**other["statuses"][-1], "state": "inactive", "created_at": now})
    return to_deployment(record)


def listed(records: list[dict], environment: str) -> list[Deployment]:
    """The environment's deployments, newest first."""
    return [to_deployment(r) for r in sorted(records, key=lambda r: r["id"], reverse=True)
            if r["environment"] == environment]


def to_deployment(record: dict) -> Deployment:
    newest = record["statuses"][-1] if record["statuses"] else {"state": "queued", "description": ""}
    return Deployment(id=record["id"], environment=record["environment"], sha=record["sha"], ref=record["ref"],
                      state=newest["state"], description=newest["description"] or "", payload=dict(record["payload"]),
                      created_at=record["created_at"])


def _state(record: dict) -> str | None:
    return record["statuses"][-1]["state"] if record["statuses"] else None
