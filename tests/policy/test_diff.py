"""Policy diffs: rule changes, cell counts against shapely, and the sensitive-change test."""

from __future__ import annotations

import numpy as np
import shapely
from h3.api import basic_int as h3i

from skyfence.policy import diff_policies, parse_policy, requires_approval

OLD = """\
sensitive_regions: [small]
rules:
  - {id: aa, region: AA, state: active}
  - {id: small, region: small, state: active}
  - {id: twin, region: twin1, state: denied, sensitive: true}
terminal_rules:
  - {id: sp, kind: speed_limit, max_speed_kmh: 160}
"""


def test_rule_changes_and_cells(boxes):
    new = OLD.replace(
        "{id: small, region: small, state: active}", "{id: small, region: small, state: suspended}"
    )
    new += "  - {id: wl, kind: whitelist_only, region: BB}\n"
    new = new.replace(
        "terminal_rules:", "  - {id: bb, region: BB, state: waitlist}\nterminal_rules:"
    )
    d = diff_policies(parse_policy(OLD), parse_policy(new), at="2026-03-01T00:00:00Z", **_kw(boxes))
    assert [(c.id, c.change) for c in d.changes] == [
        ("small", "changed"),
        ("bb", "added"),
        ("wl", "added"),
    ]
    assert d.changes[0].fields == ["state"]
    assert d.regions == ["BB", "small"]
    # independent count: centres of the covering cells, classified with shapely
    cover = np.unique(
        np.concatenate([boxes.by_name["small"].cells(5), boxes.by_name["BB"].cells(5)])
    )
    ll = np.array([h3i.cell_to_latlng(int(c)) for c in cover])
    lat, lon = ll[:, 0], ll[:, 1]
    in_small = shapely.intersects_xy(boxes.by_name["small"].geometry, lon, lat)
    in_aa = shapely.intersects_xy(boxes.AA.geometry, lon, lat)
    in_bb = shapely.intersects_xy(boxes.BB.geometry, lon, lat) & ~in_aa
    assert d.cells_checked == len(cover)
    assert d.cells_changed == int(in_small.sum() + in_bb.sum())
    assert d.cell_transitions == {
        "active -> suspended": int(in_small.sum()),
        "not_licensed -> waitlist": int(in_bb.sum()),
    }
    assert d.cells_changed > 100
    # the small region is sensitive: its change needs approval
    assert d.sensitive and any(
        "overlaps sensitive region 'small'" in r for r in d.sensitive_reasons
    )


def _kw(boxes):
    return {"resolve": boxes.resolve, "compile_kwargs": boxes.kwargs()}


def test_no_change(boxes):
    d = diff_policies(parse_policy(OLD), parse_policy(OLD), **_kw(boxes))
    assert d.empty and not d.sensitive and d.cells_changed is None


def test_sensitive_rule_changes_need_approval(boxes):
    new = OLD.replace("state: denied, sensitive: true", "state: active, sensitive: true")
    ok, why = requires_approval(parse_policy(OLD), parse_policy(new), resolve=boxes.resolve)
    assert ok and why == ["rule 'twin' is marked sensitive"]
    # removing the sensitive flag is itself a change to a sensitive rule
    new = OLD.replace("state: denied, sensitive: true", "state: denied")
    assert requires_approval(parse_policy(OLD), parse_policy(new), resolve=boxes.resolve)[0]


def test_overlap_with_sensitive_region(boxes):
    # mid overlaps small (a sensitive region) with positive area
    new = OLD + ""
    new = new.replace(
        "terminal_rules:", "  - {id: mid, region: mid, state: waitlist}\nterminal_rules:"
    )
    ok, why = requires_approval(parse_policy(OLD), parse_policy(new), resolve=boxes.resolve)
    assert ok and why == ["rule 'mid': region 'mid' overlaps sensitive region 'small'"]


def test_touching_a_sensitive_region_is_not_overlapping(boxes):
    old = OLD.replace("sensitive_regions: [small]", "sensitive_regions: [AA]")
    new = old.replace("terminal_rules:", "  - {id: bb, region: BB, state: active}\nterminal_rules:")
    assert requires_approval(parse_policy(old), parse_policy(new), resolve=boxes.resolve) == (
        False,
        [],
    )


def test_terminal_rule_change_without_region_is_not_sensitive(boxes):
    new = OLD.replace("max_speed_kmh: 160", "max_speed_kmh: 150")
    d = diff_policies(parse_policy(OLD), parse_policy(new), **_kw(boxes))
    assert d.changed == ["sp"] and d.changes[0].fields == ["max_speed_kmh"]
    assert not d.sensitive and d.cells_changed is None


def test_first_policy_and_sensitive_region_list(boxes):
    d = diff_policies(None, parse_policy(OLD), cells=False, resolve=boxes.resolve)
    assert d.added == ["aa", "small", "twin", "sp"] and d.sensitive
    new = OLD.replace("sensitive_regions: [small]", "sensitive_regions: []")
    ok, why = requires_approval(parse_policy(OLD), parse_policy(new), resolve=boxes.resolve)
    assert ok and why == ["the list of sensitive regions changed"]
