"""What the store checks about a policy document before it keeps it.

* :func:`prepare_document` validates the document as a policy and refuses one whose stored
  form would not read back identically (a policy that validates but cannot be read back
  would make every later command fail).
* :func:`judge` decides, from :func:`skyfence.policy.diff_policies` of the version being
  replaced and the new document, whether the change is sensitive and needs a second person.
  The store calls it inside its write transaction, so the decision is made against the
  version actually replaced; no caller passes a flag.
* :func:`rebase_document` re-applies a change built on an older version onto the current one
  (a three-way merge rule by rule), refusing when both touched the same rule differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyfence.errors import ConflictError, InputError, SkyfenceError
from skyfence.store.canonical import canonical_json

__all__ = [
    "Judgement",
    "prepare_document",
    "read_policy",
    "judge",
    "rebase_document",
    "describe_changes",
    "default_resolver",
]

Resolver = Callable[[str], Any]


@dataclass(frozen=True)
class Judgement:
    """Whether replacing a version by a document needs a second person, and what changes."""

    sensitive: bool
    reasons: list[str]
    changes: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"sensitive": self.sensitive, "reasons": self.reasons, "changes": self.changes}


def default_resolver() -> Resolver:
    """Region expressions resolved against the built-in worldview (loaded on first use)."""
    cache: list[Any] = []

    def resolve(expr: str) -> Any:
        from skyfence.regions import parse_region, world

        if not cache:
            cache.append(world())
        return parse_region(expr, cache[0])

    return resolve


def _policy_class() -> Any:
    from skyfence.policy import Policy

    return Policy


def prepare_document(document: Any, *, source: str = "the policy") -> tuple[dict[str, Any], Any]:
    """Validate ``document`` (a mapping or a ``Policy``) and return ``(stored form, policy)``.

    The stored form is the policy's ``to_document()``. It must read back to the same
    document through canonical JSON; otherwise the document is refused with
    :class:`~skyfence.errors.InputError` before anything is written.
    """
    policy_cls = _policy_class()
    if isinstance(document, policy_cls):
        policy = document
    elif isinstance(document, Mapping):
        policy = policy_cls.from_document(dict(document), source=source)
    else:
        raise InputError(
            f"a policy document is a mapping or a skyfence.policy.Policy, not "
            f"{type(document).__name__}"
        )
    stored = policy.to_document()
    try:
        text = canonical_json(stored)
    except InputError as exc:
        raise InputError(
            f"{source} validates but cannot be stored ({_one_line(exc)}), so it would not read "
            "back; it is refused before anything is written"
        ) from None
    try:
        again = policy_cls.from_document(json.loads(text), source="its stored form")
        back = canonical_json(again.to_document())
    except SkyfenceError as exc:
        raise InputError(
            f"{source} validates but its stored form does not read back ({_one_line(exc)}); "
            "it is refused so that the store stays usable. Write the value differently "
            "(e.g. a smaller number) and apply again"
        ) from None
    where: str | None
    if back != text:
        where = _first_path_difference(stored, json.loads(back))
    else:
        where = _policy_difference(policy, again)
    if where is not None:
        raise InputError(
            f"{source} validates but reads back differently from the store ({where}); it is "
            "refused so that what is stored is exactly what was approved"
        )
    return json.loads(text), policy


def _policy_difference(given: Any, back: Any) -> str | None:
    """The first field in which ``back`` differs from ``given`` (two policies), or ``None``."""
    import dataclasses

    if given == back:
        return None
    mine, theirs = [*given.rules, *given.terminal_rules], [*back.rules, *back.terminal_rules]
    pairs = list(zip(mine, theirs, strict=False))
    for a, b in pairs:
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name, None)
            if not (x is None and y is None) and (x is None or y is None or bool(x != y)):
                return f"rule {a.id!r} {f.name}: {x} becomes {y}"
    return "the policy differs from the one given"


def read_policy(document: Mapping[str, Any], *, source: str) -> Any:
    """A stored document as a ``Policy`` (raises the policy loader's error when invalid)."""
    return _policy_class().from_document(dict(document), source=source)


def describe_changes(diff: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "change": c.change,
            "kind": c.kind,
            "fields": list(c.fields),
            "regions": list(c.regions),
            "sensitive": bool(c.sensitive),
        }
        for c in diff.changes
    ]


