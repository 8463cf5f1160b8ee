"""Compare two policies: which rules changed, which regions, how many H3 cells change
state, and whether the change touches something sensitive (needs a second operator)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skyfence.policy.compile import default_resolve
from skyfence.policy.model import Policy
from skyfence.policy.rules import STATES, ActivationRule
from skyfence.policy.seal import sealed_resolve
from skyfence.regions import RegionResolver
from skyfence.regions._geos import PREPARED
from skyfence.timeutil import datetime64_to_iso, parse_time

__all__ = ["RuleChange", "PolicyDiff", "diff_policies", "requires_approval"]


@dataclass(frozen=True)
class RuleChange:
    """One rule added, removed or changed (``fields`` lists the changed fields)."""

    id: str
    change: str
    kind: str
    fields: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    sensitive: bool = False


@dataclass(frozen=True)
class PolicyDiff:
    """The difference between two policies.

    ``cells_changed`` counts the H3 cells (at ``resolution``, judged at their centres) of
    the regions of changed activation rules whose activation state differs at ``at``;
    ``None`` when not computed. ``sensitive`` says whether applying the change needs a
    second operator's approval, and ``sensitive_reasons`` why.
    """

    changes: list[RuleChange]
    regions: list[str]
    sensitive: bool
    sensitive_reasons: list[str]
    cells_changed: int | None = None
    cells_checked: int | None = None
    resolution: int = 5
    at: str = ""
    cell_transitions: dict[str, int] = field(default_factory=dict)

    @property
    def added(self) -> list[str]:
        return [c.id for c in self.changes if c.change == "added"]

    @property
    def removed(self) -> list[str]:
        return [c.id for c in self.changes if c.change == "removed"]

    @property
    def changed(self) -> list[str]:
        return [c.id for c in self.changes if c.change == "changed"]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.sensitive_reasons


def _rule_docs(
    policy: Policy | None, with_hashes: bool = False
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each rule's document; ``with_hashes`` adds ``region_sha256`` (sealed policies), so a
    rule whose region text is unchanged but whose geometry changed shows as changed."""
    if policy is None:
        return {}
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    every: list[Any] = [*policy.rules, *policy.terminal_rules]
    for r in every:
        doc = r.to_document()
        if with_hashes and policy.sealed is not None and doc.get("region"):
            doc["region_sha256"] = policy.sealed.hash_of(doc["region"])
        out[r.id] = ("activation" if isinstance(r, ActivationRule) else r.kind, doc)
    return out


