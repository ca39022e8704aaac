"""The forms ``eval.endpoint`` may take: the server's root, its ``/v1``, its
``/v1/completions`` or its ``/v1/models`` (what ``curl`` shows first; taken as its
``/v1``), under any path prefix.

Its own module because the config check (``config.schema``, so ``validate-config`` says
it) and the eval's probe (``evaluation.endpoint``, which is also handed URLs that no config
holds, e.g. a preview colour's) both read a URL this way.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

COMPLETIONS_PATH = "/v1/completions"
ENDPOINT_FORMS = "the server's root http://HOST:PORT, its /v1 or its /v1/completions"


class EndpointForm(ValueError):
    """A URL that is not one of the forms above: what is wrong with it, and the fix."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}; {hint}")
        self.message = message
        self.hint = hint


def split_endpoint(url: str) -> tuple[str, str]:
    """(base URL, completions URL) of ``url``, or EndpointForm for another ``/v1/...`` path:
    appending ``/v1/models`` to it would only give a 404 for a URL nobody wrote."""
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    rest: list[str] = []
    if "v1" in segments:
        at = len(segments) - 1 - segments[::-1].index("v1")
        segments, rest = segments[:at], segments[at + 1:]
    base = urlunsplit((parts.scheme, parts.netloc, "".join("/" + s for s in segments), "", ""))
    if rest[-2:] == ["chat", "completions"]:
        raise EndpointForm("/v1/chat/completions is the chat API, and lm-eval's local-completions needs the "
                           "completions API", f"use {base}{COMPLETIONS_PATH} (or the server's root, or its /v1)")
    if rest not in ([], ["completions"], ["models"]):
        raise EndpointForm(f"/v1/{'/'.join(rest)} is not a completions server's URL",
                           f"use {ENDPOINT_FORMS}: e.g. {base}")
    return base, base + COMPLETIONS_PATH
