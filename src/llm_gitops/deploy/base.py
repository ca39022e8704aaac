"""What every deploy target is: the ``DeployTarget`` Protocol and what it reports.

Kept apart from ``deploy/target.py`` (the registry, which imports each target's module)
so that a target module imports this and nothing imports back: no import cycle.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Protocol

from llm_gitops.release.record import Release

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ColourState:
    """What one colour runs right now, as the target reports it."""

    colour: str
    release_id: str | None  # None: nothing runs in this colour
    endpoint: str | None  # base URL that reaches this colour directly (analysis, smoke evals)
    running: bool


class DeployTarget(Protocol):
    """One environment's runtime (a docker host behind haproxy, a Kubernetes namespace)."""

    name: str

    def lock(self) -> AbstractContextManager[None]:
        """Held for a whole deploy: one deploy per environment at a time (raises when taken)."""

    def colours(self) -> dict[str, ColourState]:
        """Both colours, read from the real system."""

    def live(self) -> str | None:
        """The colour taking traffic, read from the real system; None before the first deploy."""

    def pull(self, release: Release, progress: Progress) -> None:
        """Make the release's image available to the target (by digest)."""

    def start(self, colour: str, release: Release, progress: Progress) -> ColourState:
        """Run ``release`` as ``colour`` (pulled by digest), taking no traffic yet."""

    def wait_ready(self, colour: str, timeout_s: float) -> None:
        """Wait until the front sees ``colour`` ready; raise ExternalServiceError on timeout."""

    def switch(self, colour: str) -> str | None:
        """Send all traffic to ``colour``; returns the colour it left."""

    def remove(self, colour: str) -> None:
        """Stop and remove ``colour`` (never the live one)."""
