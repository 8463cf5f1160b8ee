"""Detectors of behaviour over time and space: ``impossible-travel``, ``dark-gap``,
``border-shuttle`` and ``unregistered-cluster``."""

from __future__ import annotations

from typing import Any

import numpy as np

from skyfence.detect.context import Context
from skyfence.detect.findings import Finding, fix_record, iso, score_from
from skyfence.detect.history import PLACE_REASONS
from skyfence.detect.tracks import group_starts, runs
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km
from skyfence.policy import REASONS

__all__ = ["impossible_travel", "dark_gap", "border_shuttle", "unregistered_cluster"]

_KM_PER_DEG = np.pi * MEAN_EARTH_RADIUS_KM / 180.0


def _tid(ctx: Context, row: int) -> str:
    return str(ctx.tel.terminal_ids[ctx.tel.terminal[row]])


# ----------------------------------------------------------------------------- impossible travel
def impossible_travel(ctx: Context) -> list[Finding]:
    """Steps between consecutive clean fixes faster than any terminal can move
    (``tracks.max_speed_kmh`` over at least ``min_travel_km``), and single jumps that keep landing
    at the same place: two devices sharing an identity, or a spoofed position.

    A single GPS jump is not an impossible step (jumps are left out of the track); a
    terminal needs ``min_impossible`` events. Score: ``1 - exp(-(events - 1) / 3)``."""
    o = ctx.options
    tr = ctx.tracks
    tel = ctx.tel
    decided = ctx.decisions.decided
    rows = np.flatnonzero(~tr.jump & (tr.prev >= 0) & decided)
    km = tr.step_km[rows]
    s = tr.step_s[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        kmh = np.where(s > 0, km / s * 3600.0, np.inf)
    max_kmh = tr.options.max_speed_kmh
    bad = rows[(km >= o.min_travel_km) & (kmh > max_kmh)]
    events: dict[int, list[tuple[int, int, str]]] = {}
    for r in bad.tolist():
        events.setdefault(int(tel.terminal[r]), []).append((int(tr.prev[r]), r, "step"))
    # jumps that land at the same place again and again
    jumps = np.flatnonzero(tr.jump & decided)
    if jumps.size:
        terms, first, count = np.unique(tel.terminal[jumps], return_index=True, return_counts=True)
        for term, f0, c in zip(terms.tolist(), first.tolist(), count.tolist(), strict=True):
            if c < o.repeat_jumps:
                continue
            j = jumps[f0 : f0 + c]
            lat0 = float(np.median(tel.latitude_deg[j]))
            lon0 = float(np.median(tel.longitude_deg[j]))
            close = j[
                great_circle_km(tel.latitude_deg[j], tel.longitude_deg[j], lat0, lon0)
                <= o.repeat_jump_km
            ]
            if close.size >= o.repeat_jumps:
                for r in close.tolist():
                    events.setdefault(term, []).append((int(tr.prev[r]), r, "repeated jump"))
    out = []
    for term, evs in events.items():
        if len(evs) < o.min_impossible:
            continue
        evs.sort(key=lambda e: e[1])
        a, b = evs[0][0], evs[0][1]
        fast = [e for e in evs if e[2] == "step"]
        speeds = [float(tr.step_km[e[1]] / max(tr.step_s[e[1]], 1e-9) * 3600) for e in fast]
        far = [float(tr.step_km[e[1]]) for e in fast]
        fixes = []
        for e in evs[:3]:
            if e[0] >= 0:
                fixes.append(fix_record(tel, e[0]))
            fixes.append(fix_record(tel, e[1]))
        out.append(
            Finding(
                kind="impossible-travel",
                terminal_ids=(str(tel.terminal_ids[term]),),
                score=float(score_from((len(evs) - 1) / 3.0)),
                start=iso(tel.time_ns[max(a, 0)]),
                end=iso(tel.time_ns[evs[-1][1]]),
                latitude_deg=float(tel.latitude_deg[b]),
                longitude_deg=float(tel.longitude_deg[b]),
                summary=f"{len(evs)} impossible moves ({len(fast)} steps faster than "
                f"{max_kmh:g} km/h, {len(evs) - len(fast)} repeated jumps to one place): "
                "a shared identity or a spoofed position",
                policy_version=ctx.version_number(ctx.decisions.version[b]),
                fixes=tuple(fixes),
                details={
                    "events": len(evs),
                    "impossible_steps": len(fast),
                    "repeated_jumps": len(evs) - len(fast),
                    "max_step_kmh": round(max(speeds), 0) if speeds else None,
                    "max_step_km": round(max(far), 1) if far else None,
                },
            )
        )
    return out


# ----------------------------------------------------------------------------- dark gaps
def _ring(lat: np.ndarray, lon: np.ndarray, radii_km: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Each point, then 16 points on each ring of ``radii_km`` around it: (n, k) arrays."""
    bearings = np.radians(np.arange(0, 360, 22.5))
    dlat = [0.0]
    dlon = [0.0]
    for r in radii_km:
        dlat += list(r * np.cos(bearings) / _KM_PER_DEG)
        dlon += list(r * np.sin(bearings) / _KM_PER_DEG)
    dlat_a = np.array(dlat)[None, :]
    dlon_a = np.array(dlon)[None, :] / np.maximum(np.cos(np.radians(lat)), 0.05)[:, None]
    plat = np.clip(lat[:, None] + dlat_a, -90.0, 90.0)
    plon = (lon[:, None] + dlon_a + 180.0) % 360.0 - 180.0
    return plat, plon


def dark_gap(ctx: Context) -> list[Finding]:
    """Silences of at least ``min_gap_h`` that begin or end where service is off for the
    terminal (GFW's gap logic, with the policy as the "shore").

    For each gap, probe points (the last fix before and the first fix after, rings of 16
    points at ``gap_probe_km`` around each, and 3 points on the way between) are decided
    for the terminal under the version in force at the gap's start (end, for the end
    probes). A gap is a finding when some probe is denied for the place (state, whitelist
    or offshore limit). Score: ``1 - exp(-denied_share * hours / 12)``."""
    o = ctx.options
    tr = ctx.tracks
    tel = ctx.tel
    n = len(tel)
    idx = np.arange(n)
    prev_raw = np.where(tr.first, -1, idx - 1)
    gap_s = np.where(prev_raw >= 0, (tel.time_ns - tel.time_ns[np.maximum(prev_raw, 0)]) / 1e9, 0)
    end_rows = np.flatnonzero(
        ~tr.jump
        & (tr.prev >= 0)
        & (tr.prev == prev_raw)
        & (gap_s >= o.min_gap_h * 3600.0)
        & ctx.decisions.decided
    )
    if end_rows.size == 0:
        return []
    start_rows = tr.prev[end_rows]
    m = end_rows.size
    slat, slon = _ring(tel.latitude_deg[start_rows], tel.longitude_deg[start_rows], o.gap_probe_km)
    elat, elon = _ring(tel.latitude_deg[end_rows], tel.longitude_deg[end_rows], o.gap_probe_km)
    frac = np.array([0.25, 0.5, 0.75])[None, :]
    mlat = (
        tel.latitude_deg[start_rows][:, None] * (1 - frac)
        + tel.latitude_deg[end_rows][:, None] * frac
    )
    mlon = (
        tel.longitude_deg[start_rows][:, None] * (1 - frac)
        + tel.longitude_deg[end_rows][:, None] * frac
    )
    k_ring = slat.shape[1]
    lat = np.concatenate([slat, mlat, elat], axis=1)
    lon = np.concatenate([slon, mlon, elon], axis=1)
    per = lat.shape[1]
    when = np.concatenate(
        [
            np.repeat(tel.time_ns[start_rows][:, None], k_ring + 3, axis=1),
            np.repeat(tel.time_ns[end_rows][:, None], k_ring, axis=1),
        ],
        axis=1,
    )
    term = np.repeat(ctx.decisions.terminal_row[end_rows][:, None], per, axis=1)
    denied = np.zeros((m, per), dtype=bool)
    rule_of = np.full((m, per), None, dtype=object)  # the rule deciding each probe
    region_of = np.full((m, per), None, dtype=object)
    version = ctx.history.version_of(when.ravel()).reshape(m, per)
    for k in np.unique(version[version >= 0]).tolist():
        sel = version == k
        res = ctx.history.compiled(k).decide_batch(
            {
                "terminal_index": term[sel],
                "lat": lat[sel],
                "lon": lon[sel],
                "time": when[sel].view("datetime64[ns]"),
            },
            registry=ctx.registry,
        )
        bits = sum(1 << REASONS.index(r) for r in PLACE_REASONS)
        denied[sel] = (res.reasons_mask & np.uint16(bits)) != 0
        exprs = np.array([*ctx.history.compiled(k).region_exprs, None], dtype=object)
        rule_of[sel] = res.rule_names()
        region_of[sel] = exprs[np.where(res.region >= 0, res.region, len(exprs) - 1)]
    share = denied.mean(axis=1)
    out = []
    for i in np.flatnonzero(share > 0).tolist():
        a, b = int(start_rows[i]), int(end_rows[i])
        hours = float(gap_s[b]) / 3600.0
        moved = float(
            great_circle_km(
                tel.latitude_deg[a], tel.longitude_deg[a], tel.latitude_deg[b], tel.longitude_deg[b]
            )
        )
        where = (
            ("where it went silent" if denied[i, :k_ring].any() else "")
            + (" and " if denied[i, :k_ring].any() and denied[i, -k_ring:].any() else "")
            + ("where it reappeared" if denied[i, -k_ring:].any() else "")
        )
        out.append(
            Finding(
                kind="dark-gap",
                terminal_ids=(_tid(ctx, a),),
                score=float(score_from(share[i] * hours / 12.0)),
                start=iso(tel.time_ns[a]),
                end=iso(tel.time_ns[b]),
                latitude_deg=float(tel.latitude_deg[a]),
                longitude_deg=float(tel.longitude_deg[a]),
                summary=f"silent for {hours:.1f} h, service off within "
                f"{max(o.gap_probe_km):g} km {where or 'on the way'} "
                f"({share[i]:.0%} of probes denied); reappeared {moved:.0f} km away",
                rule_id=rule_of[i][denied[i]][0],
                region=region_of[i][denied[i]][0],
                policy_version=ctx.version_number(ctx.decisions.version[a]),
                fixes=(fix_record(tel, a), fix_record(tel, b)),
                details={
                    "gap_hours": round(hours, 2),
                    "denied_probe_share": round(float(share[i]), 3),
                    "moved_km": round(moved, 1),
                },
            )
        )
    return out


# ----------------------------------------------------------------------------- border shuttle
def border_shuttle(ctx: Context) -> list[Finding]:
    """Repeated crossings of a border or front line.

    The place of a fix is its country and the region of the activation rule that decides
    it (so Crimea and mainland Ukraine are different places). Fixes at sea are not a place;
    stays shorter than ``shuttle_min_dwell_min`` are dropped, and a change of place counts
    only when the stays are ``shuttle_min_km`` apart (GPS noise at a border). A crossing is
    a change of place between two stays; crossings with fixes at sea between
    them (ferries) or a fix above ``flight_min_altitude_m`` or a step faster than
    ``flight_min_kmh`` (flights) are left out. With ``shuttle_borders="restricted"`` only
    crossings where one side is not served or is a sensitive region count.
    Score: ``1 - exp(-(crossings - min + 1) / 3)``."""
    o = ctx.options
    d = ctx.decisions
    tel = ctx.tel
    rows = ctx.clean_rows
    if rows.size < 2:
        return []
    country = d.country[rows].astype(np.int64)
    sea = country < 0
    high = np.nan_to_num(tel.altitude_m[rows], nan=0.0) >= o.flight_min_altitude_m
    land = rows[~sea]
    if land.size < 2:
        return []
    # rows at sea / high up, to ask "any such fix between two rows" (few: ships, aircraft)
    sea_rows = rows[sea]
    high_rows = rows[high]
    zone = d.country[land].astype(np.int64) * 65536 + (d.region[land].astype(np.int64) + 1)
    off = ~d.serving()[land] | ctx.region_is_sensitive(d.region[land])  # restricted places
    term = tel.terminal[land]
    new_term = group_starts(term)
    starts, ends = runs(np.ones(land.size, dtype=bool), new_term | group_starts(zone))
    # duration of a stay: until the next stay of the same terminal begins (else its own span)
    t = tel.time_ns[land]
    nxt = np.r_[starts[1:], land.size]
    same_next = np.r_[~new_term[starts[1:]], False] if starts.size else np.zeros(0, bool)
    until = np.where(same_next, t[np.minimum(nxt, land.size - 1)], t[ends - 1])
    stay = (until - t[starts]) / 6e10
    keep = stay >= o.shuttle_min_dwell_min
    s_k, e_k = starts[keep], ends[keep]
    if s_k.size < 2:
        return []
    z_k = zone[s_k]
    t_k = term[s_k]
    # merge kept stays in the same place
    merge = np.r_[False, (t_k[1:] == t_k[:-1]) & (z_k[1:] == z_k[:-1])]
    grp = np.cumsum(~merge) - 1
    g_start = s_k[~merge]
    g_end = np.zeros(g_start.size, dtype=np.int64)
    np.maximum.at(g_end, grp, e_k)
    g_term = term[g_start]
    a = g_end[:-1] - 1  # last fix of a stay (index into land)
    b = g_start[1:]  # first fix of the next stay
    crossing = g_term[1:] == g_term[:-1]
    # where each stay is (mean of its fixes): GPS noise at a border does not move it; the
    # stays partition the land rows, so their sums are one reduceat, a group's the sum of
    # its kept stays
    run_lat = np.add.reduceat(tel.latitude_deg[land], starts)[keep]
    run_lon = np.add.reduceat(tel.longitude_deg[land], starts)[keep]
    size = np.bincount(grp, weights=(e_k - s_k).astype(np.float64))
    g_lat = np.bincount(grp, weights=run_lat) / size
    g_lon = np.bincount(grp, weights=run_lon) / size
    moved = great_circle_km(g_lat[:-1], g_lon[:-1], g_lat[1:], g_lon[1:]) >= o.shuttle_min_km
    ra, rb = land[a], land[b]
    by_sea = np.searchsorted(sea_rows, rb) > np.searchsorted(sea_rows, ra, side="right")
    by_air = np.searchsorted(high_rows, rb, side="right") > np.searchsorted(high_rows, ra)
    km = great_circle_km(
        tel.latitude_deg[ra], tel.longitude_deg[ra], tel.latitude_deg[rb], tel.longitude_deg[rb]
    )
    hours = np.maximum((tel.time_ns[rb] - tel.time_ns[ra]) / 3.6e12, 1e-9)
    by_air |= km / hours > o.flight_min_kmh
    counted = crossing & moved & ~by_sea & ~by_air
    if o.shuttle_borders == "restricted":
        counted &= off[a] | off[b]
    out = []
    idx = np.flatnonzero(counted)
    if idx.size == 0:
        return out
    terms, first, count = np.unique(g_term[:-1][idx], return_index=True, return_counts=True)
    for f0, c in zip(first.tolist(), count.tolist(), strict=True):
        if c < o.shuttle_min_crossings:
            continue
        sel = idx[f0 : f0 + c]
        names = []
        fixes: list[dict[str, Any]] = []
        for j in sel.tolist():
            x, y = int(ra[j]), int(rb[j])
            names.append(f"{_place(d, x)} → {_place(d, y)}")
            if len(fixes) < 6:
                fixes += [fix_record(tel, x), fix_record(tel, y)]
        first_row = int(ra[sel[0]])
        sides = np.concatenate([a[sel], b[sel]])
        restricted_sides = sides[off[sides] & (d.region[land[sides]] >= 0)]
        region = (
            d.region_names[d.region[land[restricted_sides[0]]]] if restricted_sides.size else None
        )
        off_rows = land[sides[off[sides]]]
        rule = (
            d.rule_names[d.rule[off_rows[0]]]
            if off_rows.size and d.rule[off_rows[0]] >= 0
            else None
        )
        uniq = sorted(set(names), key=names.index)
        out.append(
            Finding(
                kind="border-shuttle",
                terminal_ids=(_tid(ctx, first_row),),
                score=float(score_from((c - o.shuttle_min_crossings + 1) / 3.0)),
                start=iso(tel.time_ns[first_row]),
                end=iso(tel.time_ns[int(rb[sel[-1]])]),
                latitude_deg=float(tel.latitude_deg[first_row]),
                longitude_deg=float(tel.longitude_deg[first_row]),
                summary=f"{c} crossings ({'; '.join(uniq[:3])})",
                rule_id=rule,
                region=region,
                policy_version=ctx.version_number(d.version[first_row]),
                fixes=tuple(fixes),
                details={
                    "crossings": int(c),
                    "times": [iso(tel.time_ns[int(r)]) for r in rb[sel][:20].tolist()],
                },
            )
        )
    return out


def _place(d: Any, row: int) -> str:
    c = d.country_names[d.country[row]] if d.country[row] >= 0 else "sea"
    r = d.region_names[d.region[row]] if d.region[row] >= 0 else None
    return c if r is None or r.upper() == c else f"{r} ({c})"


# ----------------------------------------------------------------------------- clusters
def unregistered_cluster(ctx: Context) -> list[Finding]:
    """Groups of terminals that are not whitelisted where only whitelisted terminals are
    served, or unregistered in a sensitive region, at fixes where they are not moving
    (speed at most ``cluster_max_speed_kmh`` or unknown): DBSCAN with the haversine metric
    (scikit-learn, ball tree) on one point per terminal and grid cell, keeping clusters of
    at least ``cluster_min_terminals`` distinct terminals.

    Score: ``1 - exp(-(terminals - min + 1) / 5)``."""
    from sklearn.cluster import DBSCAN

    o = ctx.options
    d = ctx.decisions
    tel = ctx.tel
    rows = ctx.clean_rows
    cand = d.has("whitelist")[rows]
    unreg = d.terminal_row[rows] < 0
    if ctx.sensitive_names:
        sens = np.zeros(rows.size, dtype=bool)
        pick = np.flatnonzero(unreg & ~cand)
        if pick.size:
            sens_rows = rows[pick]
            for name in sorted(ctx.sensitive_names):
                region = ctx.history.resolve(name)
                sens[pick] |= region.contains(
                    tel.latitude_deg[sens_rows], tel.longitude_deg[sens_rows]
                )
        cand |= sens
    # terminals that stay together: fixes in motion (a drone passing over) are not a place
    cand &= ~(ctx.tracks.speed_kmh[rows] > o.cluster_max_speed_kmh)
    rows = rows[cand]
    if rows.size == 0:
        return []
    cell = o.cluster_cell_deg
    gi = np.floor(tel.latitude_deg[rows] / cell).astype(np.int64)
    gj = np.floor(tel.longitude_deg[rows] / cell).astype(np.int64)
    # one key per (terminal, cell): terminal code and cell indices packed in one int64
    key = (tel.terminal[rows].astype(np.int64) << 40) | ((gi + 2**19) << 20) | (gj + 2**19)
    _, first = np.unique(key, return_index=True)
    pts = rows[np.sort(first)]
    xy = np.radians(np.column_stack([tel.latitude_deg[pts], tel.longitude_deg[pts]]))
    labels = DBSCAN(
        eps=o.cluster_eps_km / MEAN_EARTH_RADIUS_KM,
        min_samples=o.cluster_min_terminals,
        metric="haversine",
        algorithm="ball_tree",
    ).fit_predict(xy)
    out = []
    for lab in np.unique(labels[labels >= 0]).tolist():
        members = pts[labels == lab]
        term_codes = np.unique(tel.terminal[members])
        if term_codes.size < o.cluster_min_terminals:
            continue
        lat0 = float(np.median(tel.latitude_deg[members]))
        lon0 = float(np.median(tel.longitude_deg[members]))
        radius = float(
            np.max(
                great_circle_km(tel.latitude_deg[members], tel.longitude_deg[members], lat0, lon0)
            )
        )
        first_row = int(members[np.argmin(tel.time_ns[members])])
        last_row = int(members[np.argmax(tel.time_ns[members])])
        ids = tuple(sorted(str(tel.terminal_ids[c]) for c in term_codes.tolist()))
        regions = {d.region_names[r] for r in d.region[members].tolist() if r >= 0}
        rule = next((d.rule_names[r] for r in d.rule[members].tolist() if r >= 0), None)
        n_unreg = int(np.sum(d.terminal_row[members] < 0))
        out.append(
            Finding(
                kind="unregistered-cluster",
                terminal_ids=ids,
                score=float(score_from((len(ids) - o.cluster_min_terminals + 1) / 5.0)),
                start=iso(tel.time_ns[first_row]),
                end=iso(tel.time_ns[last_row]),
                latitude_deg=lat0,
                longitude_deg=lon0,
                summary=f"{len(ids)} terminals not whitelisted within {radius:.1f} km of "
                f"{lat0:.3f}, {lon0:.3f} ({', '.join(sorted(regions)) or 'no rule'})",
                rule_id=rule,
                region=", ".join(sorted(regions)) or None,
                policy_version=ctx.version_number(d.version[first_row]),
                fixes=tuple(fix_record(tel, int(r)) for r in members[:5].tolist()),
                details={
                    "terminals": len(ids),
                    "radius_km": round(radius, 2),
                    "points": int(members.size),
                    "unregistered_points": n_unreg,
                },
            )
        )
    return out
