"""``deploy/<env>.yaml``: the release an environment should run, kept in git.

Git history of these files is the deploy history: promotion and rollback change them by
pull request, and ``llm-gitops deploy --env E`` makes the environment match its file::

    # deploy/prod.yaml
    version: 1
    release: r-3f2a9c0b1d4e     # deploy/releases/r-3f2a9c0b1d4e.json
    hold: false                 # true: promotions into prod are refused (an incident, a freeze)
    hold_reason: null
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_gitops import input_files
from llm_gitops.config.load import parse_yaml_model
from llm_gitops.errors import ConfigError
from llm_gitops.release.record import RELEASE_ID, Release, load_release

DEPLOY_DIR = "deploy"
RELEASES_DIR = "releases"


class DesiredState(BaseModel):
    """The content of ``deploy/<env>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    version: Literal[1] = Field(description="Format version; must be 1.")
    release: str | None = Field(default=None, description="Release id (``r-`` + 12 hex digits) this environment "
                                "runs; null = nothing deployed yet.")
    hold: bool = Field(default=False, description="Refuse promotions into this environment.")
    hold_reason: str | None = Field(default=None, description="Why it is on hold (shown in refusals).")

    @field_validator("release")
    @classmethod
    def _release_id(cls, v: str | None) -> str | None:
        if v is not None and not RELEASE_ID.match(v):
            raise ValueError(f"{v!r} is not a release id (r- and 12 hex digits, e.g. r-3f2a9c0b1d4e)")
        return v

    @model_validator(mode="after")
    def _reason_needs_hold(self):
        if self.hold_reason is not None and not self.hold:
            raise ValueError("hold_reason is set but hold is false; set hold: true or remove hold_reason")
        return self

    def to_yaml(self, env: str) -> str:
        lines = [f"# The release the {env} environment runs. Changed by pull request ('llm-gitops promote',",
                 "# 'llm-gitops rollback'); 'llm-gitops deploy --env " + env + "' makes the environment match it.",
                 "version: 1", f"release: {self.release if self.release else 'null'}",
                 f"hold: {'true' if self.hold else 'false'}"]
        if self.hold_reason:
            escaped = self.hold_reason.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'hold_reason: "{escaped}"')
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Desired:
    env: str
    path: Path
    state: DesiredState
    release: Release | None


def desired_path(repo_root: Path, env: str) -> Path:
    return repo_root / DEPLOY_DIR / f"{env}.yaml"


def releases_dir(repo_root: Path) -> Path:
    return repo_root / DEPLOY_DIR / RELEASES_DIR


def parse_desired(text: str, path: str) -> DesiredState:
    return parse_yaml_model(text, path, DesiredState, what=f"{Path(path).name}")


def load_desired(repo_root: Path, env: str, *, shown_as: str | None = None) -> Desired:
    """Read and check ``deploy/<env>.yaml`` and the release it names."""
    path = desired_path(repo_root, env)
    name = shown_as or f"{DEPLOY_DIR}/{env}.yaml"
    try:
        text = input_files.read_text(path, what="a deploy file")
    except input_files.UnusableFile as exc:
        hint = f"create it with 'version: 1' and 'release: null', or run 'llm-gitops release --env {env}'" \
            if "not found" in str(exc) else "point it at a regular YAML file"
        raise ConfigError(f"{name} {exc.reason}", hint=hint) from None
    state = parse_desired(text, name)
    release = load_release(releases_dir(repo_root), state.release) if state.release else None
    return Desired(env=env, path=path, state=state, release=release)
