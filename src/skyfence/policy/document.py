"""Read policy text (YAML or JSON) into Python data that remembers the line of every value.

:func:`read_text` returns a :class:`Doc`: the data, the line of each path (a tuple of keys
and list indices) and the raw text of plain YAML scalars, so the validator can read
``region: NO`` as the text ``NO`` and report every problem with its line.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from skyfence.errors import ParseError

__all__ = ["Doc", "Path_", "read_text"]

Path_ = tuple[Any, ...]


class Doc:
    """Python data of a composed document plus the line of every path."""

    def __init__(self, data: Any, lines: dict[Path_, int], raw: dict[Path_, str]):
        self.data = data
        self.lines = lines
        self.raw = raw

    def line(self, path: Path_) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def read_text(text: str, source: str) -> Doc:
    if text.lstrip().startswith(("{", "[")):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(
            f"invalid YAML: {problem}", source=source, line=None if mark is None else mark.line + 1
        ) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", source=source) from None
    finally:
        loader.dispose()
    if node is None:
        raise ParseError(
            "the policy file is empty; start from `skyfence policy example ukraine-2026`",
            source=source,
        )
    lines: dict[Path_, int] = {}
    raw: dict[Path_, str] = {}
    duplicates: list[tuple[int, str]] = []
    constructor = yaml.SafeLoader("")

    def walk(n: yaml.Node, path: Path_) -> Any:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = walk(key_node, path + ("<key>",))
                key = str(key)
                if key in out:
                    duplicates.append((key_node.start_mark.line + 1, key))
                out[key] = walk(value_node, path + (key,))
                lines[path + (key, "<key>")] = key_node.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(v, path + (i,)) for i, v in enumerate(n.value)]
        assert isinstance(n, yaml.ScalarNode)
        if n.style is None:
            raw[path] = n.value
        if n.tag == "tag:yaml.org,2002:timestamp":
            return n.value  # times are parsed (and checked) by skyfence, as text
        try:
            return constructor.construct_object(n, deep=True)
        except (ValueError, TypeError):
            return n.value

    try:
        data = walk(node, ())
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML value: {exc}", source=source) from None
    finally:
        constructor.dispose()
    doc = Doc(data, lines, raw)
    if duplicates:
        line, key = duplicates[0]
        raise ParseError(f"key {key!r} appears twice in the same mapping", source=source, line=line)
    return doc
