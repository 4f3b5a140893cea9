"""Charts for the HTML report, drawn by matplotlib as inline SVG strings.

The report must open without any network, so charts are SVG text embedded in
the page rather than image files or a JavaScript charting library. Text stays
text (``svg.fonttype='none'``) so it is small, selectable and follows the
page's fonts. Labels are passed through :func:`_label` so that nothing from a
dump can turn into mathtext or markup.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

#: One colour per severity, shared with the stylesheet of the HTML report.
SEVERITY_COLORS: Mapping[str, str] = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#3b82f6",
    "info": "#94a3b8",
}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "telemetry-audit",  # stable element ids, so output is reproducible
    "text.parse_math": False,
    "text.usetex": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#94a3b8",
    "axes.labelcolor": "#334155",
    "xtick.color": "#475569",
    "ytick.color": "#475569",
}
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SIZE = re.compile(r' width="[\d.]+pt" height="[\d.]+pt"')
_IDREF = re.compile(r'(\bid="|url\(#|xlink:href="#|\bhref="#)')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
#: The elements matplotlib's SVG backend writes; anything else is refused.
_ALLOWED = frozenset({
    "svg", "defs", "style", "g", "path", "clipPath", "rect", "use", "text", "tspan",
    "title", "desc", "line", "polyline", "polygon", "circle", "ellipse", "linearGradient",
    "stop", "pattern", "mask",
})
_MAX_LABEL = 48


def _label(text: object) -> str:
    """A short, single-line label; control characters dropped."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return s if len(s) <= _MAX_LABEL else s[: _MAX_LABEL - 1] + "…"


