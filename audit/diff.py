"""Compare two ``report.json`` documents: what is new, what was fixed.

Reviewers of a client release want the change, not the whole list again.
Findings are matched on (rule, fingerprint) as a multiset, so two records with
the same value count twice and moving records to other lines changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from audit.locations import where

#: Rows listed per section of the text rendering; counts stay exact.
MAX_ROWS = 50
_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}

Key = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffResult:
    """Findings only in the new report, only in the old one, and in both."""

    new: tuple[Mapping[str, Any], ...]
    fixed: tuple[Mapping[str, Any], ...]
    unchanged: tuple[Mapping[str, Any], ...]

    @property
    def changed(self) -> bool:
        return bool(self.new or self.fixed)


def _key(finding: Mapping[str, Any]) -> Key:
    return (str(finding.get("rule", "")), str(finding.get("fingerprint", "")))


def _findings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = report.get("findings") or []
    return [f for f in items if isinstance(f, Mapping)]


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> DiffResult:
    """Match findings by (rule, fingerprint) multiset; order follows each report."""
    remaining: Counter[Key] = Counter(_key(f) for f in _findings(old))
    added, same = [], []
    for finding in _findings(new):
        key = _key(finding)
        if remaining[key] > 0:
            remaining[key] -= 1
            same.append(finding)
        else:
            added.append(finding)
    # What is left of the old report was fixed; take the last occurrences so the
    # earliest ones are the ones considered matched.
    by_key: dict[Key, list[Mapping[str, Any]]] = defaultdict(list)
    for finding in _findings(old):
        by_key[_key(finding)].append(finding)
    fixed_ids = {id(f) for key, n in remaining.items() if n > 0 for f in by_key[key][-n:]}
    fixed = [f for f in _findings(old) if id(f) in fixed_ids]
    return DiffResult(new=tuple(added), fixed=tuple(fixed), unchanged=tuple(same))


def _rows(findings: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    ordered = sorted(findings, key=lambda f: (-_SEVERITY_RANK.get(str(f.get("severity")), -1),
                                              str(f.get("rule")), str(f.get("source")),
                                              int(f.get("line") or 0)))
    return [[str(f.get("severity", "")), str(f.get("rule", "")),
             where(str(f.get("source", "")), f.get("line", ""), f.get("location")),
             str(f.get("field") or ""),
             _one_line(f.get("evidence"))] for f in ordered[:MAX_ROWS]]


def _one_line(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def render_diff_text(result: DiffResult) -> str:
    """A terminal summary: counts, then the new and fixed findings as tables."""
    headers = ["severity", "rule", "location", "field", "evidence"]
    lines = [tabulate([["new", len(result.new)], ["fixed", len(result.fixed)],
                       ["unchanged", len(result.unchanged)]],
                      headers=["findings", "count"], tablefmt="simple")]
    for title, items in (("New findings", result.new), ("Fixed findings", result.fixed)):
        if not items:
            continue
        lines += ["", f"{title} ({len(items)})",
                  tabulate(_rows(items), headers=headers, tablefmt="simple",
                           disable_numparse=True)]
        if len(items) > MAX_ROWS:
            lines.append(f"... {len(items) - MAX_ROWS} more not listed")
    return "\n".join(lines) + "\n"
