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

matplotlib.use("Agg")

import matplotlib.dates as mdates
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


def over_time(series: Sequence[Mapping[str, Any]]) -> str | None:
    """Events and findings per time bucket (``[{"time", "events", "findings"}]``)."""
    points = []
    for item in series:
        when = _parse_time(item.get("time") or item.get("bucket"))
        if when is not None:
            points.append((when, int(item.get("events") or 0), int(item.get("findings") or 0)))
    if len(points) < 2:
        return None
    points.sort()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], color="#64748b", linewidth=1.4, label="events")
        ax.fill_between(xs, [p[2] for p in points], color="#dc2626", alpha=0.35,
                        label="findings")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.6)
        ax.set_axisbelow(True)
        return _to_svg(fig, "Events and findings over time", "time")


#: Consent lanes: a period in which the setting let events be sent, or did not.
ALLOWED_COLOR = "#16a34a"
BLOCKED_COLOR = "#dc2626"
UNKNOWN_COLOR = "#cbd5e1"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
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


def _lane_color(allowed: bool | None) -> str:
    return UNKNOWN_COLOR if allowed is None else ALLOWED_COLOR if allowed else BLOCKED_COLOR


def consent_timeline(entries: Sequence[Mapping[str, Any]], *, limit: int = 30) -> str | None:
    """One lane per (scope, subject, setting) of every scope (org, pool, user): green
    while the setting allowed sending, red while it blocked it (each event then is a
    violation), hatched while the default held (before the subject's first ledger
    record, or with none at all), with the count of events seen in each period."""
    lanes = []
    for entry in entries[:limit]:
        raw = [c for c in entry.get("changes") or () if isinstance(c, Mapping)]
        changes = []
        for change, allowed in zip(raw, allowed_flags(raw), strict=True):
            since = change.get("since")
            when = _parse_time(since)
            if since is None or when is not None:  # None: the default, before any record
                changes.append((when, allowed, int(change.get("events") or 0)))
        if changes:
            changes.sort(key=lambda c: (c[0] is not None, c[0] or _EPOCH))
            scope, subject = entry.get("scope", "?"), entry.get("subject", "?")
            name = f"{_label(f'{scope}: {subject}')}\n{_label(entry.get('setting', ''))}"
            lanes.append((name, changes))
    if not lanes:
        return None
    dated = [c[0] for _, changes in lanes for c in changes if c[0] is not None]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(lanes) + 1.0))
        if dated:
            start, end = mdates.date2num(min(dated)), mdates.date2num(max(dated))
            pad = end - start if end > start else 1.0
            left, right = start - pad * 0.12, end + pad * 0.12
        else:  # defaults only: no date to put on the axis
            left, right = 0.0, 1.0
        for y, (_, changes) in enumerate(lanes):
            for i, (since, allowed, events) in enumerate(changes):
                x0 = left if since is None else mdates.date2num(since)
                nxt = changes[i + 1][0] if i + 1 < len(changes) else None
                x1 = right if nxt is None else mdates.date2num(nxt)
                ax.broken_barh([(x0, x1 - x0)], (y - 0.3, 0.6), facecolors=_lane_color(allowed),
                               edgecolor="white", linewidth=0.8,
                               hatch="///" if since is None else None)
                if events:
                    color = _lane_color(allowed)
                    ax.text(x0 + (x1 - x0) / 2, y, f"{events:,} event{'' if events == 1 else 's'}",
                            ha="center", va="center", fontsize=7, fontweight="bold",
                            color="#0f172a" if allowed is None else "white",
                            bbox={"boxstyle": "round,pad=0.25", "facecolor": color,
                                  "edgecolor": "none"})
        ax.set_yticks(range(len(lanes)), [lane[0] for lane in lanes])
        ax.set_xlim(left, right)
        if dated:
            ax.xaxis_date()
            ax.xaxis.set_major_formatter(
                mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        else:
            ax.set_xticks([])
            ax.set_xlabel("no ledger record: the default held throughout")
        ax.invert_yaxis()
        legend = [Patch(facecolor=ALLOWED_COLOR, label="sending allowed"),
                  Patch(facecolor=BLOCKED_COLOR,
                        label="sending blocked: events here are violations"),
                  Patch(facecolor="white", edgecolor="#475569", hatch="///",
                        label="default (no ledger record yet)")]
        if any(c[1] is None for _, changes in lanes for c in changes):
            legend.append(Patch(facecolor=UNKNOWN_COLOR, label="not known whether allowed"))
        ax.legend(handles=legend, frameon=False, fontsize=8, ncols=len(legend),
                  loc="lower left", bbox_to_anchor=(0.0, 1.0), handlelength=1.4,
                  columnspacing=1.2)
        return _to_svg(fig, "Consent and policy timeline", "consent")
