"""Validate a policy document (data with lines, see :mod:`skyfence.policy.document`).

:class:`Checker` walks the data once, collects every problem as a
:class:`~skyfence.errors.ParseError` with its line, and returns the parts of a policy
(rules, terminal rules, name, description, sensitive regions) when there is none.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from skyfence.errors import InputError, ParseError, SkyfenceError
from skyfence.policy.document import MAX_DEPTH, Doc, Path_, read_text
from skyfence.policy.rules import (
    ID_PATTERN,
    KIND_FIELDS,
    KIND_REQUIRED,
    PLANS,
    STATES,
    TERMINAL_RULE_KINDS,
    ActivationRule,
    TerminalRule,
    policy_time,
)
from skyfence.policy.seal import Seal, canonical_geojson
from skyfence.regions import RegionResolver, geojson_references
from skyfence.regions.io import inline_geometry

__all__ = ["Checker", "PolicyParts", "check_text", "check_data", "first_problem"]

TOP_KEYS = (
    "skyfence_policy",
    "name",
    "description",
    "sensitive_regions",
    "rules",
    "terminal_rules",
    "sealed",
)
_SEAL_KEYS = ("version", "worldview", "geojson", "sha256", "area_km2")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
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
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# a number as YAML 1.2 and JSON write it (YAML 1.1 wants a decimal point before an exponent)
_NUMBER = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_PLAN_LIST_KEYS = ("plans", "exempt_plans", "offshore_plans")
_NUMBER_KEYS = ("max_speed_kmh", "max_altitude_m", "max_trip_days", "offshore_km")


class PolicyParts(NamedTuple):
    """The validated fields of a :class:`~skyfence.policy.Policy`."""

    rules: tuple[ActivationRule, ...]
    terminal_rules: tuple[TerminalRule, ...]
    name: str
    description: str
    sensitive_regions: tuple[str, ...]
    sealed: Seal | None


def _choices(value: Any, valid: tuple[str, ...]) -> str:
    text = f"{value!r} is not one of {', '.join(valid)}"
    close = difflib.get_close_matches(str(value), valid, n=1)
    return text + (f" (did you mean {close[0]!r}?)" if close else "")


class Checker:
    def __init__(self, doc: Doc, source: str, resolve: Callable[[str], Any] | None):
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
        raw = self.doc.raw.get(path + (key,))
        if isinstance(value, str):
            text = value
        elif raw is not None and not isinstance(value, dict | list):
            text = raw  # plain scalar such as NO or 2024 read as text
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
        else:
            self.err(path + (key,), f"{key} must be text, got {type(value).__name__}")
            return None
        bad = _BAD_TEXT.search(text)
        if bad is not None:
            self.err(
                path + (key,),
                f"{key} contains the character U+{ord(bad.group(0)):04X}, which a policy cannot "
                "hold (control characters and lone surrogates); remove it",
            )
            return None
        return text

    def time(self, m: Mapping[str, Any], path: Path_, key: str) -> Any:
        text = self.text(m, path, key)
        if text is None:
            return None
        try:
            return policy_time(text)
        except InputError as exc:
            if "out of range" in str(exc):
                problem = (
                    "is out of range: times must lie in the years 1678 to 2261 (UTC), which the "
                    "engine holds exactly; leave effective_until out for an open end"
                )
            else:
                problem = "is not a time; expected ISO 8601 such as 2026-02-01T00:00:00Z"
            self.err(path + (key,), f"{key} {text!r} {problem}")
            return None

    def boolean(self, m: Mapping[str, Any], path: Path_, key: str, default: bool) -> bool:
        if key not in m or m[key] is None:
            return default
        if not isinstance(m[key], bool):
            self.err(path + (key,), f"{key} must be true or false, got {m[key]!r}")
            return default
        return bool(m[key])

    def number(self, m: Mapping[str, Any], path: Path_, key: str) -> float | None:
        if key not in m or m[key] is None:
            return None
        value = m[key]
        if isinstance(value, str) and path + (key,) in self.doc.raw and _NUMBER.match(value):
            value = float(value)  # YAML 1.1 reads 2e+16 (no decimal point) as text
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = None
        if number is None or not math.isfinite(number) or number < 0:
            self.err(path + (key,), f"{key} must be a finite number >= 0, got {value!r}")
            return None
        return number

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

    def rule_id(self, m: Mapping[str, Any], path: Path_, seen: dict[str, Path_]) -> str | None:
        rid = self.text(m, path, "id", required=True)
        if rid is None:
            return None
        if not ID_PATTERN.match(rid):
            self.err(
                path + ("id",),
                f"rule id {rid!r} must be 1-64 letters, digits or _ . : - (starting with a letter or digit)",
            )
        if rid in seen:
            self.err(
                path + ("id",),
                f"rule id {rid!r} is already used by the rule on line "
                f"{self.doc.line(seen[rid]) or 0}",
            )
        else:  # the path: its line is looked up only for a message (a scan of the text)
            seen[rid] = path + ("id",)
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
    def policy(self) -> PolicyParts | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.err((), "a policy is a mapping with keys rules, terminal_rules, name, ...")
            return None
        self.keys(data, (), TOP_KEYS)
        self._use_sealed_geometries(data.get("sealed"))
        version = data.get("skyfence_policy", 1)
        if version != 1:
            self.err(
                ("skyfence_policy",),
                f"skyfence_policy version {version!r} is not supported; expected 1",
            )
        seen: dict[str, Path_] = {}
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
        name = self.text(data, (), "name") or ""
        description = self.text(data, (), "description") or ""
        sealed = None
        if data.get("sealed") is not None:
            used = [r.region for r in rules] + [r.region for r in terminal_rules if r.region]
            sealed = self.seal(data["sealed"], [*used, *regions])
        if self.errors:
            return None
        return PolicyParts(
            rules=tuple(rules),
            terminal_rules=tuple(terminal_rules),
            name=name,
            description=description,
            sensitive_regions=tuple(regions),
            sealed=sealed,
        )

    def _use_sealed_geometries(self, m: Any) -> None:
        """When regions are checked with a RegionResolver and the document is sealed, check
        them against the geometries it carries: a sealed policy reads no file."""
        if not isinstance(self.resolve, RegionResolver) or not isinstance(m, dict):
            return
        raw = m.get("geojson")
        if not isinstance(raw, dict):
            return
        geometries: dict[str, Any] = {}
        for file, obj in raw.items():
            try:
                geometries[str(file)] = inline_geometry(obj)
            except (ParseError, ValueError):
                pass  # reported with its line by seal()
        self.resolve = self.resolve.with_geojson(geometries)

    def seal(self, m: Any, expressions: list[str]) -> Seal | None:
        """The ``sealed`` section: inline geometries and hashes, checked against the
        expressions the policy uses (each needs a hash, each file it names a geometry)."""
        path: Path_ = ("sealed",)
        if not isinstance(m, dict):
            self.err(path, "sealed must be a mapping with version, worldview, geojson, sha256")
            return None
        n = len(self.errors)
        self.keys(m, path, _SEAL_KEYS)
        if m.get("version", 1) != 1:
            self.err(path + ("version",), f"sealed version {m.get('version')!r} is not 1")
        worldview = self.text(m, path, "worldview") or ""
        geojson: dict[str, str] = {}
        geometries: dict[str, Any] = {}
        raw_geojson = m.get("geojson") or {}
        if not isinstance(raw_geojson, dict):
            self.err(path + ("geojson",), "sealed.geojson must map each file path to a geometry")
            raw_geojson = {}
        for file, obj in raw_geojson.items():
            where = path + ("geojson", file)
            try:
                geometries[file] = inline_geometry(obj, source=f"sealed geometry of {file!r}")
                geojson[file] = canonical_geojson(obj)
            except (ParseError, ValueError) as exc:
                reason = exc.reason if isinstance(exc, ParseError) else str(exc)
                self.err(where, f"sealed geometry of {file!r}: {reason}")
        hashes: dict[str, str] = {}
        raw_hashes = m.get("sha256") or {}
        if not isinstance(raw_hashes, dict):
            self.err(path + ("sha256",), "sealed.sha256 must map each region expression to a hash")
            raw_hashes = {}
        for expr, digest in raw_hashes.items():
            if not isinstance(digest, str) or not _HEX64.match(digest):
                self.err(
                    path + ("sha256", expr),
                    f"sealed hash of {expr!r} must be 64 lowercase hex digits (SHA-256)",
                )
            else:
                hashes[expr] = digest
        areas: dict[str, float] = {}
        raw_areas = m.get("area_km2") or {}
        if not isinstance(raw_areas, dict):
            self.err(path + ("area_km2",), "sealed.area_km2 must map region expressions to km²")
            raw_areas = {}
        for expr, area in raw_areas.items():
            if (
                isinstance(area, bool)
                or not isinstance(area, int | float)
                or not math.isfinite(area)
                or area < 0
            ):
                self.err(
                    path + ("area_km2", expr),
                    f"sealed area of {expr!r} must be a finite number of km² >= 0, got {area!r}",
                )
            elif expr not in raw_hashes:
                self.err(path + ("area_km2", expr, "<key>"), f"sealed area {expr!r} has no hash")
            else:
                areas[expr] = float(area)
        files: set[str] = set()
        for expr in dict.fromkeys(expressions):
            if expr not in raw_hashes:
                self.err(
                    path + ("sha256",),
                    f"the policy is sealed but region {expr!r} has no hash; seal it again",
                )
            try:
                refs = geojson_references(expr)
            except ParseError as exc:
                self.err(path + ("sha256", expr), f"region {expr!r}: {exc.reason}")
                continue
            for ref in refs:
                files.add(ref)
                if ref not in raw_geojson:
                    self.err(
                        path + ("geojson",),
                        f"region {expr!r} names geojson:{ref}, whose geometry is not sealed; "
                        "seal the policy again",
                    )
        for expr in raw_hashes:
            if expr not in expressions:
                self.err(path + ("sha256", expr, "<key>"), f"sealed region {expr!r} is not used")
        for file in raw_geojson:
            if file not in files:
                self.err(path + ("geojson", file, "<key>"), f"sealed file {file!r} is not used")
        if len(self.errors) > n:
            return None
        return Seal(
            worldview=worldview,
            geojson=tuple(sorted(geojson.items())),
            sha256=tuple(sorted(hashes.items())),
            geometries=geometries,
            area_km2=tuple(sorted(areas.items())),
        )

    def activation_rule(self, m: Any, path: Path_, seen: dict[str, Path_]) -> ActivationRule | None:
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

    def terminal_rule(self, m: Any, path: Path_, seen: dict[str, Path_]) -> TerminalRule | None:
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
        fields = KIND_FIELDS[kind]
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
        required = KIND_REQUIRED[kind]
        if kind != "whitelist_only" and kw.get(required) is None and required not in m:
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


def check_text(
    text: str, source: str, resolve: Callable[[str], Any] | None = None
) -> tuple[PolicyParts | None, list[ParseError]]:
    """Read and validate policy text; the parts (``None`` if invalid) and every problem,
    sorted by line."""
    try:
        doc = read_text(text, source)
    except ParseError as exc:
        return None, [exc]
    checker = Checker(doc, source, resolve)
    parts = checker.policy()
    checker.errors.sort(key=lambda e: e.line or 0)
    return parts, checker.errors


def first_problem(errors: list[ParseError]) -> ParseError:
    """The first problem, saying how many more there are."""
    first = errors[0]
    if len(errors) == 1:
        return first
    more = len(errors) - 1
    return ParseError(
        f"{first.reason} ({more} more problem{'s' if more > 1 else ''}; "
        "`skyfence policy validate FILE` lists them all)",
        source=first.source,
        line=first.line,
    )


def check_data(data: Mapping[str, Any], source: str) -> PolicyParts:
    """Validate a policy given as Python data (e.g. a stored JSON document); raise the
    first problem. Lines are those of the data written as JSON with one item per line."""
    _check_depth(data, source)
    try:
        text = json.dumps(data, indent=1, default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputError(f"{source}: a policy document must be JSON-able: {exc}") from None
    parts, errors = check_text(text, source)
    if errors:
        raise first_problem(errors)
    assert parts is not None
    return parts


def _check_depth(data: Any, source: str) -> None:
    """Refuse data nested deeper than the reader allows, without recursing."""
    todo: list[tuple[Any, int]] = [(data, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= MAX_DEPTH:
            raise InputError(
                f"{source}: the policy document is nested more than {MAX_DEPTH} levels deep"
            )
        todo.extend((child, depth + 1) for child in children)