def _to_svg(fig: Figure, title: str, prefix: str) -> str:
    """Serialise ``fig`` to an inline ``<svg>`` element (no XML prolog or DOCTYPE).

    Element ids get ``prefix`` so several charts can share one HTML document
    without their clip paths colliding.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = _PROLOG.sub("", buf.getvalue(), count=1).strip()
    svg = _METADATA.sub("", svg)  # RDF metadata only adds URLs and bytes
    _check_inert(svg)
    svg = _SIZE.sub("", svg, count=1)  # the viewBox keeps the ratio; CSS sets the width
    svg = _IDREF.sub(lambda m: f"{m.group(1)}{prefix}-", svg)
    svg = svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{_attr(title)}" ', 1)
    return svg


def _check_inert(svg: str) -> None:
    """Refuse markup that could run or load anything. matplotlib escapes text
    itself, so data can only appear as text; this guard keeps it that way even
    if the backend changes: known elements only, no event handlers, and links
    only to fragments inside the same chart."""
    root = ElementTree.fromstring(svg)
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in _ALLOWED:
            raise ValueError(f"chart SVG contains a <{tag}> element")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                raise ValueError(f"chart SVG contains an event handler {name}")
            if name in (_XLINK_HREF, "href") and not value.startswith("#"):
                raise ValueError("chart SVG links outside itself")
            if "url(" in value and "url(#" not in value:
                raise ValueError("chart SVG references an external resource")


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;")
            .replace("<", "&lt;").replace(">", "&gt;"))


def findings_by_rule(counts: Mapping[str, Mapping[str, int]], *, limit: int = 25) -> str | None:
    """Horizontal stacked bars: findings per rule, split by severity.

    ``counts`` maps rule id → severity → count. Returns None when there is
    nothing to draw, so the template can say so instead of showing an empty axis.
    """
    rows = [(rule, sev) for rule, sev in counts.items() if sum(sev.values()) > 0]
    if not rows:
        return None
    rows.sort(key=lambda r: (-sum(r[1].values()), r[0]))
    hidden = len(rows) - limit
    rows = rows[:limit][::-1]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.1))
        left = [0] * len(rows)
        labels = [_label(r[0]) for r in rows]
        for sev in SEVERITY_ORDER:
            values = [r[1].get(sev, 0) for r in rows]
            if any(values):
                ax.barh(labels, values, left=left, color=SEVERITY_COLORS[sev], label=sev,
                        height=0.65)
                left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlabel("findings")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="x", color="#e2e8f0", linewidth=0.6)
        ax.set_axisbelow(True)
        if hidden > 0:
            ax.set_title(f"top {limit} rules ({hidden} more not shown)", fontsize=8, loc="left")
        return _to_svg(fig, "Findings by rule and severity", "byrule")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: A bare date in any year numpy reads (``0000-03-01``, ``-001-01-01``, ``10000-01-01``):
#: the engine writes event days this way, and Python's datetime stops at 0001 and 9999.
_WIDE_DATE = re.compile(r"[+-]?\d{3,6}-\d{2}-\d{2}")


def _days(value: object) -> float | None:
    """An ISO 8601 time or date as days since 1970-01-01 UTC (a float); None when it is none.

    Charts put time on a plain number axis rather than matplotlib's dates, which end at
    the years 0001 and 9999: the scan accepts any year an event claims, and an offset
    moves 0001-01-01T00:00+05:00 into the year 0. Ticks are labelled by :func:`_time_ticks`.
    """
    when = _parse_time(value)
    if when is not None:
        return (when - _EPOCH).total_seconds() / 86400  # aware: no overflow at the ends
    if isinstance(value, str) and _WIDE_DATE.fullmatch(value.strip()):
        try:
            return float(np.datetime64(value.strip(), "D").astype(np.int64))
        except ValueError:
            return None
    return None


#: Tick steps per unit: years as 1, 2, 5 times a power of ten; months, days and hours
#: as their usual divisions.
_STEPS: Mapping[str, Sequence[int]] = {
    "Y": tuple(m * 10 ** k for k in range(8) for m in (1, 2, 5)),
    "M": (1, 2, 3, 6),
    "D": (1, 2, 3, 7, 14),
    "h": (1, 2, 3, 6, 12),
}
_MONTH_DAYS = 30.44
_LABEL_UNIT = {"Y": "Y", "M": "M", "D": "D", "h": "m"}
#: Ticks per axis at most, by unit: fewer of the longer labels, so that they never overlap.
_MOST_TICKS = {"Y": 7, "M": 7, "D": 5, "h": 4}


def _time_ticks(left: float, right: float) -> tuple[list[float], list[str]]:
    """Ticks between two times (days since 1970) on whole years, months, days or hours,
    as many as fit, labelled as ISO dates of any year."""
    span = max(right - left, 1e-9)
    unit = "Y" if span >= 3 * 365 else "M" if span >= 60 else "D" if span >= 3 else "h"
    if unit == "M" and span / _MONTH_DAYS / _STEPS["M"][-1] > _MOST_TICKS["M"]:
        unit = "Y"
    most = _MOST_TICKS[unit]
    seconds = np.array([np.floor(left * 86400), np.ceil(right * 86400)], dtype=np.int64)
    first, last = seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]").astype(np.int64)
    offset = 1970 if unit == "Y" else 0  # years on multiples of the step: 2000, not 3970
    for step in _STEPS[unit]:
        start = first - (first + offset) % step
        ticks = np.arange(start, last + 1, step, dtype=np.int64).astype(f"datetime64[{unit}]")
        where = ticks.astype("datetime64[s]").astype(np.int64) / 86400
        keep = (where >= left) & (where <= right)
        if keep.sum() <= most:
            break
    labels = np.datetime_as_string(ticks[keep], unit=_LABEL_UNIT[unit])
    return where[keep].tolist(), [str(t).replace("T", " ") for t in labels]


def _time_axis(ax: Any, left: float, right: float) -> None:
    """Set the x axis to the times ``left`` … ``right`` (days since 1970) with our ticks."""
    ax.set_xlim(left, right)
    ticks, labels = _time_ticks(left, right)
    ax.set_xticks(ticks, labels)


#: Points drawn on the time chart at most; more days than this are summed into buckets.
MAX_TIME_POINTS = 1_000


def _bucketed(points: list[tuple[float, int, int]], most: int
              ) -> tuple[list[tuple[float, int, int]], int]:
    """``points`` (day, events, findings), sorted, summed into buckets of whole days when
    there are more than ``most``: the chart's size and drawing time stay bounded however
    many distinct days the events fall on. Returns the points and the bucket width in days."""
    if len(points) <= most:
        return points, 1
    days = np.array([p[0] for p in points])
    width = max(1, int(np.ceil((days[-1] - days[0] + 1) / most)))
    bucket = ((days - days[0]) // width).astype(np.int64)
    n = int(bucket[-1]) + 1
    events = np.bincount(bucket, weights=[p[1] for p in points], minlength=n)
    findings = np.bincount(bucket, weights=[p[2] for p in points], minlength=n)
    used = np.flatnonzero(np.bincount(bucket, minlength=n))
    return [(float(days[0] + b * width), int(events[b]), int(findings[b])) for b in used], width


def over_time(series: Sequence[Mapping[str, Any]]) -> str | None:
    """Events and findings per time bucket (``[{"time", "events", "findings"}]``), for any
    year the scan accepts (see :func:`_days`)."""
    points = []
    for item in series:
        when = _days(item.get("time") or item.get("bucket"))
        if when is not None:
            points.append((when, int(item.get("events") or 0), int(item.get("findings") or 0)))
    if len(points) < 2:
        return None
    points.sort()
    points, width = _bucketed(points, MAX_TIME_POINTS)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], color="#64748b", linewidth=1.4, label="events",
                marker="o" if len(points) <= 60 else None, markersize=2.5)
        ax.fill_between(xs, [p[2] for p in points], color="#dc2626", alpha=0.35,
                        label="findings")
        pad = (xs[-1] - xs[0]) * 0.03 or 0.5
        _time_axis(ax, xs[0] - pad, xs[-1] + pad)
        if width > 1:
            ax.set_title(f"summed per {width:,} days", fontsize=8, loc="left")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.6)
        ax.set_axisbelow(True)
        return _to_svg(fig, "Events and findings over time", "time")


#: Consent lanes: a period in which the setting let events be sent, or did not.
ALLOWED_COLOR = "#16a34a"
BLOCKED_COLOR = "#dc2626"
UNKNOWN_COLOR = "#cbd5e1"
#: A stretch of a lane whose changes the report left out (see the consent check's bound).
OMITTED_COLOR = "#f1f5f9"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _bool(value: object) -> bool | None:
    """A setting's value as a boolean (``True``, ``"true"``, ``1`` …); None when it is not one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def allowed_flags(changes: Sequence[Mapping[str, Any]]) -> list[bool | None]:
    """For each change of one subject's setting: whether its value allowed sending.

    A change says so itself (``allowed``, computed by the consent check from the gate).
    Without it, a change with violations blocked sending, so its value is the blocking
    one and the other value allows; a subject is in the timeline only because some of
    its events were violations. None where neither tells.
    """
    blocking = {_bool(c.get("value")) for c in changes if int(c.get("violations") or 0) > 0}
    blocking.discard(None)
    out: list[bool | None] = []
    for change in changes:
        given = change.get("allowed")
        if isinstance(given, bool):
            out.append(given)
            continue
        value = _bool(change.get("value"))
        out.append(None if value is None or len(blocking) != 1 else value not in blocking)
    return out


