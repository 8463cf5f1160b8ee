"""The policy in force at each report's time, and the engine's decision for every report.

A :class:`PolicyHistory` is either one policy (in force at every time) or the versions a
store keeps, each in force from its ``applied_at`` until the next one. :func:`decide_reports`
decides every report with ``Policy.decide_batch`` under the version in force at the
report's time, so a policy change in the middle of a trace applies from its time on (and
the rules' own effective windows inside a version apply as the engine applies them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from skyfence.detect.tracks import Tracks
from skyfence.errors import InputError
from skyfence.policy import REASONS, STATES, Policy, TerminalRegistry
from skyfence.timeutil import parse_time

__all__ = [
    "VersionInForce",
    "PolicyHistory",
    "Decisions",
    "decide_reports",
    "ShardRunner",
    "PLACE_REASONS",
]

_T_MIN = np.iinfo(np.int64).min
#: Reasons that are about the place (the service area), not the terminal's motion or trip.
PLACE_REASONS: tuple[str, ...] = ("region_state", "whitelist", "maritime")
_BIT = {name: 1 << i for i, name in enumerate(REASONS)}


@dataclass(frozen=True)
class VersionInForce:
    """One policy version: in force from ``applied_at`` (``None``: from the beginning)."""

    applied_at: np.datetime64 | None
    policy: Policy
    version: int | None = None


class PolicyHistory:
    """A policy, or a list of versions in force one after another.

    Parameters
    ----------
    versions : Policy or sequence of VersionInForce or (applied_at, Policy, version)
        Versions in any order; they are sorted by ``applied_at``.
    compile_kwargs : mapping, optional
        Passed to ``Policy.compile`` (``resolve``, ``countries``, ``index_factory``): the
        same regions for every version. Default: the built-in worldview.
    resolve : callable, optional
        ``expr -> Region`` for the policies' sensitive regions; default the one in
        ``compile_kwargs``, else ``skyfence.regions.parse_region(expr, world())``.

    Examples
    --------
    >>> from skyfence.policy import parse_policy
    >>> h = PolicyHistory([("2026-02-01T00:00:00Z", parse_policy("rules: []"), 2),
    ...                    ("2026-01-01T00:00:00Z", parse_policy("rules: []"), 1)])
    >>> [v.version for v in h.versions]
    [1, 2]
    """

    def __init__(
        self,
        versions: Policy | Sequence[VersionInForce | tuple[Any, Policy, int | None]],
        *,
        compile_kwargs: Mapping[str, Any] | None = None,
        resolve: Callable[[str], Any] | None = None,
    ) -> None:
        if isinstance(versions, Policy):
            items = [VersionInForce(None, versions, None)]
        else:
            items = []
            for v in versions:
                if isinstance(v, VersionInForce):
                    items.append(v)
                    continue
                try:
                    applied_at, policy, number = v
                except (TypeError, ValueError):
                    raise InputError(
                        "a policy history is a list of (applied_at, Policy, version) entries"
                    ) from None
                if not isinstance(policy, Policy):
                    raise InputError(
                        f"expected a Policy in the history, got {type(policy).__name__}"
                    )
                at = None if applied_at is None else parse_time(applied_at)
                items.append(VersionInForce(at, policy, number))
        if not items:
            raise InputError(
                "the policy history is empty: pass --policy FILE or apply a policy to the store"
            )
        items.sort(key=lambda v: _ns(v.applied_at))
        self.versions: tuple[VersionInForce, ...] = tuple(items)
        self.compile_kwargs = dict(compile_kwargs or {})
        self._resolve = resolve or self.compile_kwargs.get("resolve")
        self._compiled: dict[int, Any] = {}
        self._starts = np.array([_ns(v.applied_at) for v in self.versions], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.versions)

    def compiled(self, k: int) -> Any:
        """Version ``k`` (index into :attr:`versions`) compiled once."""
        if k not in self._compiled:
            self._compiled[k] = self.versions[k].policy.compile(**self.compile_kwargs)
        return self._compiled[k]

    def resolve(self, expr: str) -> Any:
        """The region of expression ``expr`` (as the policies' rules resolve it)."""
        if self._resolve is None:
            from skyfence.regions import parse_region, world

            w = world()
            self._resolve = lambda e: parse_region(e, w)
        return self._resolve(expr)

    def version_of(self, time_ns: np.ndarray) -> np.ndarray:
        """Index into :attr:`versions` of the version in force at each time (-1: none yet)."""
        return np.searchsorted(self._starts, np.asarray(time_ns, np.int64), side="right") - 1

    def label(self, k: int) -> int | None:
        """The version number of entry ``k`` (``None`` for a policy given as a file)."""
        return self.versions[k].version


@dataclass(frozen=True, eq=False)
class Decisions:
    """The engine's answer for every report of a :class:`~skyfence.detect.tracks.Tracks`.

    Attributes
    ----------
    version : int16 (N,)
        Index into ``history.versions`` of the version in force (-1: none, not decided).
    allowed, reasons_mask, state, country :
        As ``BatchDecision`` (``state`` -1 where not decided).
    rule : int32 (N,)
        Index into :attr:`rule_names` of the deciding rule (-1: none).
    region : int32 (N,)
        Index into :attr:`region_names` of the deciding activation rule's region (-1: none).
    terminal_row : int64 (N,)
        Row of the report's terminal in the registry (-1: not registered).
    """

    version: np.ndarray
    allowed: np.ndarray
    reasons_mask: np.ndarray
    state: np.ndarray
    country: np.ndarray
    rule: np.ndarray
    region: np.ndarray
    terminal_row: np.ndarray
    rule_names: tuple[str, ...]
    region_names: tuple[str, ...]
    country_names: tuple[str, ...]

    @property
    def decided(self) -> np.ndarray:
        return self.version >= 0

    def has(self, *reasons: str) -> np.ndarray:
        """Rows whose failed checks include any of ``reasons`` (names from ``REASONS``)."""
        bits = 0
        for r in reasons:
            bits |= _BIT[r]
        return (self.reasons_mask & np.uint16(bits)) != 0

    def serving(self) -> np.ndarray:
        """Rows whose place is in a serving state (``active``) under the version in force."""
        return self.state == STATES.index("active")


def _ns(t: np.datetime64 | None) -> int:
    return _T_MIN if t is None else int(np.datetime64(t, "ns").astype(np.int64))


def _has_roaming(policy: Policy) -> bool:
    return any(r.kind == "roaming" for r in policy.terminal_rules)


class ShardRunner(Protocol):
    """Anything that runs ``fn(common, item)`` for every item and returns the results in item
    order: a :class:`skyfence.scale.Runner` (local processes or Dask)."""

    def run(
        self,
        fn: Callable[[Any, Any], Any],
        items: Sequence[Any],
        *,
        common: Any = None,
        progress: Callable[[int, int], None] | None = None,
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]: ...


def decide_reports(
    tracks: Tracks,
    history: PolicyHistory,
    registry: TerminalRegistry,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = 1 << 20,
    runner: ShardRunner | None = None,
) -> Decisions:
    """Decide every report under the version in force at its time.

    Each report is decided as the network would decide it: at its place and time, with the
    speed at that fix (:attr:`Tracks.speed_kmh`), its reported altitude, and trips abroad
    inferred from the terminal's history (``trips_from_history=True``; the history of a
    version includes the reports before it, so a trip that began under an earlier version
    keeps its start). Single GPS jumps are decided too (the network saw them); the
    detectors leave them out. Reports are decided about ``chunk_rows`` at a time, whole
    terminals per call.

    ``runner`` (a :class:`skyfence.scale.Runner`): the chunks are decided where it runs them
    (local processes, a Dask cluster) and merged here in chunk order, so the result is the
    same as in one process, array for array.
    """
    tel = tracks.telemetry
    n = len(tel)
    version = history.version_of(tel.time_ns).astype(np.int16)
    terminal_row = registry.index_of(tel.terminal_ids)[tel.terminal] if n else np.zeros(0, np.int64)
    out = _undecided(n)
    # whole terminals at a time: a terminal's history (trips abroad) stays in one call, and
    # the engine's temporaries stay the size of a chunk
    starts = np.flatnonzero(tracks.first)
    cuts = np.unique(starts[np.searchsorted(starts, np.arange(0, n, chunk_rows))]) if n else starts
    bounds = list(zip(cuts.tolist(), [*cuts[1:].tolist(), n], strict=True)) if n else []
    chunks = [
        _Chunk(
            a,
            version[a:b],
            terminal_row[a:b],
            tel.latitude_deg[a:b],
            tel.longitude_deg[a:b],
            tel.time_ns[a:b],
            tracks.speed_kmh[a:b],
            tel.altitude_m[a:b],
        )
        for a, b in bounds
    ]
    merge = _Merge(out, version)
    common = (history, registry, chunk_rows)
    if runner is None:
        for chunk in chunks:
            merge.add(_decide_chunk(common, chunk))
            if progress is not None:
                progress(chunk.start + len(chunk.version), n)
    else:
        done_rows = 0

        def finished(_i: int, result: _ChunkResult) -> None:
            nonlocal done_rows
            done_rows += len(result)
            if progress is not None:
                progress(done_rows, n)

        for result in runner.run(_decide_chunk, chunks, common=common, on_result=finished):
            merge.add(result)
    country_names = merge.country_names
    if not country_names and len(history):
        country_names = tuple(str(r.id) for r in history.compiled(0).countries.regions)
    return Decisions(
        version=version,
        terminal_row=terminal_row,
        rule_names=tuple(merge.rule_names),
        region_names=tuple(merge.region_names),
        country_names=country_names,
        **out,
    )


def _undecided(n: int) -> dict[str, np.ndarray]:
    """The decision arrays of ``n`` reports not decided (yet): denied, no state, no rule."""
    return {
        "allowed": np.zeros(n, dtype=bool),
        "reasons_mask": np.zeros(n, dtype=np.uint16),
        "state": np.full(n, -1, dtype=np.int8),
        "country": np.full(n, -1, dtype=np.int32),
        "rule": np.full(n, -1, dtype=np.int32),
        "region": np.full(n, -1, dtype=np.int32),
    }


@dataclass(frozen=True, eq=False)
class _Chunk:
    """The columns of whole terminals' reports, from row ``start`` of the telemetry."""

    start: int
    version: np.ndarray
    terminal_row: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    time_ns: np.ndarray
    speed_kmh: np.ndarray
    altitude_m: np.ndarray


@dataclass(frozen=True, eq=False)
class _ChunkResult:
    """A chunk decided: ``arrays`` as :func:`_undecided` makes them, where ``rule`` and
    ``region`` index the names of the row's own version (``names[k] = (rule ids, region
    expressions)``), to be interned by the caller."""

    start: int
    arrays: dict[str, np.ndarray]
    names: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]
    country_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.arrays["rule"])


