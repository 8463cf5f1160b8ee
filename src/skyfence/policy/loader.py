"""Read and validate policy files (YAML or JSON) with line-precise errors.

The file is composed with PyYAML (JSON is read the same way, after a strict JSON syntax
check), so every value keeps the line it came from and every problem is reported as
``policy.yaml line 12: state 'actve' is not one of active, coming_soon, ...``.
Plain YAML scalars are read as text where text is expected, so ``region: NO`` means Norway,
not ``False``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from skyfence.errors import InputError, ParseError, SkyfenceError
from skyfence.policy.model import (
    _ID_RE,
    _KIND_FIELDS,
    PLANS,
    STATES,
    TERMINAL_RULE_KINDS,
    ActivationRule,
    Policy,
    TerminalRule,
)
from skyfence.timeutil import parse_time

__all__ = ["load_policy", "parse_policy", "check_policy", "policy_from_data"]

Path_ = tuple[Any, ...]

_TOP_KEYS = (
    "skyfence_policy",
    "name",
    "description",
    "sensitive_regions",
    "rules",
    "terminal_rules",
)
_COMMON_KEYS = ("id", "effective_from", "effective_until", "reason", "author", "sensitive")
_RULE_KEYS = (
    "id",
    "region",
    "state",
    "effective_from",
    "effective_until",
    "reason",
    "author",
    "sensitive",
)
_PLAN_LIST_KEYS = ("plans", "exempt_plans", "offshore_plans")
_NUMBER_KEYS = ("max_speed_kmh", "max_altitude_m", "max_trip_days", "offshore_km")


class _Doc:
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


def _compose(text: str, source: str) -> _Doc:
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
    doc = _Doc(data, lines, raw)
    if duplicates:
        line, key = duplicates[0]
        raise ParseError(f"key {key!r} appears twice in the same mapping", source=source, line=line)
    return doc


def _choices(value: Any, valid: tuple[str, ...]) -> str:
    text = f"{value!r} is not one of {', '.join(valid)}"
    close = difflib.get_close_matches(str(value), valid, n=1)
    return text + (f" (did you mean {close[0]!r}?)" if close else "")


class _Checker:
    def __init__(self, doc: _Doc, source: str, resolve: Callable[[str], Any] | None):
        self.doc = doc
        self.source = source
        self.resolve = resolve
        self.errors: list[ParseError] = []
        self._resolved: dict[str, str | None] = {}

    def err(self, path: Path_, message: str) -> None:
        self.errors.append(ParseError(message, source=self.source, line=self.doc.line(path)))

    # -- scalar readers --------------------------------------------------------
    def text(
        self, m: Mapping[str, Any], path: Path_, key: str, *, required: bool = False
    ) -> str | None:
        if key not in m or m[key] is None:
            if required:
                self.err(path, f"{self.what(path)} needs {key!r}")
            return None
        value = m[key]
        if isinstance(value, str):
            return value
        raw = self.doc.raw.get(path + (key,))
        if raw is not None and not isinstance(value, dict | list):
            return raw  # plain scalar such as NO or 2024 read as text
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.err(path + (key,), f"{key} must be text, got {type(value).__name__}")
        return None

    def time(self, m: Mapping[str, Any], path: Path_, key: str) -> Any:
        text = self.text(m, path, key)
        if text is None:
            return None
        try:
            return parse_time(text)
        except InputError:
            self.err(
                path + (key,),
                f"{key} {text!r} is not a time; expected ISO 8601 such as 2026-02-01T00:00:00Z",
            )
            return None

    def boolean(self, m: Mapping[str, Any], path: Path_, key: str, default: bool) -> bool:
        if key not in m or m[key] is None:
            return default
        if not isinstance(m[key], bool):
            self.err(path + (key,), f"{key} must be true or false, got {m[key]!r}")
            return default
        return m[key]

    def number(self, m: Mapping[str, Any], path: Path_, key: str) -> float | None:
        if key not in m or m[key] is None:
            return None
        value = m[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            self.err(path + (key,), f"{key} must be a finite number >= 0, got {value!r}")
            return None
        return float(value)

    def plans(self, m: Mapping[str, Any], path: Path_, key: str) -> tuple[str, ...] | None:
        if key not in m or m[key] is None:
            return None
        value = m[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.err(path + (key,), f"{key} must be a list of plans ({', '.join(PLANS)})")
            return None
        out = []
        for i, plan in enumerate(value):
            if plan not in PLANS:
                self.err(path + (key, i), f"plan {_choices(plan, PLANS)}")
            else:
                out.append(plan)
        return tuple(out)

    def rule_id(self, m: Mapping[str, Any], path: Path_, seen: dict[str, int]) -> str | None:
        rid = self.text(m, path, "id", required=True)
        if rid is None:
            return None
        if not _ID_RE.match(rid):
            self.err(
                path + ("id",),
                f"rule id {rid!r} must be 1-64 letters, digits or _ . : - (starting with a letter or digit)",
            )
        if rid in seen:
            self.err(
                path + ("id",), f"rule id {rid!r} is already used by the rule on line {seen[rid]}"
            )
        else:
            seen[rid] = self.doc.line(path + ("id",)) or 0
        return rid

    def region(
        self, m: Mapping[str, Any], path: Path_, key: str = "region", *, required: bool = True
    ) -> str | None:
        expr = self.text(m, path, key, required=required)
        if expr is None:
            return None
        if not expr.strip():
            self.err(path + (key,), f"{key} must not be empty")
            return None
        if self.resolve is not None:
            if expr not in self._resolved:
                try:
                    self.resolve(expr)
                    self._resolved[expr] = None
                except SkyfenceError as exc:
                    self._resolved[expr] = " ".join(str(exc).split())
            problem = self._resolved[expr]
            if problem is not None:
                self.err(path + (key,), f"region {expr!r}: {problem}")
        return expr

    def keys(self, m: Mapping[str, Any], path: Path_, valid: tuple[str, ...]) -> None:
        for key in m:
            if key not in valid:
                self.err(path + (key, "<key>"), f"unknown key {_choices(key, valid)}")

    def window(self, m: Mapping[str, Any], path: Path_) -> tuple[Any, Any]:
        start = self.time(m, path, "effective_from")
        end = self.time(m, path, "effective_until")
        if start is not None and end is not None and not start < end:
            self.err(
                path + ("effective_until",), "effective_until must be later than effective_from"
            )
        return start, end

    def what(self, path: Path_) -> str:
        if len(path) >= 2 and path[0] in ("rules", "terminal_rules"):
            return f"{'rule' if path[0] == 'rules' else 'terminal rule'} {path[1] + 1}"
        return "the policy"

    # -- document --------------------------------------------------------------
    def policy(self) -> Policy | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.err((), "a policy is a mapping with keys rules, terminal_rules, name, ...")
            return None
        self.keys(data, (), _TOP_KEYS)
        version = data.get("skyfence_policy", 1)
        if version != 1:
            self.err(
                ("skyfence_policy",),
                f"skyfence_policy version {version!r} is not supported; expected 1",
            )
        seen: dict[str, int] = {}
        rules = []
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            self.err(
                ("rules",), "rules must be a list of rules (each a mapping with id, region, state)"
            )
            raw_rules = []
        for i, m in enumerate(raw_rules):
            rule = self.activation_rule(m, ("rules", i), seen)
            if rule is not None:
                rules.append(rule)
        terminal_rules = []
        raw_trules = data.get("terminal_rules") or []
        if not isinstance(raw_trules, list):
            self.err(
                ("terminal_rules",),
                "terminal_rules must be a list of rules (each a mapping with id, kind, ...)",
            )
            raw_trules = []
        for i, m in enumerate(raw_trules):
            trule = self.terminal_rule(m, ("terminal_rules", i), seen)
            if trule is not None:
                terminal_rules.append(trule)
        sensitive = data.get("sensitive_regions") or []
        if isinstance(sensitive, str):
            sensitive = [sensitive]
        if not isinstance(sensitive, list):
            self.err(
                ("sensitive_regions",), "sensitive_regions must be a list of region expressions"
            )
            sensitive = []
        regions = []
        for i, item in enumerate(sensitive):
            raw = self.doc.raw.get(("sensitive_regions", i))
            if not isinstance(item, str) and raw is None:
                self.err(
                    ("sensitive_regions", i), "sensitive_regions entries must be region expressions"
                )
                continue
            expr = self.region(
                {"region": item if isinstance(item, str) else raw}, ("sensitive_regions", i)
            )
            if expr is not None:
                regions.append(expr)
        if self.errors:
            return None
        return Policy(
            rules=tuple(rules),
            terminal_rules=tuple(terminal_rules),
            name=self.text(data, (), "name") or "",
            description=self.text(data, (), "description") or "",
            sensitive_regions=tuple(regions),
        )

    def activation_rule(self, m: Any, path: Path_, seen: dict[str, int]) -> ActivationRule | None:
        if not isinstance(m, dict):
            self.err(path, f"rule {path[1] + 1} must be a mapping with id, region, state, ...")
            return None
        n = len(self.errors)
        self.keys(m, path, _RULE_KEYS)
        rid = self.rule_id(m, path, seen)
        region = self.region(m, path)
        state = self.text(m, path, "state", required=True)
        if state is not None and state not in STATES:
            self.err(path + ("state",), f"state {_choices(state, STATES)}")
        start, end = self.window(m, path)
        reason = self.text(m, path, "reason") or ""
        author = self.text(m, path, "author") or ""
        sensitive = self.boolean(m, path, "sensitive", False)
        if len(self.errors) > n or rid is None or region is None or state is None:
            return None
        return ActivationRule(rid, region, state, start, end, reason, author, sensitive)

    def terminal_rule(self, m: Any, path: Path_, seen: dict[str, int]) -> TerminalRule | None:
        if not isinstance(m, dict):
            self.err(path, f"terminal rule {path[1] + 1} must be a mapping with id, kind, ...")
            return None
        n = len(self.errors)
        rid = self.rule_id(m, path, seen)
        kind = self.text(m, path, "kind", required=True)
        if kind is None:
            return None
        if kind not in TERMINAL_RULE_KINDS:
            self.err(path + ("kind",), f"kind {_choices(kind, TERMINAL_RULE_KINDS)}")
            return None
        fields = _KIND_FIELDS[kind]
        self.keys(m, path, ("kind", *_COMMON_KEYS, *fields))
        kw: dict[str, Any] = {}
        for name in fields:
            if name == "region":
                kw[name] = self.region(m, path, required=kind == "whitelist_only")
            elif name in _PLAN_LIST_KEYS:
                plans = self.plans(m, path, name)
                if plans is not None:
                    kw[name] = plans
            elif name in _NUMBER_KEYS:
                kw[name] = self.number(m, path, name)
            elif name == "honour_speed_exemption":
                kw[name] = self.boolean(m, path, name, True)
            elif name == "open_sea_state":
                state = self.text(m, path, name)
                if state is not None and state not in STATES:
                    self.err(path + (name,), f"open_sea_state {_choices(state, STATES)}")
                kw[name] = state
        required = {
            "speed_limit": "max_speed_kmh",
            "altitude": "max_altitude_m",
            "roaming": "max_trip_days",
            "maritime": "offshore_km",
        }.get(kind)
        if required is not None and kw.get(required) is None and required not in m:
            self.err(path, f"terminal rule {path[1] + 1} of kind {kind} needs {required!r}")
        start, end = self.window(m, path)
        reason = self.text(m, path, "reason") or ""
        author = self.text(m, path, "author") or ""
        sensitive = self.boolean(m, path, "sensitive", False)
        if len(self.errors) > n or rid is None:
            return None
        return TerminalRule(
            id=rid,
            kind=kind,
            effective_from=start,
            effective_until=end,
            reason=reason,
            author=author,
            sensitive=sensitive,
            **kw,
        )


def check_policy(
    text: str, source: str = "<policy>", *, resolve: Callable[[str], Any] | None = None
) -> tuple[Policy | None, list[ParseError]]:
    """Validate policy text; return the policy (``None`` if invalid) and every problem found.

    ``resolve`` (e.g. ``lambda e: parse_region(e, world())``) also checks that each region
    expression can be built; each problem carries the line it comes from.
    """
    try:
        doc = _compose(text, source)
    except ParseError as exc:
        return None, [exc]
    checker = _Checker(doc, source, resolve)
    policy = checker.policy()
    checker.errors.sort(key=lambda e: e.line or 0)
    return policy, checker.errors


def parse_policy(
    text: str, source: str = "<policy>", *, resolve: Callable[[str], Any] | None = None
) -> Policy:
    """Parse and validate policy text (YAML or JSON); raise ``ParseError`` at the first problem.

    Examples
    --------
    >>> p = parse_policy("rules:\\n  - {id: ua, region: UA, state: active}\\n")
    >>> p.rules[0].state
    'active'
    >>> parse_policy("rules:\\n  - {id: ua, region: UA, state: actve}\\n", "p.yaml")
    Traceback (most recent call last):
    ...
    skyfence.errors.ParseError: p.yaml line 2: state 'actve' is not one of active, coming_soon, waitlist, pending_licence, not_licensed, suspended, denied (did you mean 'active'?)
    """
    policy, errors = check_policy(text, source, resolve=resolve)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            more = len(errors) - 1
            raise ParseError(
                f"{first.reason} ({more} more problem{'s' if more > 1 else ''}; "
                "`skyfence policy validate FILE` lists them all)",
                source=first.source,
                line=first.line,
            )
        raise first
    assert policy is not None
    return policy


def load_policy(path: str | Path, *, resolve: Callable[[str], Any] | None = None) -> Policy:
    """Read a policy file (``.yaml``, ``.yml`` or ``.json``); see :func:`parse_policy`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror}") from None
    return parse_policy(text, path.name, resolve=resolve)


def policy_from_data(data: Mapping[str, Any], *, source: str = "<document>") -> Policy:
    """Validate a policy given as Python data (e.g. a stored JSON document)."""
    try:
        text = json.dumps(data, indent=1, default=str)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: a policy document must be JSON-able: {exc}") from None
    return parse_policy(text, source)