#: The share of the consent chart's width one character of a period's label takes.
_LABEL_SHARE = 0.0125


def _lane_color(allowed: bool | None) -> str:
    return UNKNOWN_COLOR if allowed is None else ALLOWED_COLOR if allowed else BLOCKED_COLOR


def _violations(entry: Mapping[str, Any]) -> int:
    """An entry's violations: its own total when it gives one, else its changes' sum."""
    total = entry.get("violations")
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    return sum(int(c.get("violations") or 0) for c in entry.get("changes") or ()
               if isinstance(c, Mapping))


class _Period:
    """One change of a lane: from ``since`` (days since 1970; None for the default) until
    the next change, or until ``until`` when the changes after it were left out."""

    __slots__ = ("allowed", "events", "since", "until")

    def __init__(self, since: float | None, until: float | None, allowed: bool | None,
                 events: int) -> None:
        self.since, self.until, self.allowed, self.events = since, until, allowed, events


def _periods(entry: Mapping[str, Any]) -> list[_Period]:
    raw = [c for c in entry.get("changes") or () if isinstance(c, Mapping)]
    periods = []
    for change, allowed in zip(raw, allowed_flags(raw), strict=True):
        since = change.get("since")
        when = _days(since)
        if since is None or when is not None:  # None: the default, before any record
            periods.append(_Period(when, _days(change.get("until")), allowed,
                                   int(change.get("events") or 0)))
    periods.sort(key=lambda p: (p.since is not None, p.since or 0.0))
    return periods


