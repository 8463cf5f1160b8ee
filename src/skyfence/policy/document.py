"""Read policy text (YAML or JSON) into Python data that remembers the line of every value.

:func:`read_text` returns a :class:`Doc`: the data, the line of each path (a tuple of keys
and list indices) and the raw text of plain YAML scalars, so the validator can read
``region: NO`` as the text ``NO`` and report every problem with its line.

Reading is bounded, because policies come from people and files one does not control:

* text longer than :data:`MAX_YAML_CHARS` (YAML) or :data:`MAX_JSON_CHARS` (JSON) is refused;
* lists and mappings nest at most :data:`MAX_DEPTH` levels;
* YAML aliases (``*name``) are refused: an alias can repeat a subtree exponentially
  (a 430-byte "billion laughs" document), or refer to itself;
* YAML may not contain control characters (the error names the line and column);
* only the standard YAML tags are read.

JSON is read as JSON (``json.loads``, so ``2e+16`` is a number), not as YAML 1.1; the lines
of a JSON document are worked out only when a problem has to be reported.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from skyfence.errors import ParseError
from skyfence.regions._json import line_of, loads_bounded

__all__ = ["Doc", "Path_", "read_text", "MAX_DEPTH", "MAX_YAML_CHARS", "MAX_JSON_CHARS"]

Path_ = tuple[Any, ...]

#: Deepest nesting of lists and mappings read (a policy needs 4; a sealed geometry 8).
MAX_DEPTH = 64
#: Longest YAML text read (characters): policy files are written by hand, and YAML is read
#: event by event in Python (about 2 MB/s).
MAX_YAML_CHARS = 4 * 1024 * 1024
#: Longest JSON text read (characters): stored documents, which may carry sealed geometry.
MAX_JSON_CHARS = 64 * 1024 * 1024

# what YAML 1.1 allows in a stream (PyYAML's Reader.NON_PRINTABLE, inverted)
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_JSON_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\],:])|([^\s{}\[\],:"]+))', re.S)


class Doc:
    """Python data of a document plus the line of every path.

    ``lines`` maps a path to the line where its value starts; ``path + (key, "<key>")`` is
    the line of a mapping key. ``raw`` holds the text of plain (unquoted) YAML scalars.
    For JSON the lines are computed on first use.
    """

    def __init__(
        self,
        data: Any,
        lines: dict[Path_, int] | None,
        raw: dict[Path_, str],
        text: str = "",
    ):
        self.data = data
        self._lines = lines
        self.raw = raw
        self._text = text

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            self._lines = _json_lines(self._text)
        return self._lines

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        lines = self.lines
        while path:
            if path in lines:
                return lines[path]
            path = path[:-1]
        return lines.get((), None)


def read_text(text: str, source: str) -> Doc:
    """Read YAML or JSON text (JSON when it starts with ``{`` or ``[``) into a :class:`Doc`.

    Raises :class:`~skyfence.errors.ParseError` (with the line where known) for invalid
    or unbounded input, and for an empty document.
    """
    if not isinstance(text, str):
        raise ParseError(f"policy text must be str, got {type(text).__name__}", source=source)
    if text.lstrip().startswith(("{", "[")):
        return _read_json(text, source)
    return _read_yaml(text, source)


# ----------------------------------------------------------------------------- JSON
def _read_json(text: str, source: str) -> Doc:
    if len(text) > MAX_JSON_CHARS:
        raise ParseError(
            f"the JSON text has {len(text):,} characters; at most {MAX_JSON_CHARS:,} are read",
            source=source,
        )
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            duplicates.append("yes")
        return out

    data = loads_bounded(text, source=source, max_depth=MAX_DEPTH, object_pairs_hook=pairs)
    doc = Doc(data, None, {}, text)
    if duplicates:
        dup = _json_first_duplicate(text)
        key, line = dup if dup is not None else ("?", None)
        raise ParseError(f"key {key!r} appears twice in the same mapping", source=source, line=line)
    return doc


def _json_scan(text: str, on_key: Any = None) -> dict[Path_, int]:
    """Line of every value and key of (valid) JSON text, by one pass over its tokens."""
    lines: dict[Path_, int] = {}
    stack: list[list[Any]] = []  # frames: [kind, path, key or index, expecting_key]
    line, last = 1, 0
    pos = 0
    n = len(text)

    def value_path() -> Path_:
        if not stack:
            return ()
        frame = stack[-1]
        return (*frame[1], frame[2])

    while pos < n:
        m = _JSON_TOKEN.match(text, pos)
        if m is None or m.lastindex is None:
            break
        start = m.start(m.lastindex)
        line += text.count("\n", last, start)
        last = start
        pos = m.end()
        string, punct = m.group(1), m.group(2)
        if punct in ("}", "]"):
            stack.pop()
            continue
        if punct == ",":
            frame = stack[-1]
            if frame[0] == "obj":
                frame[3] = True
            else:
                frame[2] += 1
            continue
        if punct == ":":
            continue
        if string is not None and stack and stack[-1][0] == "obj" and stack[-1][3]:
            frame = stack[-1]
            frame[2] = json.loads(string)
            frame[3] = False
            key_path = (*frame[1], frame[2], "<key>")
            if on_key is not None and key_path in lines:
                on_key(frame[2], line)
            lines[key_path] = line
            continue
        path = value_path()
        lines[path] = line
        if punct == "{":
            stack.append(["obj", path, None, True])
        elif punct == "[":
            stack.append(["arr", path, 0, False])
    return lines


def _json_lines(text: str) -> dict[Path_, int]:
    return _json_scan(text)


def _json_first_duplicate(text: str) -> tuple[str, int] | None:
    found: list[tuple[str, int]] = []
    _json_scan(text, on_key=lambda key, line: found.append((key, line)))
    return found[0] if found else None


# ----------------------------------------------------------------------------- YAML
def _read_yaml(text: str, source: str) -> Doc:
    if len(text) > MAX_YAML_CHARS:
        raise ParseError(
            f"the YAML text has {len(text):,} characters; at most {MAX_YAML_CHARS:,} are read "
            "(write large documents as JSON)",
            source=source,
        )
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        pos = bad.start()
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        raise ParseError(
            f"invalid YAML: control character U+{ord(bad.group(0)):04X} at column {column} "
            "is not allowed; remove it (inside double quotes write it as an escape such as "
            "\\x01)",
            source=source,
            line=line_of(text, pos),
        )
    loader = _LOADER(text)
    try:
        return _compose(loader, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(
            f"invalid YAML: {problem}", source=source, line=None if mark is None else mark.line + 1
        ) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {' '.join(str(exc).split())}", source=source) from None
    finally:
        loader.dispose()


def _compose(loader: Any, source: str) -> Doc:
    """Build the data from the parser's events with an explicit stack (no recursion)."""
    lines: dict[Path_, int] = {}
    raw: dict[Path_, str] = {}
    duplicates: list[tuple[int, str]] = []
    # frames: [container, path, pending key (mappings) or next index (lists)]
    stack: list[list[Any]] = []
    root: Any = None
    have_root = False
    documents = 0

    def fail(message: str, event: Any) -> ParseError:
        return ParseError(message, source=source, line=event.start_mark.line + 1)

    def place(value: Any, event: Any, is_key_scalar: bool, plain: str | None) -> bool:
        """Put a finished value into its parent; True if it became a pending mapping key."""
        nonlocal root, have_root
        line = event.start_mark.line + 1
        if not stack:
            root, have_root = value, True
            lines[()] = line
            if plain is not None:
                raw[()] = plain
            return False
        frame = stack[-1]
        container, path = frame[0], frame[1]
        if isinstance(container, dict):
            if frame[2] is _NO_KEY:
                if not is_key_scalar:
                    raise fail("mapping keys must be plain text, not lists or mappings", event)
                key = str(value) if plain is None else plain
                if key in container:
                    duplicates.append((line, key))
                frame[2] = key
                lines[(*path, key, "<key>")] = line
                return True
            key = frame[2]
            container[key] = value
            lines[(*path, key)] = line
            if plain is not None:
                raw[(*path, key)] = plain
            frame[2] = _NO_KEY
            return False
        index = len(container)
        container.append(value)
        lines[(*path, index)] = line
        if plain is not None:
            raw[(*path, index)] = plain
        return False

    def child_path() -> Path_:
        if not stack:
            return ()
        frame = stack[-1]
        container, path = frame[0], frame[1]
        if isinstance(container, dict):
            return (*path, frame[2])
        return (*path, len(container))

    while True:
        event = loader.get_event()
        if event is None:
            break
        if isinstance(event, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
            continue
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise fail("expected one YAML document, but found another ('---')", event)
            continue
        if isinstance(event, yaml.AliasEvent):
            raise fail(
                f"YAML aliases (*{event.anchor}) are not allowed in policy files; write the "
                "value out in full",
                event,
            )
        if isinstance(event, yaml.ScalarEvent):
            value, plain = _scalar(loader, event, fail)
            awaiting_key = bool(stack) and isinstance(stack[-1][0], dict)
            place(value, event, awaiting_key and stack[-1][2] is _NO_KEY, plain)
            continue
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            is_map = isinstance(event, yaml.MappingStartEvent)
            if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                raise fail(f"the YAML tag {event.tag} is not supported in policy files", event)
            if len(stack) >= MAX_DEPTH:
                raise fail(
                    f"lists and mappings are nested more than {MAX_DEPTH} deep; a policy "
                    "needs a few levels",
                    event,
                )
            if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is _NO_KEY:
                raise fail("mapping keys must be plain text, not lists or mappings", event)
            container: Any = {} if is_map else []
            path = child_path()
            place(container, event, False, None)
            stack.append([container, path, _NO_KEY])
            continue
        if isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            stack.pop()
            continue
    if not have_root:
        raise ParseError(
            "the policy file is empty; start from `skyfence policy example ukraine-2026`",
            source=source,
        )
    if duplicates:
        line, key = duplicates[0]
        raise ParseError(f"key {key!r} appears twice in the same mapping", source=source, line=line)
    return Doc(root, lines, raw)


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NO_KEY: Any = _NoKey()


def _scalar(loader: Any, event: Any, fail: Any) -> tuple[Any, str | None]:
    """The value of a scalar event, and its text if it is a plain (unquoted) scalar."""
    plain = event.value if event.style is None or event.style == "" else None
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == "tag:yaml.org,2002:timestamp":
        return event.value, plain  # times are read (and checked) by skyfence, as text
    if tag == "tag:yaml.org,2002:str":
        return event.value, plain
    if tag not in _SCALAR_TAGS:
        raise fail(f"the YAML tag {tag} is not supported in policy files", event)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return loader.construct_object(node, deep=True), plain
    except (ValueError, TypeError, OverflowError):
        return event.value, plain


_SCALAR_TAGS = (
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
)
