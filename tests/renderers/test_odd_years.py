"""Any event time the scan accepts gets every report, its time chart included.

matplotlib's dates end at the years 0001 and 9999, and an offset moves a time past
either end (``0001-01-01T00:00+05:00`` is in the year 0), so the charts put time on a
plain axis of days and label the ticks themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import LEDGER, make_event, write_jsonl

import audit
from audit.renderers import RENDERERS, charts, write_reports

_TICK = re.compile(r"<text[^>]*>([^<]*)</text>")


def _series(days: list[str]) -> list[dict[str, object]]:
    return [{"time": day, "events": 3 + i, "findings": i % 2} for i, day in enumerate(days)]


def _labels(svg: str) -> list[str]:
    return _TICK.findall(svg)


@pytest.mark.parametrize(("days", "expected"), [
    (["0001-01-01", "0001-01-02", "0001-01-05"], ["0001-01-01", "0001-01-04"]),
    (["9999-12-20", "9999-12-31"], ["9999-12-22", "9999-12-31"]),
    (["0001-03-01", "0001-03-05", "9999-03-01", "9999-12-31"], ["2000", "8000"]),
    # what the engine writes for times past either end of datetime: years 0, -1, 10000
    (["0000-03-01", "-001-01-01", "10000-01-01"], ["0000", "10000"]),
    (["0000-12-31", "0001-01-01"], ["0000-12-31 00:00", "0001-01-01 00:00"]),
])
def test_over_time_at_the_ends_of_the_calendar(days: list[str], expected: list[str]) -> None:
    svg = charts.over_time(_series(days))
    assert svg is not None
    labels = _labels(svg)
    for label in expected:
        assert label in labels, (label, labels)
    ticks = labels[:labels.index("0")]  # x tick labels come first, then the y axis's
    assert ticks == sorted(ticks, key=lambda t: charts._days(t.split()[0]) or 0.0)


def test_ticks_are_whole_years_months_days_or_hours() -> None:
    def ticks(left: str, right: str) -> list[str]:
        a, b = charts._days(left), charts._days(right)
        assert a is not None and b is not None
        return charts._time_ticks(a, b)[1]

    assert ticks("2020-01-01", "2026-06-01") == ["2020", "2021", "2022", "2023", "2024",
                                                 "2025", "2026"]
    assert ticks("2026-01-01", "2026-07-01") == ["2026-01", "2026-02", "2026-03", "2026-04",
                                                 "2026-05", "2026-06", "2026-07"]
    assert ticks("2026-03-01T00:00:00Z", "2026-03-01T12:00:00Z") == [
        "2026-03-01 00:00", "2026-03-01 06:00", "2026-03-01 12:00"]
    assert ticks("2026-01-01", "2026-01-13") == ["2026-01-01", "2026-01-04", "2026-01-07",
                                                 "2026-01-10", "2026-01-13"]
    assert ticks("0001-01-01", "9999-12-31") == ["2000", "4000", "6000", "8000"]
    assert len(ticks("-2000-01-01", "12000-01-01")) <= 7


def test_a_time_with_an_offset_past_either_end_is_placed_not_dropped() -> None:
    early = charts._days("0001-01-01T00:00:00+05:00")
    late = charts._days("9999-12-31T23:00:00-05:00")
    assert early is not None and late is not None
    assert early < charts._days("0001-01-01") < charts._days("9999-12-31") < late  # type: ignore[operator]
    assert charts._days("not a time") is None and charts._days(None) is None


def test_many_days_are_summed_into_a_bounded_number_of_points() -> None:
    days = [f"{year:04d}-{month:02d}-01" for year in range(1, 10000, 7) for month in (1, 7)]
    series = _series(days)
    svg = charts.over_time(series)
    assert svg is not None and "summed per" in svg
    points, width = charts._bucketed(
        sorted((charts._days(p["time"]), p["events"], p["findings"])  # type: ignore[misc]
               for p in series), charts.MAX_TIME_POINTS)
    assert len(points) <= charts.MAX_TIME_POINTS and width > 1
    assert sum(p[1] for p in points) == sum(p["events"] for p in series)  # type: ignore[misc]


def _dump(path: Path, years: list[str]) -> Path:
    """Usage events on a few days of each year, some of a tenant whose tracing was off."""
    events = []
    for i in range(12):
        year = years[i % len(years)]
        events.append(make_event("usage", time=f"{year}-03-{1 + i:02d}T10:00:00Z",
                                 tenant="fabrikam.com" if i % 3 == 0 else "contoso.com"))
    return write_jsonl(path, events)


@pytest.mark.parametrize("years", [["0001"], ["9999"], ["0001", "9999"], ["0000"],
                                   ["0000", "2026", "9999"]],
                         ids=["0001", "9999", "0001+9999", "0000", "0000+2026+9999"])
def test_every_report_is_written_for_odd_years(tmp_path: Path, years: list[str]) -> None:
    dump = _dump(tmp_path / "dump.jsonl", years)
    report = audit.scan(inputs=str(dump), ledger=str(LEDGER))
    days = [p["time"] for p in report.extras["events_over_time"]]
    assert {d.split("-")[0] for d in days} == set(years)
    written = write_reports(report, tmp_path / "out", list(RENDERERS))
    assert sorted(p.name for p in written) == sorted(r.filename for r in RENDERERS.values())
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert 'aria-label="Events and findings over time"' in page
