"""The application operations: the store's policy versions in force at each report's time,
files written, and scores only after detection."""

from __future__ import annotations

import csv
import itertools
import json
import os
import time
import uuid

import numpy as np
import pytest

from skyfence.app import App
from skyfence.app.detect import (
    policy_history,
    prepare_detect,
    prepare_impact,
    run_detect,
    run_impact,
    simulate_scenario,
)
from skyfence.detect import write_telemetry
from skyfence.detect.testing import telemetry, trace
from skyfence.errors import InputError
from skyfence.policy import parse_policy
from skyfence.settings import load_settings

KYIV = (50.45, 30.52)


@pytest.fixture()
def app(isolated_env):
    return App(load_settings())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_app(request, isolated_env, monkeypatch):
    """An App whose store is a SQLite file or a fresh PostgreSQL schema (when
    SKYFENCE_TEST_POSTGRES_URL is set)."""
    if request.param == "sqlite":
        yield App(load_settings())
        return
    base = os.environ.get("SKYFENCE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL variant: set SKYFENCE_TEST_POSTGRES_URL to run it")
    import sqlalchemy as sa

    schema = f"skyfence_detect_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    monkeypatch.setenv("SKYFENCE_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        yield App(load_settings())
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_store_versions_apply_from_their_time_on(store_app, tmp_path):
    app = store_app
    on = parse_policy("rules: [{id: ua, region: UA, state: active}]")
    off = parse_policy("rules: [{id: ua-off, region: UA, state: suspended}]")
    with app.open_store() as store:
        store.apply_policy(on.to_document(), actor="ana", reason="on", base_version=0)
        time.sleep(0.05)
        store.apply_policy(off.to_document(), actor="ana", reason="off", base_version=1)
        v1, v2 = (v.applied_at for v in store.policy_versions())
    history, source = policy_history(app)
    assert [v.version for v in history.versions] == [1, 2] and source == "store (2 versions)"
    s = np.timedelta64(1, "s")
    times = [v1 - 60 * s, v1 + (v2 - v1) // 2, v2, v2 + 60 * s, v2 + 120 * s]
    tel = telemetry(trace("t1", [KYIV[0]] * 5, [KYIV[1]] * 5, times=times))
    path = write_telemetry(tel, tmp_path / "t.parquet")
    terms = tmp_path / "terms.csv"
    terms.write_text("id,country,plan\nt1,UA,fixed\n")
    run = run_detect(app, path, terminals_file=terms)
    assert run.report.undecided_rows == 1 and run.report.versions == [1, 2]
    (f,) = run.report.findings
    assert (f.kind, f.policy_version, f.rule_id) == ("service-area", 2, "ua-off")
    assert f.details["reports"] == 3 and [x["line"] for x in f.fixes] == [3, 4, 5]


def test_no_policy_at_all_is_a_clear_error(app, tmp_path):
    with pytest.raises(InputError, match="no policy version.*--policy FILE"):
        policy_history(app)


def test_run_writes_geojson_and_map_and_scores_after(app, tmp_path):
    summary = simulate_scenario(
        app, tmp_path / "s.parquet", seed=2, terminals=40, days=2, start="2026-01-31T00:00:00Z"
    )
    f = summary["files"]
    assert summary["terminals"] >= 40 and sum(summary["classes"].values()) == summary["terminals"]
    run = run_detect(
        app,
        tmp_path / "s.parquet",
        policy_file=tmp_path / "s.policy.json",
        terminals_file=tmp_path / "s.terminals.csv",
        geojson=tmp_path / "out" / "f.geojson",
        png=tmp_path / "out" / "f.png",
        truth_column="label",
    )
    assert f["telemetry"].endswith("s.parquet")
    gj = json.loads((tmp_path / "out" / "f.geojson").read_text())
    points = [x for x in gj["features"] if x["geometry"]["type"] == "Point"]
    assert len(points) == len(run.report.findings) > 0
    assert points[0]["properties"]["rank"] == 1
    assert (tmp_path / "out" / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert run.scores["service-area"].expected > 0


def test_bad_output_names_fail_before_work(app, tmp_path):
    with pytest.raises(InputError, match="--geojson"):
        run_detect(
            app, tmp_path / "x.csv", policy_file=tmp_path / "p.yaml", geojson=tmp_path / "a.txt"
        )
    with pytest.raises(InputError, match="at least one candidate"):
        run_impact(app, tmp_path / "x.csv", [])
    with pytest.raises(InputError, match="cannot tell the format"):
        simulate_scenario(app, tmp_path / "x.xlsx")


def test_a_mistyped_truth_column_fails_before_the_telemetry_is_read(app, tmp_path, monkeypatch):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    simulate_scenario(
        app, tmp_path / "s.parquet", seed=3, terminals=20, days=1, start="2026-01-31T00:00:00Z"
    )
    table = pq.read_table(tmp_path / "s.parquet")
    pacsv.write_csv(table, tmp_path / "s.csv")
    with open(tmp_path / "s.csv", encoding="utf-8", newline="") as fh:
        rows = list(itertools.islice(csv.DictReader(fh), 3))
    (tmp_path / "s.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )

    def never(*_a, **_k):
        raise AssertionError("the telemetry was read")

    monkeypatch.setattr("skyfence.app.detect.read_telemetry", never)
    policy, terminals = tmp_path / "s.policy.json", tmp_path / "s.terminals.csv"
    for name in ("s.parquet", "s.csv", "s.jsonl"):
        path = tmp_path / name
        with pytest.raises(InputError, match=r"no column 'lable' \(its columns: .*\blabel\b"):
            prepare_detect(
                app, path, policy_file=policy, terminals_file=terminals, truth_column="lable"
            )
        with pytest.raises(InputError, match="no column 'lable'"):
            prepare_impact(app, path, [policy], terminals_file=terminals, truth_column="lable")
        # the right name passes the check (the run itself is tested above)
        job = prepare_detect(
            app, path, policy_file=policy, terminals_file=terminals, truth_column="label"
        )
        assert job.truth_column == "label"
