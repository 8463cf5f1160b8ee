"""Latency model files and the fitting machinery: round trips, built-in models, recovery of a
known model from synthetic data (drawn with scipy, not with skyfence's own quantiles), and
cross-validation that never sees the held-out countries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.links import LatencyModel, SchedulingDelay
from skyfence.links.calibration import (
    BUILTIN_MODELS,
    DEFAULT_LATENCY_MODEL,
    CountryData,
    NamedLatencyModel,
    Structure,
    cross_validate,
    fit,
    fold_of,
    load_latency_model,
    predict,
    repeated_cross_validation,
    score,
)


def test_builtin_models():
    none = load_latency_model("none")
    assert none.latency == LatencyModel() and not none.infers_gateways
    hyp = load_latency_model("HYPATIA")
    assert hyp.latency.overhead_ms == 0.0 and hyp.latency.scheduling.is_zero
    assert hyp.latency.laser_hop_ms == 0.0 and not hyp.infers_gateways
    assert DEFAULT_LATENCY_MODEL in BUILTIN_MODELS


def test_shipped_model_is_named_versioned_and_carries_its_provenance():
    m = load_latency_model()
    assert m.name == DEFAULT_LATENCY_MODEL and m.version
    assert m.infers_gateways and m.latency.backbone
    assert not m.latency.scheduling.is_zero
    assert m.fitted_on["metrics"]["file"] == "starlink-latency-2026-03.csv"
    assert m.fitted_on["metrics"]["countries"] <= 78
    cv = m.cross_validation
    assert cv["folds"] >= 2 and set(cv["scores"]) == {"p20", "p50", "p80"}
    assert {p["name"] for p in m.parameters} >= {
        "overhead_ms", "scheduling_median_ms", "scheduling_sigma", "route_factor",
        "laser_hop_ms", "infer_radius_km",
    }  # fmt: skip
    for p in m.parameters:
        assert p["unit"] and p["note"]


def test_round_trip_and_atomic_save(tmp_path):
    m = NamedLatencyModel(
        "test", "2", LatencyModel(route_factor=1.3, overhead_ms=7.5, laser_hop_ms=1.0,
                                  backbone=True, scheduling=SchedulingDelay(9.0, 0.4)),
        infer_radius_km=250.0, fitted_on={"x": 1}, cross_validation={"folds": 5},
    )  # fmt: skip
    path = m.save(tmp_path / "m.json")
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    back = load_latency_model(path)
    assert back.latency == m.latency and back.infer_radius_km == 250.0
    assert back.label == "test@2" and back.fitted_on == {"x": 1}
    assert back.without_inference().infer_radius_km is None


def test_bad_model_files(tmp_path):
    with pytest.raises(NotFoundError, match="neither a built-in model"):
        load_latency_model(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ParseError, match="not valid JSON"):
        load_latency_model(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ParseError, match="not a skyfence latency model"):
        load_latency_model(bad)
    good = NamedLatencyModel("t", "1", LatencyModel()).to_dict()
    del good["latency"]["overhead_ms"]
    bad.write_text(json.dumps(good))
    with pytest.raises(ParseError, match="missing or malformed"):
        load_latency_model(bad)
    good = NamedLatencyModel("t", "1", LatencyModel()).to_dict()
    good["latency"]["route_factor"] = 0.5
    bad.write_text(json.dumps(good))
    with pytest.raises(ParseError, match="route_factor"):
        load_latency_model(bad)


def test_score_against_hand_computed_and_scipy():
    pred = np.array([10.0, 20.0, 35.0, np.nan])
    pub = np.array([12.0, 18.0, 30.0, 40.0])
    s = score(pred, pub)
    assert s["n"] == 3 and s["missing"] == 1
    assert s["mae_ms"] == pytest.approx((2 + 2 + 5) / 3, abs=1e-3)
    assert s["bias_ms"] == pytest.approx((-2 + 2 + 5) / 3, abs=1e-3)
    assert s["rank_correlation"] == pytest.approx(stats.spearmanr(pred[:3], pub[:3])[0])


def test_folds_are_balanced_and_seeded():
    f = fold_of(23, 5, seed=1)
    assert np.bincount(f).tolist() == [5, 5, 5, 4, 4]
    assert np.array_equal(f, fold_of(23, 5, seed=1))
    assert not np.array_equal(f, fold_of(23, 5, seed=2))
    with pytest.raises(ValueError, match="folds"):
        fold_of(4, 5)


TRUE = Structure(300.0, 1.3, 1.0)
OTHER = Structure(None, 1.0, 0.0)


def synthetic(n=40, seed=3):
    """Countries whose published percentiles come from a known model, drawn by Monte Carlo
    with scipy: base RTTs per slot (true structure), + 8 ms + a log-normal(9 ms, 0.35) draw."""
    rng = np.random.default_rng(seed)
    T = 12
    base_true = rng.uniform(5, 60, size=(n, 1)) + rng.normal(0, 1.5, size=(n, T))
    base_other = base_true + rng.normal(0, 12, size=(n, 1))  # a wrong structure: shifted
    pub = np.empty((n, 3))
    delay = stats.lognorm(s=0.35, scale=9.0)
    for k in range(n):
        draws = (
            base_true[k][rng.integers(0, T, 200_000)] + 8.0 + delay.rvs(200_000, random_state=rng)
        )
        pub[k] = np.quantile(draws, [0.2, 0.5, 0.8])
    w = np.full((n, T), 1.0 / T)
    return CountryData(
        np.asarray([f"C{k:02d}" for k in range(n)]), pub, {OTHER: base_other, TRUE: base_true}, w
    )


def test_fit_recovers_a_known_model():
    data = synthetic()
    f = fit(data)
    assert f.structure == TRUE
    assert f.overhead_ms + f.scheduling.median_ms == pytest.approx(17.0, abs=0.3)
    assert f.scheduling.sigma == pytest.approx(0.35 * 9.0 / f.scheduling.median_ms, rel=0.35)
    assert f.overhead_ms == pytest.approx(8.0, abs=2.0)


def test_cross_validation_predicts_held_out_countries_without_seeing_them():
    data = synthetic()
    pred, fits = cross_validate(data, folds=4, seed=0)
    assert len(fits) == 4 and np.isfinite(pred).all()
    assert score(pred[:, 1], data.published[:, 1])["mae_ms"] < 0.5
    # change the published figures of one fold: that fold's predictions must not move
    fold = fold_of(len(data.codes), 4, 0)
    held = fold == 2
    pub2 = data.published.copy()
    pub2[held] += 25.0
    moved = CountryData(data.codes, pub2, data.base_ms, data.weights)
    pred2, _ = cross_validate(moved, folds=4, seed=0)
    np.testing.assert_allclose(pred2[held], pred[held])
    assert not np.allclose(pred2[~held], pred[~held])


def test_repeated_cross_validation_is_one_cross_validation_per_fold_assignment():
    clean = synthetic(n=24)
    noise = np.random.default_rng(7).normal(0.0, 3.0, size=(24, 1))  # what no model explains
    data = CountryData(clean.codes, clean.published + noise, clean.base_ms, clean.weights)
    rep, preds = repeated_cross_validation(data, folds=4, seeds=[0, 5, 9])
    assert rep["folds"] == 4 and rep["seeds"] == [0, 5, 9]
    by_hand = []
    for seed in (0, 5, 9):  # each assignment's figures are those of cross_validate alone
        pred, _ = cross_validate(data, folds=4, seed=seed)
        np.testing.assert_array_equal(preds[len(by_hand)], pred)
        by_hand.append([score(pred[:, i], data.published[:, i])["mae_ms"] for i in range(3)])
    by_hand = np.asarray(by_hand)
    for i, level in enumerate(("p20", "p50", "p80")):
        r = rep[level]
        assert r["mae_ms"] == pytest.approx(by_hand[:, i].tolist())
        assert r["mean_mae_ms"] == pytest.approx(by_hand[:, i].mean(), abs=1e-3)
        assert (r["min_mae_ms"], r["max_mae_ms"]) == pytest.approx(
            (by_hand[:, i].min(), by_hand[:, i].max()), abs=1e-3
        )
    assert len(set(rep["p50"]["mae_ms"])) > 1  # the assignments do differ
    with pytest.raises(InputError, match="distinct seeds"):
        repeated_cross_validation(data, folds=4, seeds=[1, 1])
    with pytest.raises(InputError, match="distinct seeds"):
        repeated_cross_validation(data, folds=4, seeds=[])


def test_gateway_mask_round_trips_and_old_files_still_load(tmp_path):
    m = NamedLatencyModel("t", "1", LatencyModel(), gateway_min_elevation_deg=45.0)
    back = load_latency_model(m.save(tmp_path / "m.json"))
    assert back.gateway_min_elevation_deg == 45.0
    assert back.without_inference().gateway_min_elevation_deg == 45.0
    old = m.to_dict()
    del old["network"]  # a file written before the mask was part of a model
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert load_latency_model(tmp_path / "old.json").gateway_min_elevation_deg is None
    old["network"] = {"gateway_min_elevation_deg": 95.0}
    (tmp_path / "bad.json").write_text(json.dumps(old))
    with pytest.raises(ParseError, match="gateway_min_elevation_deg 95"):
        load_latency_model(tmp_path / "bad.json")


def test_every_shipped_model_loads_and_the_first_keeps_the_default_mask():
    first = load_latency_model("starlink-2026-03")
    assert first.name == "starlink-2026-03" and first.gateway_min_elevation_deg is None
    second = load_latency_model("starlink-2026-03b")
    assert second.name == "starlink-2026-03b" and second.gateway_min_elevation_deg is not None
    new = load_latency_model("starlink-2026-03c")
    assert new.name == "starlink-2026-03c" and new.gateway_min_elevation_deg is not None
    assert DEFAULT_LATENCY_MODEL == "starlink-2026-03c"
    for m in (second, new):
        assert "gateway_min_elevation_deg" in {p["name"] for p in m.parameters}
    # each model's honest (cross-validated) median error is below the one before
    mae = [m.cross_validation["scores"]["p50"]["mae_ms"] for m in (first, second, new)]
    assert mae[2] < mae[1] < mae[0]


def test_structures_span_the_gateway_masks():
    from skyfence.links.calibration import structures

    s = structures([None], [1.3], [1.0], [25.0, 45.0])
    assert [x.gateway_min_elevation_deg for x in s] == [25.0, 45.0]
    assert s[1].to_dict()["gateway_min_elevation_deg"] == 45.0
    assert structures([None], [1.3], [1.0])[0].gateway_min_elevation_deg == 25.0


def test_the_structure_screen_compares_the_whole_distribution():
    """Two structures give every country the same median slot RTT; only the spread of the
    slots differs. The published 20th/80th percentiles come from the wide one: a screen of
    medians alone cannot tell them apart (a tie goes to the first given, the narrow one);
    the screen of the whole predicted distribution must pick the wide one."""
    rng = np.random.default_rng(5)
    n, T = 30, 20
    centre = rng.uniform(10, 60, size=(n, 1))
    steps = np.linspace(-1.0, 1.0, T)[None, :]
    wide = centre + 12.0 * steps  # slots spread over +-12 ms around the same median
    narrow = centre + 0.5 * steps
    NARROW, WIDE = Structure(None, 1.0, 0.0), Structure(300.0, 1.0, 0.0)
    delay = stats.lognorm(s=0.3, scale=8.0)
    pub = np.empty((n, 3))
    for k in range(n):
        draws = wide[k][rng.integers(0, T, 200_000)] + 6.0 + delay.rvs(200_000, random_state=rng)
        pub[k] = np.quantile(draws, [0.2, 0.5, 0.8])
    w = np.full((n, T), 1.0 / T)
    codes = np.asarray([f"C{k:02d}" for k in range(n)])
    data = CountryData(codes, pub, {NARROW: narrow, WIDE: wide}, w)
    # the medians of the two structures agree: the old screen would have tied
    np.testing.assert_allclose(np.median(wide, axis=1), np.median(narrow, axis=1))
    f = fit(data)
    assert f.structure == WIDE
    pred = predict(wide, w, f.overhead_ms, f.scheduling)
    assert score(pred[:, 0], pub[:, 0])["mae_ms"] < 0.5
    assert score(pred[:, 2], pub[:, 2])["mae_ms"] < 0.5


def test_screen_quantiles_are_the_mixture_of_each_screen_delay():
    from skyfence.links.calibration import SCREEN_MEDIANS_MS, SCREEN_SIGMAS, screen_quantiles

    data = synthetic(n=5)
    table = screen_quantiles(data)
    assert set(table) == set(data.base_ms)
    q = table[TRUE]
    assert q.shape == (len(SCREEN_MEDIANS_MS) * len(SCREEN_SIGMAS), 5, 3)
    g = 2 * len(SCREEN_SIGMAS) + 1  # the third median, the second sigma
    expect = predict(
        data.base_ms[TRUE], data.weights, 0.0,
        SchedulingDelay(SCREEN_MEDIANS_MS[2], SCREEN_SIGMAS[1]),
    )  # fmt: skip
    np.testing.assert_allclose(q[g], expect, atol=2e-3)