def diff_policies(
    old: Policy | None,
    new: Policy,
    *,
    at: Any = None,
    resolution: int = 5,
    cells: bool = True,
    resolve: Callable[[str], Any] | None = None,
    compile_kwargs: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PolicyDiff:
    """Compare ``old`` (``None`` = no policy yet) with ``new``.

    When both are sealed, a rule whose region expression is unchanged but whose sealed
    geometry differs (a GeoJSON file edited and applied again, new boundary data) is a
    changed rule with the field ``region_sha256``.

    ``resolve`` (``expr -> Region``; default ``skyfence.regions``) is used for the
    sensitive-region overlap test and the cell count; ``compile_kwargs`` are passed to
    :meth:`Policy.compile` for the cell count (``cells=False`` skips it).

    Examples
    --------
    >>> from skyfence.policy import parse_policy
    >>> a = parse_policy("rules: [{id: x, region: UA, state: active}]")
    >>> b = parse_policy("rules: [{id: x, region: UA, state: suspended, sensitive: true}]")
    >>> d = diff_policies(a, b, cells=False, resolve=lambda e: None)
    >>> d.changed, d.changes[0].fields, d.sensitive
    (['x'], ['sensitive', 'state'], True)
    """
    if resolve is None:
        resolve = (compile_kwargs or {}).get("resolve")
    if resolve is None:
        resolve = default_resolve()
    region_of = _region_lookup(old, new, resolve)
    both_sealed = old is not None and old.sealed is not None and new.sealed is not None
    before, after = _rule_docs(old, both_sealed), _rule_docs(new, both_sealed)
    changes: list[RuleChange] = []
    for rid in [*before, *(k for k in after if k not in before)]:
        b = before.get(rid)
        a = after.get(rid)
        regions = sorted({str(d[1]["region"]) for d in (b, a) if d and d[1].get("region")})
        sens = any(d[1].get("sensitive") for d in (b, a) if d)
        if b is None and a is not None:
            changes.append(RuleChange(rid, "added", a[0], [], regions, sens))
        elif a is None and b is not None:
            changes.append(RuleChange(rid, "removed", b[0], [], regions, sens))
        elif a is not None and b is not None and a != b:
            fields = sorted(k for k in set(a[1]) | set(b[1]) if a[1].get(k) != b[1].get(k))
            if "region" in fields and "region_sha256" in fields:
                fields.remove("region_sha256")  # a new expression has a new geometry anyway
            if a[0] != b[0]:
                fields = sorted({*fields, "kind"})
            changes.append(RuleChange(rid, "changed", a[0], fields, regions, sens))
    regions = sorted({r for c in changes for r in c.regions})

    reasons = [f"rule {c.id!r} is marked sensitive" for c in changes if c.sensitive]
    old_sens = tuple(old.sensitive_regions) if old is not None else ()
    if old is not None and set(old_sens) != set(new.sensitive_regions):
        reasons.append("the list of sensitive regions changed")
    sensitive_exprs = sorted(set(old_sens) | set(new.sensitive_regions))
    if sensitive_exprs and regions:
        import shapely

        cache: dict[str, Any] = {}

        def geom(expr: str) -> Any:
            if expr not in cache:
                region = region_of(expr)
                cache[expr] = None if region is None else region.geometry
            return cache[expr]

        for c in changes:
            if c.sensitive:
                continue
            for expr in c.regions:
                g = geom(expr)
                with PREPARED:  # regions' geometries, shared with deciding threads
                    hit = [
                        s
                        for s in sensitive_exprs
                        if g is not None
                        and geom(s) is not None
                        and shapely.intersects(g, geom(s))
                        and not shapely.touches(g, geom(s))
                    ]
                if hit:
                    reasons.append(
                        f"rule {c.id!r}: region {expr!r} overlaps sensitive region {hit[0]!r}"
                    )
                    break

    t = parse_time(at)
    cells_changed = cells_checked = None
    transitions: dict[str, int] = {}
    act_regions = sorted({r for c in changes if c.kind == "activation" for r in c.regions})
    if cells and act_regions:
        from h3.api import basic_int as h3i

        kwargs = dict(compile_kwargs or {})
        kwargs.setdefault("resolve", resolve)
        cover = np.unique(
            np.concatenate(
                [np.asarray(region_of(e).cells(resolution), dtype=np.uint64) for e in act_regions]
            )
        )
        cells_checked = int(cover.size)
        if progress is not None:
            progress(0, 3)
        latlon = np.array(
            [h3i.cell_to_latlng(int(c)) for c in cover.tolist()], dtype=np.float64
        ).reshape(-1, 2)
        new_cp = new.compile(**kwargs)
        s_new, _ = new_cp.states_at(latlon[:, 0], latlon[:, 1], t)
        if progress is not None:
            progress(1, 3)
        if old is not None:
            s_old, _ = old.compile(**kwargs).states_at(latlon[:, 0], latlon[:, 1], t)
        else:
            s_old = np.full(cover.size, STATES.index("not_licensed"), dtype=np.int8)
        if progress is not None:
            progress(3, 3)
        moved = s_old != s_new
        cells_changed = int(moved.sum())
        names = np.array([*STATES, "invalid_input"], dtype=object)
        pairs = zip(names[s_old[moved]].tolist(), names[s_new[moved]].tolist(), strict=True)
        for a, b in pairs:
            key = f"{a} -> {b}"
            transitions[key] = transitions.get(key, 0) + 1
    return PolicyDiff(
        changes=changes,
        regions=regions,
        sensitive=bool(reasons),
        sensitive_reasons=reasons,
        cells_changed=cells_changed,
        cells_checked=cells_checked,
        resolution=resolution,
        at=datetime64_to_iso(t),
        cell_transitions=dict(sorted(transitions.items())),
    )


def _region_lookup(old: Policy | None, new: Policy, resolve: Any) -> Callable[[str], Any]:
    """``expr -> Region`` taking a sealed policy's geometries for its own expressions (the
    new policy's first), so a diff reads no file a sealed policy names."""
    lookups: list[tuple[set[str], Callable[[str], Any]]] = []
    for policy in (new, old):
        if policy is not None and policy.sealed is not None and isinstance(resolve, RegionResolver):
            exprs = set(policy.region_expressions)
            lookups.append((exprs, sealed_resolve(policy.sealed, resolve, {}, "policy")))

    def region_of(expr: str) -> Any:
        for exprs, lookup in lookups:
            if expr in exprs:
                return lookup(expr)
        return resolve(expr)

    return region_of


def requires_approval(
    old: Policy | None, new: Policy, *, resolve: Callable[[str], Any] | None = None
) -> tuple[bool, list[str]]:
    """Whether replacing ``old`` by ``new`` needs a second operator, and why.

    A change needs approval when it adds, removes or changes a rule marked ``sensitive``
    (in the old or the new version), changes the list of sensitive regions, or changes a
    rule whose region overlaps (with positive area) a sensitive region.
    """
    d = diff_policies(old, new, cells=False, resolve=resolve)
    return d.sensitive, d.sensitive_reasons
