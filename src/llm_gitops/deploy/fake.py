"""An in-memory deploy target for the blue/green flow's unit tests.

It keeps the state a real target would keep (what runs in each colour, which colour is
live) and records every call, so that tests can assert what the flow did and did not do
(e.g. "no switch after a failed analysis"). Failures are injected per operation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from llm_gitops.deploy.target import ColourState, Progress
from llm_gitops.errors import ExternalServiceError
from llm_gitops.release.record import Release


@dataclass
class FakeTarget:
    name: str = "fake"
    running: dict[str, str] = field(default_factory=dict)  # colour -> release id
    live_colour: str | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)
    fail_ready: set[str] = field(default_factory=set)  # colours that never become ready
    locked: bool = False

    @contextlib.contextmanager
    def lock(self):
        if self.locked:
            raise ExternalServiceError("another deploy of this environment is running", hint="wait for it")
        self.locked = True
        try:
            yield
        finally:
            self.locked = False

    def colours(self) -> dict[str, ColourState]:
        return {c: ColourState(c, self.running.get(c), f"http://fake/{c}" if c in self.running else None,
                               c in self.running) for c in ("blue", "green")}

    def live(self) -> str | None:
        return self.live_colour

    def pull(self, release: Release, progress: Progress) -> None:
        self.calls.append(("pull", release.id))

    def start(self, colour: str, release: Release, progress: Progress) -> ColourState:
        self.calls.append(("start", colour, release.id))
        self.running[colour] = release.id
        return self.colours()[colour]

    def wait_ready(self, colour: str, timeout_s: float) -> None:
        self.calls.append(("wait_ready", colour))
        if colour in self.fail_ready:
            raise ExternalServiceError(f"the {colour} colour did not pass its health checks within {timeout_s:g} s")

    def switch(self, colour: str) -> str | None:
        self.calls.append(("switch", colour))
        previous, self.live_colour = self.live_colour, colour
        return previous if previous != colour else None

    def remove(self, colour: str) -> None:
        if colour == self.live_colour:
            raise ExternalServiceError(f"refusing to remove the live colour {colour}")
        self.calls.append(("remove", colour))
        self.running.pop(colour, None)
