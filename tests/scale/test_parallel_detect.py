"""The telemetry replay (every report decided under the policy version in force) split into
chunks of whole terminals on the one runner: the same decisions and findings on Dask, in
local processes and here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clirun import run, run_json
from skyfence.detect import PolicyHistory, build_tracks, decide_reports, detect
from skyfence.detect.scenario import simulate
from skyfence.scale import Parallel, open_runner

FIELDS = ("version", "allowed", "reasons_mask", "state", "country", "rule", "region")


@pytest.fixture(scope="module")
def scenario():
    """Two versions in force one after another: the second (from the middle of the trace)
    drops the speed limit and keeps the roaming rule, so a trip begun under the first
    version is decided under the second (the chunk replays earlier reports too)."""
    sc = simulate(seed=5, terminals=60, days=3.0, start="2026-01-26T00:00:00Z")
    doc = sc.policy.to_document()
    doc["terminal_rules"] = [r for r in doc["terminal_rules"] if r["kind"] != "speed_limit"]
    from skyfence.policy import Policy

    second = Policy.from_document(doc)
    history = PolicyHistory(
        [("2026-01-20T00:00:00Z", sc.policy, 1), ("2026-01-27T12:00:00Z", second, 2)]
    )
    return sc, build_tracks(sc.telemetry), history


@pytest.mark.parametrize(
    "parallel",
    [Parallel(workers=2), Parallel(dask_workers=2)],
    ids=["processes", "dask-processes"],
)
def test_a_replay_on_the_runner_is_the_single_process_replay(scenario, parallel):
    sc, tracks, history = scenario
    n = len(tracks.telemetry)
    one = decide_reports(tracks, history, sc.registry, chunk_rows=4_000)
    assert set(np.unique(one.version).tolist()) == {0, 1}  # both versions decide reports
    assert one.allowed.any() and (~one.allowed).any()
    seen: list[tuple[int, int]] = []
    with open_runner(parallel) as runner:
        two = decide_reports(
            tracks, history, sc.registry, chunk_rows=4_000, runner=runner,
            progress=lambda d, t: seen.append((d, t)),
        )  # fmt: skip
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    assert one.rule_names == two.rule_names and one.region_names == two.region_names
    assert one.country_names == two.country_names
    assert len(seen) > 2 and seen[-1] == (n, n)  # one step per chunk, rows done


def test_the_chunks_decide_as_one_call_over_all_reports(scenario):
    """The chunked replay against one ``decide_batch`` of the whole trace under a single
    version (an independent path: no chunks, no merge, no interning)."""
    sc, tracks, _ = scenario
    tel = tracks.telemetry
    history = PolicyHistory(sc.policy)
    chunked = decide_reports(tracks, history, sc.registry, chunk_rows=3_000)
    whole = history.compiled(0).decide_batch(
        {
            "terminal_index": sc.registry.index_of(tel.terminal_ids)[tel.terminal],
            "lat": tel.latitude_deg,
            "lon": tel.longitude_deg,
            "time": tel.time_ns.view("datetime64[ns]"),
            "speed_kmh": tracks.speed_kmh,
            "altitude_m": tel.altitude_m,
        },
        registry=sc.registry,
        trips_from_history=True,
    )
    np.testing.assert_array_equal(chunked.allowed, whole.allowed)
    np.testing.assert_array_equal(chunked.reasons_mask, whole.reasons_mask)
    rules = np.array([*history.compiled(0).rule_ids, ""], dtype=object)
    names = np.array([*chunked.rule_names, ""], dtype=object)
    np.testing.assert_array_equal(names[chunked.rule], rules[whole.rule])


def test_findings_are_the_same_with_workers(scenario):
    sc, _, history = scenario
    one = detect(sc.telemetry, history, sc.registry)
    with open_runner(Parallel(workers=2)) as runner:
        two = detect(sc.telemetry, history, sc.registry, runner=runner)
    assert [f.to_dict() for f in one.findings] == [f.to_dict() for f in two.findings]
    assert one.findings  # the scenario has misuse to find


def test_detect_run_cli_takes_workers_and_refuses_bad_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "sc.parquet"
    run_json(capsys, "detect", "simulate", "--out", str(out), "--terminal-count", "40",
             "--days", "2")  # fmt: skip
    args = ["detect", "run", str(out), "--policy", str(tmp_path / "sc.policy.json"),
            "--terminals", str(tmp_path / "sc.terminals.csv")]  # fmt: skip
    one = run_json(capsys, *args)
    two = run_json(capsys, *args, "--workers", "2")
    one.pop("seconds"), two.pop("seconds")
    assert one == two and sum(one["counts"].values()) > 0
    code, _, err = run(capsys, *args, "--workers", "0")
    assert code == 1
    assert err.strip().splitlines() == [
        "skyfence: error: --workers must be a whole number >= 1, got 0"
    ]
    json.dumps(one)  # plain JSON