def _decide_chunk(
    common: tuple[PolicyHistory, TerminalRegistry, int], chunk: _Chunk
) -> _ChunkResult:
    """Decide one chunk (in this process or a worker's): every version in force in it."""
    history, registry, chunk_rows = common
    ver = chunk.version
    m = len(ver)
    res_out = _undecided(m)
    names: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    country_names: tuple[str, ...] = ()
    for k in np.unique(ver[ver >= 0]).tolist():
        cp = history.compiled(k)
        names[k] = (tuple(cp.rule_ids), tuple(str(e) for e in cp.region_exprs))
        country_names = tuple(str(r.id) for r in cp.countries.regions)
        mine = ver == k
        if _has_roaming(history.versions[k].policy) and k > 0:
            take = ver <= k  # a trip may have started under an earlier version
        else:
            take = mine
        whole = bool(take.all())
        rows: slice | np.ndarray = slice(None) if whole else np.flatnonzero(take)
        table = {
            "terminal_index": chunk.terminal_row[rows],
            "lat": chunk.lat[rows],
            "lon": chunk.lon[rows],
            "time": chunk.time_ns[rows].view("datetime64[ns]"),
            "speed_kmh": chunk.speed_kmh[rows],
            "altitude_m": chunk.altitude_m[rows],
        }
        res = cp.decide_batch(
            table, registry=registry, trips_from_history=True, chunk_rows=chunk_rows
        )
        sel = mine if whole else mine[take]
        dest = np.flatnonzero(mine)
        for name in res_out:
            res_out[name][dest] = getattr(res, name)[sel]
    return _ChunkResult(chunk.start, res_out, names, country_names)


