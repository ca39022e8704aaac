"""docs/cli.md and its sibling pages keep up with the commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from llm_gitops.cli import COMMANDS, cli
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
COMMANDS_DIR = REPO_ROOT / "src" / "llm_gitops" / "commands"
# Step-output keys as the commands write them: "key={...}" after a quote or a "\n".
GITHUB_OUTPUT_KEY = re.compile(r'(?:"|\\n)([a-z][a-z-]*)=\{')
DOTENV_KEY = re.compile(r"(?<![A-Z_])(LLM_GITOPS_[A-Z_]+)=")
# ... or as "key": value in the dicts handed to write_step_outputs(github, dotenv, output_env).
STEP_OUTPUTS_CALL = re.compile(r"write_step_outputs\((.*?)\boutput_env\b", re.S)
DICT_KEY = re.compile(r'"([A-Za-z][A-Za-z_-]*)": ')


def cli_doc() -> str:
    return (DOCS / "cli.md").read_text(encoding="utf-8")


def command_names() -> list[str]:
    """Every command line a user can run: 'gate', and 'jenkins trigger' for a group."""
    names = []
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            names += [f"{name} {sub}" for sub in command.list_commands(ctx)]
        else:
            names.append(name)
    return names


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_a_section(name):
    assert re.search(rf"^## {re.escape(name)}$", cli_doc(), re.M), f"docs/cli.md has no '## {name}' section"


def test_every_step_output_key_the_commands_write_is_documented():
    doc = cli_doc()
    found = set()
    for path in COMMANDS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "GITHUB_OUTPUT" in source:
            found |= {f"`{key}`" for key in GITHUB_OUTPUT_KEY.findall(source)}
        found |= {f"`{key}`" for key in DOTENV_KEY.findall(source)}
        for call in STEP_OUTPUTS_CALL.findall(source):
            found |= {f"`{key}`" for key in DICT_KEY.findall(call)}
    assert {"`verdict`", "`LLM_GITOPS_VERDICT`"} <= found  # the scan itself works
    missing = sorted(key for key in found if key not in doc)
    assert not missing, f"docs/cli.md does not mention {missing}"


def test_the_scan_sees_a_new_key():
    source = 'fh.write(f"verdict={v}\\nnew-key={x}\\n")\n_append(env, f"LLM_GITOPS_NEW={x}")'
    assert GITHUB_OUTPUT_KEY.findall(source) == ["verdict", "new-key"]
    assert DOTENV_KEY.findall(source) == ["LLM_GITOPS_NEW"]


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (DOCS / target).resolve().exists(), f"docs/{page} links to {target}, which does not exist"


def test_the_index_links_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"


def test_code_paths_named_in_security_md_exist():
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    for path in re.findall(r"`((?:tests|src|actions|jenkins|gitlab-templates|examples)/[\w./-]+)`", text):
        assert (REPO_ROOT / path).exists(), f"docs/security.md names {path}, which does not exist"
    # Functions it names by module are really there.
    from llm_gitops import ci_context, logsafe

    assert callable(ci_context.forge_token) and callable(logsafe.register_secret) and callable(logsafe.redact)
