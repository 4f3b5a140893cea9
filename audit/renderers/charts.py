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
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes", "on"}


def consent_timeline(entries: Sequence[Mapping[str, Any]], *, limit: int = 30) -> str | None:
    """One lane per (scope, subject, setting): green while the setting is true,
    grey while false, with a tick for every event seen in each period."""
    lanes = []
    for entry in entries[:limit]:
        changes = []
        for change in entry.get("changes") or ():
            since = _parse_time(change.get("since"))
            if since is not None:
                changes.append((since, change.get("value"), int(change.get("events") or 0)))
        if changes:
            changes.sort(key=lambda c: c[0])
            scope, subject = entry.get("scope", "?"), entry.get("subject", "?")
            name = f"{scope}:{subject} {entry.get('setting', '')}"
            lanes.append((_label(name), changes))
    if not lanes:
        return None
    start = min(c[0][0] for _, c in lanes)
    end = max(c[-1][0] for _, c in lanes)
    span = (end - start) if end > start else None
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(lanes) + 1.0))
        pad = mdates.date2num(end) - mdates.date2num(start) if span else 1.0
        right = mdates.date2num(end) + pad * 0.08
        for y, (_, changes) in enumerate(lanes):
            for i, (since, value, events) in enumerate(changes):
                x0 = mdates.date2num(since)
                x1 = mdates.date2num(changes[i + 1][0]) if i + 1 < len(changes) else right
                on = _truthy(value)
                ax.broken_barh([(x0, x1 - x0)], (y - 0.3, 0.6),
                               facecolors="#16a34a" if on else "#cbd5e1")
                if events:
                    ax.text(x0 + (x1 - x0) / 2, y, f"{events} ev", ha="center", va="center",
                            fontsize=7, color="white" if on else "#334155")
        ax.set_yticks(range(len(lanes)), [lane[0] for lane in lanes])
        ax.set_xlim(mdates.date2num(start) - pad * 0.02, right)
        ax.xaxis_date()
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.invert_yaxis()
        ax.set_title("green: setting true · grey: false/default", fontsize=8, loc="left")
        return _to_svg(fig, "Consent and policy timeline", "consent")
