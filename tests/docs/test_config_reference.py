"""docs/config.md is generated from the config schema and must match it."""

from __future__ import annotations

import difflib
import importlib.util
import re
import typing

import pytest
from pydantic import Field

from llm_gitops.config import schema
from llm_gitops.config.load import parse_config
from tests.conftest import REPO_ROOT

GENERATOR = REPO_ROOT / "docs" / "gen_config_reference.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_config_reference", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_md_matches_the_schema(gen):
    expected = gen.render()
    current = gen.DOC.read_text(encoding="utf-8")
    if current != expected:
        diff = "".join(difflib.unified_diff(current.splitlines(True), expected.splitlines(True), "docs/config.md",
                                            "generated", n=1))
        pytest.fail(f"docs/config.md is out of date with the config schema; run: {gen.REGENERATE}\n{diff[:3000]}")


def _sections(cls, prefix=""):
    yield prefix, cls
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
        inner = args[0]
        is_list = typing.get_origin(inner) is list
        if is_list:
            inner = typing.get_args(inner)[0]
        if isinstance(inner, type) and issubclass(inner, schema._Section):
            yield from _sections(inner, f"{prefix}{name}{'[]' if is_list else ''}.")


def test_every_field_has_a_row_with_type_default_and_text(gen):
    text = gen.render()
    headings = re.split(r"^#{2,4} ", text, flags=re.M)
    by_heading = {h.split("\n", 1)[0].strip(): h for h in headings}
    for prefix, cls in _sections(schema.Config):
        heading = prefix.rstrip(".").replace("[]", "") or "Top level"
        body = by_heading[heading]
        if "Same fields as" in body:
            continue
        for name, field in cls.model_fields.items():
            row = next((line for line in body.splitlines() if line.startswith(f"| `{name}` |")), None)
            assert row is not None, f"{prefix}{name} has no row in docs/config.md"
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            assert len(cells) == 4 and all(cells), row
            if not field.is_required():
                assert cells[2] != "required", row


def test_the_example_in_the_doc_is_a_valid_config(gen):
    block = gen.render().split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(block, "docs/config.md")
    assert config.version == 1 and config.thresholds


def test_comments_and_descriptions_are_read_and_an_undocumented_field_is_an_error(gen):
    class Documented(schema._Section):
        """A section."""

        # Why a is here,
        # on two lines.
        a: int = 1
        b: str = Field(default="x", description="Described.")

    assert gen.describe(Documented, "a") == "Why a is here, on two lines."
    assert gen.describe(Documented, "b") == "Described."

    class Undocumented(schema._Section):
        # A comment cut off from its field by a blank line documents nothing.

        c: int = 0

    with pytest.raises(gen.UndocumentedField, match=r"Undocumented\.c has no description"):
        gen.describe(Undocumented, "c")


def test_check_mode_fails_on_a_stale_doc(gen, tmp_path, monkeypatch, capsys):
    stale = tmp_path / "config.md"
    stale.write_text(gen.render().replace("| `seed` |", "| `sead` |"))
    monkeypatch.setattr(gen, "DOC", stale)
    assert gen.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
