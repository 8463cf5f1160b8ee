"""Network steps against results recorded before the step was split into stages (golden file
written by ``golden/make_step_golden.py``): the same serving satellites, gateways, PoPs, hops,
status and visible pairs, and the same RTT parts and elevations (to 1e-9, i.e. float noise)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from skyfence.links import compiled

HERE = Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("make_step_golden", HERE / "make_step_golden.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)

INTS = ("serving_sat", "gateway", "pop", "isl_hops", "status")


@pytest.fixture(scope="module")
def golden():
    with np.load(HERE / "step_golden.npz") as f:
        d = {k: f[k] for k in f.files}
    term, configs = make.configurations(d)
    return d, term, configs


KERNELS = [
    "numpy",
    pytest.param(
        "compiled",
        marks=pytest.mark.skipif(not compiled.available(), reason="numba is not installed"),
    ),
]


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_recorded_configuration(golden, kernel):
    d, term, configs = golden
    assert len(configs) == 8
    for name, model, kw in configs:
        model.kernel, model._terminal_index = kernel, None  # the kernel under test
        res = model.step(d["positions_ecef_km"], None, term, **kw)
        assert (res.status == 0).sum() >= 40, name  # the file exercises real routes
        for f in make.FIELDS:
            ref = d[f"{name}/{f}"]
            got = getattr(res, f)
            if f in INTS:
                assert np.array_equal(got, ref), (name, f)
            else:
                assert np.allclose(got, ref, rtol=1e-12, atol=1e-9, equal_nan=True), (name, f)


def test_recorded_visibility(golden):
    d, term, configs = golden
    v = configs[0][1].terminal_visibility(d["positions_ecef_km"], term)
    assert np.array_equal(v.site, d["visible_site"]) and np.array_equal(v.sat, d["visible_sat"])
    assert np.allclose(v.elevation_deg, d["visible_elevation_deg"], rtol=0, atol=1e-9)
    assert np.allclose(v.range_km, d["visible_range_km"], rtol=1e-13)
