"""The one YAML reader of config and eval task files: safe tags, bounded work, one-line errors.

A few hundred bytes of YAML can ask for unbounded work: nested aliases ("billion
laughs") expand exponentially once the document is walked as a tree, and a 3,000-deep
``[[[`` list exhausts the interpreter's stack. So, before anything is constructed, the
composed node graph is measured:

* nesting is at most :data:`MAX_DEPTH` levels, counted with aliases expanded;
* the document is at most :data:`MAX_NODES` nodes, counted with aliases expanded (an
  alias costs the size of what it names, each time it is used).

Aliases and anchors stay supported (they are useful to repeat a threshold), and so are
YAML merge keys (``<<: *defaults``, as in GitLab CI files): the mapping's own keys win
over merged ones. The file size is bounded where it is read (:mod:`llm_gitops.input_files`).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from llm_gitops.errors import LlmGitopsError

# A config is ~4 levels deep and an lm-eval task YAML rarely over 8.
MAX_DEPTH = 64
# A config has ~100 nodes; an lm-eval task YAML with inline few-shot examples a few
# thousand. Walking 100,000 takes well under a second.
MAX_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class BoundsError(yaml.MarkedYAMLError):
    """The document is too deep or expands too far (reported like a syntax error, with its line)."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader with nesting and alias expansion bounded before construction."""

    _depth = 0

    def compose_node(self, parent, index):
        # Composing recurses once per level: stop at the bound, not at Python's stack limit.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise BoundsError(problem=f"nested deeper than {MAX_DEPTH} levels",
                                  problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            check_expansion(node)
        return node


def check_expansion(root: Node) -> None:
    """Raise BoundsError when ``root``, aliases expanded, is too deep or too big (or cyclic).

    Sizes and depths are computed once per distinct node (iteratively, no recursion), so
    the check costs the size of the file, not of the expansion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(key)
            if depth[key] > MAX_DEPTH:
                raise BoundsError(problem=f"nested deeper than {MAX_DEPTH} levels once aliases are expanded",
                                  problem_mark=node.start_mark)
            if size[key] > MAX_NODES:
                raise BoundsError(problem=f"expands to more than {MAX_NODES} values once aliases are expanded "
                                          "(an alias bomb?); repeat less through aliases",
                                  problem_mark=node.start_mark)
            continue
        if key in size:
            continue
        if key in on_path:
            raise BoundsError(problem="an alias refers to a collection that contains it (a recursive alias)",
                              problem_mark=node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def describe(value: Any) -> str:
    """What a YAML value is, in the words of the file (not Python's class names)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, set)):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    return f"{shown(value)} (a {type(value).__name__})"


def printable(text: str) -> str:
    """``text`` for one error line: control characters (a line break, an escape sequence) escaped."""
    return text if text.isprintable() else repr(text)[1:-1]


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as the file spells it (``true``, not ``True``), cut to ``limit`` characters."""
    text = str(value).lower() if isinstance(value, bool) else "null" if value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_yaml_document(text: str, loader_class: type[yaml.SafeLoader], *, where: str, what: str,
                       error: type[LlmGitopsError], **attributes: Any) -> Any:
    """The one document in ``text``, read by a ``loader_class`` given ``attributes`` (a file name, a base dir).

    A syntax error or a bound exceeded becomes ``error("<where>:<line>: malformed <what>: <problem>")``,
    one line (the config and the eval task files report theirs alike).
    """
    try:
        loader = loader_class(text)  # the reader already rejects non-printable characters
        for name, value in attributes.items():
            setattr(loader, name, value)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise error(f"{where}:{line}: malformed {what}: the character {char} is not allowed in YAML "
                    f"(a NUL or other control character)", hint="save the file as plain UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        context = getattr(exc, "context", None)
        if context and getattr(exc, "problem", None) and not str(context).startswith("while "):  # "expected a single document ..., but found another"
            problem = f"{context}, {problem}" if str(problem).startswith("but ") else f"{context}: {problem}"
        if isinstance(exc, BoundsError):
            hint = "simplify the file"
        elif isinstance(exc, yaml.constructor.ConstructorError):  # well-formed, but a tag or value it cannot take
            hint = "fix the value at that line"
        else:
            hint = "fix the syntax at that line"
        raise error(f"{where}{line}: malformed {what}: {' '.join(str(problem).split())}", hint=hint) from None


__all__ = ["MAX_DEPTH", "MAX_NODES", "MERGE_TAG", "BoundedLoader", "BoundsError", "check_expansion", "describe",
           "load_yaml_document", "printable", "shown"]
