"""Keep secrets out of logs, errors and comments.

Tokens are registered as they are read (``register_secret``) and every value of an
environment variable whose name looks secret is registered on first use. ``redact``
replaces them with ``***`` and the credentials of every URL in the text
(``scheme://user:password@host`` -> ``scheme://***@host``); ``install_redaction``
applies it to every log record. The CLI's error line, the crash log,
report and comment text go through ``redact`` too, so this is the one place that
decides what is hidden.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse

_SECRETS: set[str] = set()
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
# Well-known token shapes, redacted even when nobody registered them.
# The userinfo of a URL: after "scheme://", up to the last "@" before the path. Greedy, so
# a password holding an unencoded "@" is hidden whole.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@")
# A secret-named query parameter's value (?api_key=..., &token=..., &X-Amz-Signature=...).
_QUERY_SECRET = re.compile(r"([?&][A-Za-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|signature|sig|auth)"
                           r"[A-Za-z0-9_.\-]*=)[^&#\s'\"]+", re.I)
_TOKEN_SHAPES = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,})\b")


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``redact`` hides it; short values are ignored."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def _register_env_secrets() -> None:
    for name, value in os.environ.items():
        if _SECRET_ENV.search(name):
            register_secret(value)


def strip_userinfo(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced: ``http://***@host/...``."""
    return _URL_USERINFO.sub(r"\1***@", text)


def url_without_userinfo(url: str) -> str:
    """One URL with its ``user:password@`` part removed (for links and labels, which must
    still work); text that is not a URL with a host is masked as by :func:`strip_userinfo`."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or "@" not in parts.netloc:
        return strip_userinfo(url)
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(text: str) -> str:
    """Return ``text`` with every known secret, every URL's credentials and every
    secret-named query parameter's value replaced by ``***``."""
    _register_env_secrets()
    text = _QUERY_SECRET.sub(r"\1***", strip_userinfo(text))
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _TOKEN_SHAPES.sub("***", text)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # A logged traceback quotes the exception's text: format it now, redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_redaction() -> None:
    """Attach the redacting filter to every handler of the root logger."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, _RedactingFilter) for f in handler.filters):
            handler.addFilter(_RedactingFilter())