def consent_timeline(entries: Sequence[Mapping[str, Any]], *, limit: int = 30) -> str | None:
    """One lane per (scope, subject, setting) of every scope (org, pool, user): green
    while the setting allowed sending, red while it blocked it (each event then is a
    violation), hatched while the default held (before the subject's first ledger
    record, or with none at all), with the count of events seen in each period.

    The ``limit`` entries with the most violations get a lane. Drawing is linear in the
    changes drawn: each lane is one ``broken_barh`` per style holding all its spans, and
    only periods wide enough for their label get one (at most a dozen a lane)."""
    usable = [e for e in entries if isinstance(e, Mapping)]
    ranked = sorted(range(len(usable)), key=lambda i: -_violations(usable[i]))
    lanes = []
    for i in sorted(ranked[:limit]):  # the worst subjects, in the report's order
        periods = _periods(usable[i])
        if periods:
            scope, subject = usable[i].get("scope", "?"), usable[i].get("subject", "?")
            name = f"{_label(f'{scope}: {subject}')}\n{_label(usable[i].get('setting', ''))}"
            lanes.append((name, periods))
    if not lanes:
        return None
    dated = [x for _, periods in lanes for p in periods for x in (p.since, p.until)
             if x is not None]
    hidden = len(usable) - min(len(usable), limit)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(lanes) + 1.0))
        if dated:
            start, end = min(dated), max(dated)
            pad = end - start if end > start else 1.0
            left, right = start - pad * 0.12, end + pad * 0.12
        else:  # defaults only: no date to put on the axis
            left, right = 0.0, 1.0
        omitted = unknown = False
        for y, (_, periods) in enumerate(lanes):
            spans: dict[tuple[str, str | None], list[tuple[float, float]]] = {}
            for i, period in enumerate(periods):
                x0 = left if period.since is None else period.since
                nxt = periods[i + 1].since if i + 1 < len(periods) else None
                x1 = right if nxt is None else nxt
                if period.until is not None and period.until < x1:
                    # changes left out after this one: their stretch is drawn as such
                    spans.setdefault((OMITTED_COLOR, "..."), []).append(
                        (period.until, x1 - period.until))
                    x1, omitted = period.until, True
                unknown = unknown or period.allowed is None
                color = _lane_color(period.allowed)
                style = (color, "///" if period.since is None else None)
                spans.setdefault(style, []).append((x0, x1 - x0))
                label = f"{period.events:,} event{'' if period.events == 1 else 's'}"
                if period.events and (x1 - x0) >= (right - left) * _LABEL_SHARE * (
                        len(label) + 2):  # only where it fits: labels never overlap
                    ax.text(x0 + (x1 - x0) / 2, y, label,
                            ha="center", va="center", fontsize=7, fontweight="bold",
                            color="#0f172a" if period.allowed is None else "white",
                            bbox={"boxstyle": "round,pad=0.25", "facecolor": color,
                                  "edgecolor": "none"})
            for (color, hatch), bars in spans.items():
                ax.broken_barh(bars, (y - 0.3, 0.6), facecolors=color, edgecolor="white",
                               linewidth=0.8, hatch=hatch)
        ax.set_yticks(range(len(lanes)), [lane[0] for lane in lanes])
        if dated:
            _time_axis(ax, left, right)
        else:
            ax.set_xlim(left, right)
            ax.set_xticks([])
            ax.set_xlabel("no ledger record: the default held throughout")
        ax.invert_yaxis()
        legend = [Patch(facecolor=ALLOWED_COLOR, label="sending allowed"),
                  Patch(facecolor=BLOCKED_COLOR,
                        label="sending blocked: events here are violations"),
                  Patch(facecolor="white", edgecolor="#475569", hatch="///",
                        label="default (no ledger record yet)")]
        if unknown:
            legend.append(Patch(facecolor=UNKNOWN_COLOR, label="not known whether allowed"))
        if omitted:
            legend.append(Patch(facecolor=OMITTED_COLOR, edgecolor="#475569", hatch="...",
                                label="changes left out of the report"))
        ax.legend(handles=legend, frameon=False, fontsize=8, ncols=min(len(legend), 3),
                  loc="lower left", bbox_to_anchor=(0.0, 1.0), handlelength=1.4,
                  columnspacing=1.2)
        if hidden > 0:
            shown = f"the {limit} subjects with the most violations; {hidden:,} more not drawn"
            ax.set_xlabel(shown if dated else f"{ax.get_xlabel()}\n{shown}")
        return _to_svg(fig, "Consent and policy timeline", "consent")


def k_histogram(bins: Sequence[Mapping[str, Any]], k: int) -> str | None:
    """Bars: census classes per k (distinct devices sharing a class's quasi-identifier
    values), the bins below ``k`` in the high severity's colour. ``bins`` as the
    k-anonymity check reports them (``k_min``, ``k_max``, ``classes``, ``below_k``)."""
    shown = [b for b in bins if isinstance(b.get("classes"), int)]
    if not any(b["classes"] for b in shown):
        return None
    labels = [_label(b["k_min"] if b["k_min"] == b["k_max"] else f"{b['k_min']}–{b['k_max']}")
              for b in shown]
    colors = [SEVERITY_COLORS["high"] if b.get("below_k") else "#94a3b8" for b in shown]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        ax.bar(range(len(shown)), [b["classes"] for b in shown], color=colors, width=0.7)
        ax.set_xticks(range(len(shown)), labels)
        ax.set_xlabel(f"k: devices sharing a class (below {k} in red)")
        ax.set_ylabel("classes")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.6)
        ax.set_axisbelow(True)
        return _to_svg(fig, "Census classes per k", "khist")
