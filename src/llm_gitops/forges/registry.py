"""Forge name -> factory. Adding a forge is one module and one entry here.

A factory takes keyword arguments ``token`` (str), ``api_url`` (str | None),
``job_token`` (bool, GitLab's CI job token) and ``login`` (str | None, the account a
GitHub App token writes as; GitLab always asks) and returns a :class:`~llm_gitops.forges.base.Forge`.
Modules are imported on use, so a job that posts to GitHub never imports python-gitlab.
"""

from __future__ import annotations

from collections.abc import Callable

from llm_gitops.errors import ConfigError
from llm_gitops.forges.base import Forge


def _github(*, token: str, api_url: str | None = None, job_token: bool = False, login: str | None = None,
            **kwargs) -> Forge:
    from llm_gitops.forges.github import GitHubForge

    return GitHubForge(token=token, api_url=api_url, login=login, **kwargs)


def _gitlab(*, token: str, api_url: str | None = None, job_token: bool = False, login: str | None = None,
            **kwargs) -> Forge:
    from llm_gitops.forges.gitlab import GitLabForge

    return GitLabForge(token=token, api_url=api_url, job_token=job_token, **kwargs)


def _local(**kwargs) -> Forge:
    from llm_gitops.forges.local import LocalForge

    return LocalForge(**kwargs)


# "local": a git repository on disk (no token, no server): the demo, and trying the loop on a laptop.
FORGES: dict[str, Callable[..., Forge]] = {"github": _github, "gitlab": _gitlab, "local": _local}


def make_forge(name: str, **kwargs) -> Forge:
    """Build the forge called ``name``; an unknown name is a ConfigError listing the known ones."""
    try:
        factory = FORGES[name]
    except KeyError:
        raise ConfigError(f"unknown forge {name!r}", hint=f"use one of: {', '.join(sorted(FORGES))}") from None
    return factory(**kwargs)
