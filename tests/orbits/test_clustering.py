"""Shell/plane/slot clustering: synthetic Walker shells (known answer) and the real snapshot."""

from __future__ import annotations

import numpy as np
import pytest
from sgp4.api import Satrec

from skyfence.errors import ConfigurationError
from skyfence.orbits import (
    Constellation,
    ElementSet,
    cluster_constellation,
    elements_from_satrecs,
    get_preset,
    preset_elements,
)
from skyfence.orbits.clustering import altitude_rate_km_day


@pytest.fixture(scope="module")
def snapshot(starlink_tle):
    lines = starlink_tle.read_text().splitlines()
    idx = range(0, len(lines) - 2, 3)
    sats = [Satrec.twoline2rv(lines[i + 1], lines[i + 2]) for i in idx]
    es = elements_from_satrecs(sats, [lines[i].strip() for i in idx], source=starlink_tle.name)
    return Constellation.from_elements(es)


def test_kuiper_preset_clusters_back_into_its_filed_shells():
    es = preset_elements("kuiper")
    res = cluster_constellation(es.__class__(**{**es.columns(), "shell": None}))
    filed = sorted(get_preset("kuiper").shells, key=lambda s: s.inclination_deg)
    assert len(res.shells) == 3
    for found, want in zip(res.shells, filed, strict=True):
        assert abs(found.inclination_deg - want.inclination_deg) < 0.01
        assert abs(found.altitude_km - want.altitude_km) < 0.5
        assert found.planes == want.planes
        assert found.sats_per_plane == want.sats_per_plane
    assert set(res.status) == {"operational"}
    # slots follow the argument of latitude: generated slot order up to a rotation
    for k in range(3):
        sel = res.shell_id == k
        per_plane = res.shells[k].sats_per_plane
        slots = res.slot_id[sel].reshape(-1, per_plane)
        assert np.all(np.sort(slots, axis=1) == np.arange(per_plane))


def test_planes_use_a_common_epoch_with_j2_regression():
    # One Walker shell; half the satellites carry elements from an epoch 12 h later, advanced
    # with SGP4's own secular rates. Raw RAANs then differ by ~2.5 deg inside a plane, but at
    # the common epoch the planes come back.
    es = preset_elements("starlink-gen1")[:1584]  # 72 x 22 at 550 km / 53 deg
    sats = es.to_satrecs()
    later = np.arange(len(es)) % 2 == 1
    dt_min = 720.0
    nodedot = np.array([s.nodedot for s in sats])
    udot = np.array([s.mdot + s.argpdot for s in sats])
    cols = es.columns()
    cols["raan_deg"] = np.where(
        later, (es.raan_deg + np.degrees(nodedot * dt_min)) % 360, es.raan_deg
    )
    cols["mean_anomaly_deg"] = np.where(
        later, (es.mean_anomaly_deg + np.degrees(udot * dt_min)) % 360, es.mean_anomaly_deg
    )
    cols["epochs"] = np.where(later, es.epochs + np.timedelta64(720, "m"), es.epochs).astype(
        "datetime64[ns]"
    )
    cols["shell"] = None
    shifted = ElementSet(**cols)
    raw_spread = np.ptp(np.degrees(nodedot * dt_min))
    assert raw_spread < 0.01 and abs(np.degrees(nodedot[0] * dt_min)) > 2.0
    res = cluster_constellation(shifted)
    assert len(res.shells) == 1 and res.shells[0].planes == 72
    assert res.shells[0].sats_per_plane == 22
    true_plane = np.arange(len(es)) // 22
    # same partition as the generator's (plane numbers may start elsewhere on the circle)
    pairs = set(zip(res.plane_id.tolist(), true_plane.tolist(), strict=True))
    assert len(pairs) == 72


def test_known_shells_are_used_when_given():
    c = Constellation.from_preset("starlink-gen1")
    res = cluster_constellation(c.elements, shells=c.shells)
    assert res.shells == c.shells
    assert np.array_equal(res.shell_id, c.shell_id)
    assert np.array_equal(res.plane_id, c.plane_id)


def test_bad_tolerances_are_refused():
    with pytest.raises(ConfigurationError):
        cluster_constellation(preset_elements("kuiper"), alt_tol_km=0)


def _shells_near(c, inc, lo, hi, inc_tol=0.5):
    return [
        s for s in c.shells if abs(s.inclination_deg - inc) < inc_tol and lo <= s.altitude_km <= hi
    ]


def test_real_snapshot_shells(snapshot):
    c = snapshot
    assert len(c) == 9543
    # several shells near 53 deg, one of them lowered to ~480 km, one the Gen1 540 km / 53.2
    near53 = [s for s in c.shells if abs(s.inclination_deg - 53.1) < 0.3]
    assert len(near53) >= 3
    assert _shells_near(c, 53.1, 465, 495)
    gen1_shell2 = _shells_near(c, 53.2, 530, 550, inc_tol=0.05)
    assert gen1_shell2 and gen1_shell2[0].planes == 72  # as filed: 72 planes
    assert _shells_near(c, 43.0, 470, 495) and _shells_near(c, 43.0, 550, 570)
    assert _shells_near(c, 70.0, 560, 580)
    assert _shells_near(c, 97.6, 540, 575)
    big = sum(s.total > 0 for s in c.shells)
    assert big == len(c.shells)
    operational = np.count_nonzero(c.status == "operational")
    assert 7000 < operational < 9000
    summary = {r["shell"]: r for r in c.summary()}
    assert sum(r["satellites"] for r in summary.values()) == 9543


def test_real_snapshot_low_objects_are_raising_or_decaying(snapshot):
    c = snapshot
    alt = c.elements.mean_altitude_km
    low = alt < 330
    assert low.sum() > 50
    labelled = np.isin(c.status[low], ["raising", "decaying"])
    assert labelled.mean() > 0.9
    assert np.all(c.shell_id[low] == -1)
    # a raising satellite's orbit grows, a decaying one's shrinks (TLE n-dot)
    rate = altitude_rate_km_day(c.elements)
    assert np.all(rate[c.status == "raising"] > 0)
    assert np.all(rate[(c.status == "decaying") & (alt > 300)] < 0)


def test_real_snapshot_planes_and_slots_are_consistent(snapshot):
    c = snapshot
    inshell = c.shell_id >= 0
    assert np.all(c.plane_id[inshell] >= 0) and np.all(c.slot_id[inshell] >= 0)
    assert np.all(c.plane_id[~inshell] == -1)
    # slots in each plane are 0..k-1 exactly once
    key = c.shell_id[inshell] * 100_000 + c.plane_id[inshell]
    for k in np.unique(key)[:50]:
        slots = np.sort(c.slot_id[inshell][key == k])
        assert np.array_equal(slots, np.arange(len(slots)))
