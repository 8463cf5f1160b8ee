"""skyfence.app.decide: the stored policy and registry, one worldview per process, batch and
single decisions agreeing."""

from __future__ import annotations

import numpy as np
import pytest

import skyfence.regions
from skyfence.app import App
from skyfence.app.changes import approve, propose
from skyfence.app.decide import decide, decide_batch
from skyfence.app.identity import Principal
from skyfence.app.terminals import import_file
from skyfence.policy import example_text
from skyfence.settings import load_settings

ALICE = Principal.local("alice", os_user="alice")
BOB = Principal.local("bob", os_user="bob")
GATEWAY = Principal.from_token("gw-1", ["terminal-gateway"])


@pytest.fixture()
def app(tmp_path, monkeypatch):
    calls = []
    real = skyfence.regions.world

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(skyfence.regions, "world", counting)
    a = App(load_settings(data_dir=tmp_path / "data"))
    a.world_calls = calls
    ua = tmp_path / "ua.yaml"
    ua.write_text(example_text("ukraine-2026"))
    terms = tmp_path / "t.csv"
    terms.write_text("id,country,plan,whitelists,speed_exempt\nW1,UA,fixed,UA,false\n")
    res = propose(a, ALICE, ua, reason="start")
    approve(a, BOB, res.change_id)
    import_file(a, ALICE, terms)
    return a


def test_decisions_use_one_worldview_per_process(app):
    first = decide(app, GATEWAY, "W1", 49.99, 36.23, speed_kmh=60)
    second = decide(app, GATEWAY, "W1", 44.95, 34.10)
    assert (first.decision.allowed, first.decision.rule_id) == (True, "ua-active")
    assert (second.decision.allowed, second.decision.rule_id) == (False, "crimea-suspended")
    assert first.policy_version == 1 and first.terminals_source == "stored registry"
    assert len(app.world_calls) == 1  # App.world, built once, for regions and countries


def test_batch_agrees_with_single_decisions(app):
    lat = np.array([49.99, 44.95, 52.23, -22.9])
    lon = np.array([36.23, 34.10, 21.01, -43.2])
    out = decide_batch(
        app,
        GATEWAY,
        {
            "terminal_id": np.array(["W1", "W1", "W1", "X"]),
            "lat": lat,
            "lon": lon,
            "time": np.datetime64("now", "ns"),
        },
    ).decisions
    for k in range(4):
        single = decide(app, GATEWAY, ["W1", "W1", "W1", "X"][k], lat[k], lon[k]).decision
        assert bool(out.allowed[k]) == single.allowed
        assert out.rule_names()[k] == single.rule_id


def test_a_gateway_may_decide_but_not_change(app):
    from skyfence.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError, match="needs the operator role"):
        propose(app, GATEWAY, {"rules": []}, reason="r")


def test_registry_is_reused_only_while_the_log_attests_it(app, monkeypatch):
    from skyfence.app.terminals import add
    from skyfence.policy import Terminal
    from skyfence.store import Store

    reads = []
    real = Store.terminals

    def counting(self, *args, **kwargs):
        reads.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "terminals", counting)
    assert not decide(app, GATEWAY, "W2", 49.99, 36.23).decision.allowed  # not registered
    decide(app, GATEWAY, "W1", 49.99, 36.23)
    assert len(reads) == 1  # the second decision reused the registry
    add(app, ALICE, Terminal("W2", "UA", "fixed", whitelists=("UA",)))
    d = decide(app, GATEWAY, "W2", 49.99, 36.23).decision
    assert d.allowed and len(reads) == 2  # a new attested digest: read again
