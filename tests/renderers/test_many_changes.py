"""The consent chart costs what it draws: one bar collection per lane and style, not one
per change, and labels only where they fit; left-out changes show as such."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from matplotlib.axes import Axes

from audit.renderers import charts, html

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _lane(changes: int, seed: int, subject: str = "fabrikam.com") -> dict[str, Any]:
    """A subject whose setting flips ``changes`` times at random moments of a year."""
    rng = random.Random(seed)
    moments = sorted(rng.sample(range(365 * 24 * 60), changes))
    out = [{"since": None, "value": False, "allowed": True, "ledger_line": None,
            "events": rng.randrange(3), "violations": 0}]
    for i, minute in enumerate(moments):
        blocked = i % 2 == 0
        events = rng.randrange(4)
        out.append({"since": (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
                    "value": blocked, "allowed": not blocked, "ledger_line": i + 2,
                    "events": events, "violations": events if blocked else 0})
    return {"scope": "org", "subject": subject, "setting": "DisableAutomaticSendTracing",
            "changes": out}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often the chart asks matplotlib for bars and for labels."""
    counted = {"broken_barh": 0, "text": 0}
    for name in counted:
        original = getattr(Axes, name)

        def counting(self: Axes, *args: Any, _name: str = name, _original: Any = original,
                     **kwargs: Any) -> Any:
            counted[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Axes, name, counting)
    yield counted


@pytest.mark.parametrize("changes", [10, 400, 2_000])
def test_bar_collections_and_labels_do_not_grow_with_changes(calls: dict[str, int],
                                                             changes: int) -> None:
    lanes = [_lane(changes, seed, f"t{seed}.example.com") for seed in range(3)]
    assert charts.consent_timeline(lanes) is not None
    # per lane: allowed, blocked and the hatched default, whatever the number of changes
    assert calls["broken_barh"] <= 3 * len(lanes)
    # a label needs room for its text (over 10 % of the axis): at most about ten a lane
    assert calls["text"] <= 10 * len(lanes)


def test_svg_grows_linearly_with_the_changes_drawn() -> None:
    small = charts.consent_timeline([_lane(1_000, 1)])
    large = charts.consent_timeline([_lane(4_000, 1)])
    assert small is not None and large is not None
    # four times the changes, about four times the bars: far from sixteen
    assert len(large) < 5 * len(small)


def test_lanes_are_the_subjects_with_the_most_violations() -> None:
    quiet = _lane(4, 1, "quiet.example.com")
    for change in quiet["changes"]:
        change["violations"] = 0
    loud = _lane(40, 2, "loud.example.com")
    svg = charts.consent_timeline([quiet, loud], limit=1)
    assert svg is not None
    assert "loud.example.com" in svg and "quiet.example.com" not in svg
    assert "1 more not drawn" in svg


def test_changes_left_out_by_the_report_are_drawn_as_left_out() -> None:
    lane = _lane(6, 3)
    lane["changes"][2].update(until=lane["changes"][3]["since"], omitted_after=3)
    del lane["changes"][3:6]
    lane["changes_total"], lane["events"], lane["violations"] = 7, 12, 5
    svg = charts.consent_timeline([lane])
    assert svg is not None
    assert charts.OMITTED_COLOR in svg and "changes left out of the report" in svg
    whole = charts.consent_timeline([_lane(6, 3)])
    assert whole is not None and "changes left out" not in whole
    rows = html._consent_rows([lane])
    (row,) = rows
    assert [c["omitted"] for c in row["changes"]].count("") == len(row["changes"]) - 1
    assert f"3 changes from {lane['changes'][2]['until']} not listed" in \
        [c["omitted"] for c in row["changes"]]
    assert row["cut"] == "4 of 7 changes listed; in all 12 events, 5 sent while blocked"