class _Merge:
    """Writes decided chunks into the whole run's arrays, in chunk order, interning the rule
    and region names as they first appear (so the names are the same however the chunks
    were run)."""

    def __init__(self, out: dict[str, np.ndarray], version: np.ndarray) -> None:
        self.out = out
        self.version = version
        self.rule_names: list[str] = []
        self.region_names: list[str] = []
        self.country_names: tuple[str, ...] = ()
        self._rule_key: dict[str, int] = {}
        self._region_key: dict[str, int] = {}
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, r: _ChunkResult) -> None:
        a, b = r.start, r.start + len(r)
        for name in ("allowed", "reasons_mask", "state", "country"):
            self.out[name][a:b] = r.arrays[name]
        ver = self.version[a:b]
        rule_out, region_out = self.out["rule"][a:b], self.out["region"][a:b]
        for k, (rule_ids, exprs) in r.names.items():
            if k not in self._maps:
                rmap = [_intern(self._rule_key, self.rule_names, x) for x in rule_ids]
                gmap = [_intern(self._region_key, self.region_names, e) for e in exprs]
                self._maps[k] = (np.array([*rmap, -1], np.int32), np.array([*gmap, -1], np.int32))
            rmap_k, gmap_k = self._maps[k]
            mine = ver == k
            rule, region = r.arrays["rule"][mine], r.arrays["region"][mine]
            rule_out[mine] = rmap_k[np.where(rule >= 0, rule, -1)]
            region_out[mine] = gmap_k[np.where(region >= 0, region, -1)]
        if r.names:
            self.country_names = r.country_names


def _intern(key: dict[str, int], names: list[str], name: str) -> int:
    norm = "".join(name.split()).casefold()
    if norm not in key:
        key[norm] = len(names)
        names.append(name)
    return key[norm]