def judge(
    old_document: Mapping[str, Any] | None,
    new_policy: Any,
    *,
    resolve: Resolver,
    old_label: str = "the policy in force",
    read: Callable[..., Any] = read_policy,
) -> Judgement:
    """Whether replacing ``old_document`` (``None``: no policy yet) by ``new_policy`` is
    sensitive. Fails closed: when the old version or a region cannot be read, the change is
    sensitive and the reason says why. ``read(document, source=...)`` reads the old
    version (default :func:`read_policy`; the store passes one that reuses a version it
    has already read)."""
    from skyfence.policy import diff_policies

    reasons: list[str] = []
    old = None
    if old_document is not None:
        try:
            old = read(old_document, source=old_label)
        except SkyfenceError as exc:
            reasons.append(
                f"{old_label} cannot be read ({_one_line(exc)}), so nothing it "
                "protects can be checked"
            )
    try:
        diff = diff_policies(old, new_policy, cells=False, resolve=resolve)
    except SkyfenceError as exc:
        reasons.append(
            f"the overlap with sensitive regions could not be checked ({_one_line(exc)})"
        )
        diff = diff_policies(old, new_policy, cells=False, resolve=lambda _expr: None)
    reasons = list(diff.sensitive_reasons) + reasons
    return Judgement(bool(reasons), reasons, describe_changes(diff))


def _rule_lists(doc: Mapping[str, Any]) -> list[str]:
    return [
        k
        for k, v in doc.items()
        if isinstance(v, list) and v and all(isinstance(r, dict) and "id" in r for r in v)
    ]


def rebase_document(
    base: Mapping[str, Any], mine: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Re-apply the edits that turn ``base`` into ``mine`` onto ``current``.

    Rules are matched by id (in every list of rules); other top-level fields as a whole.
    An edit applies when ``current`` left that rule or field as it was in ``base`` (or made
    the same edit). When both changed the same rule or field differently,
    :class:`~skyfence.errors.ConflictError` names them.

    Examples
    --------
    >>> base = {"name": "a", "rules": [{"id": "x", "state": "active"}]}
    >>> mine = {"name": "a", "rules": [{"id": "x", "state": "suspended"}]}
    >>> current = {"name": "b", "rules": [{"id": "x", "state": "active"}, {"id": "y"}]}
    >>> rebase_document(base, mine, current)
    {'name': 'b', 'rules': [{'id': 'x', 'state': 'suspended'}, {'id': 'y'}]}
    """
    out = dict(current)
    conflicts: list[str] = []
    lists = set(_rule_lists(base)) | set(_rule_lists(mine)) | set(_rule_lists(current))
    lists |= {"rules", "terminal_rules"}
    for key in sorted(set(base) | set(mine) | set(current)):
        b, m, c = base.get(key), mine.get(key), current.get(key)
        if key in lists:
            merged = _merge_rules(b or [], m or [], c or [], key, conflicts)
            if merged or key in current or key in mine:
                out[key] = merged
            continue
        if m == b:
            continue
        if c in (b, m):
            if key in mine:
                out[key] = m
            else:
                out.pop(key, None)
        else:
            conflicts.append(key)
    if conflicts:
        raise ConflictError(
            "cannot rebase: both this change and the versions applied since changed "
            f"{', '.join(conflicts)}; write the change again on top of the policy in force "
            "(`skyfence policy show --json`) and apply it"
        )
    return out


def _merge_rules(
    base: list[Any], mine: list[Any], current: list[Any], key: str, conflicts: list[str]
) -> list[Any]:
    by_base = {r["id"]: r for r in base}
    by_mine = {r["id"]: r for r in mine}
    result = [dict(r) for r in current]
    for rule_id in [*by_mine, *(i for i in by_base if i not in by_mine)]:
        b, m = by_base.get(rule_id), by_mine.get(rule_id)
        c = next((r for r in result if r["id"] == rule_id), None)
        if m == b:
            continue  # this change left the rule alone: keep what is in force
        if c != b and c != m:
            conflicts.append(f"{key} {rule_id!r}")
            continue
        if m is None:
            result = [r for r in result if r["id"] != rule_id]
        elif c is not None:
            result = [dict(m) if r["id"] == rule_id else r for r in result]
        else:  # an added rule goes after the rule it follows in the change
            position = 0
            for prev in reversed([r["id"] for r in mine[: mine.index(m)]]):
                at = next((i for i, r in enumerate(result) if r["id"] == prev), None)
                if at is not None:
                    position = at + 1
                    break
            result.insert(position, dict(m))
    return result


def _first_path_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_path_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_path_difference(x, y, f"{path}[{i}]")
    return f"{path or 'the document'}: {a!r} becomes {b!r}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
