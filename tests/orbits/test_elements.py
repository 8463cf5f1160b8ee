"""``ElementSet`` itself: columns, validation, selection, the sgp4 bridge."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec, SatrecArray

from skyfence.errors import InputError
from skyfence.orbits.elements import ElementSet
from skyfence.timeutil import to_jd_pair

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"


def _simple(n: int = 3, **changes) -> ElementSet:
    cols = dict(
        names=[f"SAT-{i}" for i in range(n)],
        norad_ids=np.arange(n) + 90000,
        epochs=np.full(n, np.datetime64("2026-02-22T12:00:00", "ns")),
        inclination_deg=np.full(n, 53.0),
        raan_deg=np.linspace(0, 300, n),
        eccentricity=np.full(n, 1e-4),
        arg_perigee_deg=np.zeros(n),
        mean_anomaly_deg=np.linspace(0, 90, n),
        mean_motion_rev_per_day=np.full(n, 15.05),
    )
    cols.update(changes)
    return ElementSet(**cols)


def test_defaults_and_dtypes():
    es = _simple()
    assert len(es) == 3 and repr(es) == "<ElementSet of 3 satellites>"
    assert es.norad_ids.dtype == np.int64 and es.epochs.dtype == np.dtype("datetime64[ns]")
    assert es.bstar.tolist() == [0.0] * 3 and es.classification.tolist() == ["U"] * 3
    assert es.international_designators.tolist() == [""] * 3 and es.shell.tolist() == [""] * 3
    assert es.report is None and es.skipped == () and es.duplicates_dropped == 0


def test_shape_mismatch_and_impossible_elements_are_refused():
    with pytest.raises(InputError, match=r"column raan_deg has shape \(2,\), expected \(3,\)"):
        _simple(raan_deg=[1.0, 2.0])
    with pytest.raises(InputError, match="mean motion must be > 0 and 0 <= e < 1"):
        _simple(eccentricity=[0.1, 1.0, 0.1])
    with pytest.raises(InputError, match="row 0"):
        _simple(mean_motion_rev_per_day=[0.0, 15.0, 15.0])


def test_immutable_and_selection_keeps_the_report():
    es = ElementSet.from_file(GOLDEN / "starlink-4.3le")
    with pytest.raises(dataclasses.FrozenInstanceError):
        es.names = np.array(["x"])  # type: ignore[misc]
    sub = es[np.array([True, False, True, False])]
    assert sub.norad_ids.tolist() == [44714, 44925]
    assert sub.report is es.report
    assert es[1].norad_ids.tolist() == [44718] and len(es[1:3]) == 2
    both = ElementSet.concatenate([es[:1], es[3:]], source="two")
    assert both.norad_ids.tolist() == [44714, 67717] and both.report is None
    assert set(es.columns()) >= {"names", "norad_ids", "epochs", "bstar", "shell"}


def test_semi_major_axis_matches_sgp4_initialisation():
    es = ElementSet.from_file(GOLDEN / "starlink-4.3le")
    sats = es.to_satrecs()
    ref_km = np.array([s.a for s in sats]) * WGS72_RADIUS_KM
    np.testing.assert_allclose(es.semi_major_axis_km, ref_km, rtol=1e-12)
    assert ((es.mean_altitude_km > 250) & (es.mean_altitude_km < 600)).all()  # 44925 decays


WGS72_RADIUS_KM = 6378.135


def test_to_satrecs_epoch_pair_is_exact_and_mode_is_improved():
    epochs = np.array(
        ["2026-02-22T12:00:00.123456789", "1999-12-31T23:59:59.999999999", "2026-02-22T00:00:00"],
        dtype="datetime64[ns]",
    )
    es = _simple(epochs=epochs, norad_ids=[5, 339_999, 1_000_000])
    sats = es.to_satrecs()
    jd, fr = to_jd_pair(epochs)
    assert [s.jdsatepoch for s in sats] == jd.tolist()
    assert [s.jdsatepochF for s in sats] == fr.tolist()
    assert [s.operationmode for s in sats] == ["i"] * 3
    assert [s.satnum for s in sats] == [5, 339_999, 0]  # beyond Alpha-5: no satnum


def test_to_satrecs_matches_sgp4init_done_by_hand():
    es = _simple(
        bstar=[1e-4, 2e-4, -3e-5],
        mean_motion_dot=[1e-5, 0, -2e-5],
        international_designators=["2019-074B", "19074C", ""],
    )
    sats = es.to_satrecs()
    assert [s.intldesg for s in sats] == ["19074B", "19074C", ""]
    jd, fr = to_jd_pair(es.epochs)
    for i, sat in enumerate(sats):
        ref = Satrec()
        deg = np.pi / 180
        ref.sgp4init(
            WGS72,
            "i",
            int(es.norad_ids[i]),
            float(jd[i] + fr[i] - 2433281.5),
            float(es.bstar[i]),
            float(es.mean_motion_dot[i]) / (1440**2 / (2 * np.pi)),
            0.0,
            1e-4,
            0.0,
            53.0 * deg,
            float(es.mean_anomaly_deg[i]) * deg,
            15.05 * 2 * np.pi / 1440,
            float(es.raan_deg[i]) * deg,
        )
        for minutes in (0.0, 90.0, 1440.0):
            _, r1, v1 = sat.sgp4_tsince(minutes)
            _, r2, v2 = ref.sgp4_tsince(minutes)
            np.testing.assert_allclose(r1, r2, rtol=0, atol=1e-9)
            np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-12)


def test_to_satrec_array_propagates_sat_time_xyz():
    es = ElementSet.from_file(GOLDEN / "starlink-4.3le")
    times = es.epochs[0] + np.arange(5).astype("timedelta64[m]")
    jd, fr = to_jd_pair(times)
    arr = es.to_satrec_array()
    assert isinstance(arr, SatrecArray)
    e, r, v = arr.sgp4(jd, fr)
    assert r.shape == (4, 5, 3) and v.shape == (4, 5, 3) and (e == 0).all()
    radius = np.linalg.norm(r, axis=-1)
    assert ((radius > 6378 + 250) & (radius < 6378 + 700)).all()


def test_file_round_trip_through_the_methods(tmp_path):
    es = ElementSet.from_file(GOLDEN / "starlink-4.3le")
    path = es.to_file(tmp_path / "copy.json")
    back = ElementSet.from_file(path)
    assert back.report.format == "omm-json"
    np.testing.assert_array_equal(back.mean_motion_rev_per_day, es.mean_motion_rev_per_day)
    assert ElementSet.from_text(es.to_text("tle")).norad_ids.tolist() == es.norad_ids.tolist()
