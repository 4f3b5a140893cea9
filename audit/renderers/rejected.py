"""Rejected records in the reports people read: counted by file and reason, a few listed.

A dump of a million unusable records (a JSON array of nulls) is a million
``input/malformed-record`` findings, nearly all alike. report.json keeps every one;
SARIF and the HTML page list the first :data:`PER_REASON` of each file and reason, at
most :data:`MOST_LISTED` in all, and say how many more there are, so that their size
follows the number of distinct problems, not of records. :func:`summarize_rejected`
decides which in one pass over the findings as Arrow batches, in report order, so the
SARIF writer lists exactly those and the page shows the same ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.finding_store import BATCH_ROWS, FindingStore, from_batch, to_batch
from audit.lazy import lazy
from audit.rulepack import MALFORMED_RULE

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit.model import Finding
else:
    np = lazy("numpy")
    pa = lazy("pyarrow")
    pc = lazy("pyarrow.compute")

RULE = MALFORMED_RULE.id
#: Rejected records listed per input file and reason.
PER_REASON = 100
#: Rejected records listed in all.
MOST_LISTED = 1_000
#: (file, reason) pairs counted apart; records of any further pair are counted together
#: (reasons quote columns and byte offsets, so a broken file can have very many).
MOST_GROUPS = 1_000


@dataclass(slots=True)
class RejectedGroup:
    """The rejected records of one input file for one reason."""

    source: str
    reason: str
    count: int = 0
    listed: int = 0


@dataclass(slots=True)
class RejectedSummary:
    """Every rejected record counted, and which of them the summarising reports list."""

    total: int = 0
    #: (file, reason) pairs in the order first seen
    groups: list[RejectedGroup] = field(default_factory=list)
    #: records of pairs beyond :data:`MOST_GROUPS`, counted together (none listed)
    other: int = 0
    #: positions in the report's findings of the rejected records listed, ascending
    positions: Any = None
    #: the listed findings themselves, when asked for
    rows: list[Finding] = field(default_factory=list)
    per_reason: int = PER_REASON
    most: int = MOST_LISTED

    @property
    def listed(self) -> int:
        return 0 if self.positions is None else len(self.positions)

    @property
    def not_listed(self) -> int:
        return self.total - self.listed

    def largest(self, n: int) -> list[RejectedGroup]:
        """The ``n`` pairs with the most records (ties in the order first seen)."""
        return sorted(self.groups, key=lambda g: -g.count)[:n]


def finding_batches(findings: Sequence[Finding]) -> Iterator[pa.RecordBatch]:
    """The findings as Arrow batches of :func:`audit.finding_store.schema`, in report
    order: a store's own batches (read from disk once spilled), else built a slice at a
    time."""
    if isinstance(findings, FindingStore):
        yield from findings.batches()  # the store's own batches, not re-encoded
        return
    for start in range(0, len(findings), BATCH_ROWS):
        yield to_batch(list(findings[start:start + BATCH_ROWS]))


def summarize_rejected(findings: Sequence[Finding], *, per_reason: int = PER_REASON,
                       most: int = MOST_LISTED, rows: bool = False) -> RejectedSummary:
    """Count the rejected records by file and reason and choose the ones to list: the
    first ``per_reason`` of each pair in report order, at most ``most`` in all. With
    ``rows``, the listed findings are kept too (for the page)."""
    summary = RejectedSummary(per_reason=per_reason, most=most)
    groups: dict[str, RejectedGroup] = {}
    positions: list[Any] = []
    offset = 0
    for batch in finding_batches(findings):
        mine = np.flatnonzero(pc.equal(batch.column("rule"), RULE).to_numpy(
            zero_copy_only=False))
        if len(mine):
            chosen = _choose(batch, mine, groups, summary)
            positions.append(offset + chosen)
            if rows and len(chosen):
                summary.rows += from_batch(batch.take(pa.array(chosen)))
        offset += batch.num_rows
    summary.groups = list(groups.values())
    summary.positions = np.concatenate(positions) if positions else np.zeros(0, np.int64)
    return summary


def _choose(batch: pa.RecordBatch, mine: np.ndarray, groups: dict[str, RejectedGroup],
            summary: RejectedSummary) -> np.ndarray:
    """Count one batch's rejected records (rows ``mine``) into their groups; the rows to
    list, in order."""
    rows = pa.array(mine)
    source = batch.column("source").take(rows)
    reason = pc.fill_null(batch.column("explanation").take(rows), "")
    encoded = pc.binary_join_element_wise(source, reason, "\x00").dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    room = np.zeros(len(counts), dtype=np.int64)
    found: list[RejectedGroup | None] = []
    for code, key in enumerate(encoded.dictionary.to_pylist()):
        group = groups.get(key)
        if group is None and len(groups) < MOST_GROUPS:
            path, _, why = key.partition("\x00")
            group = groups[key] = RejectedGroup(path, why)
        found.append(group)
        if group is None:
            summary.other += int(counts[code])
            continue
        group.count += int(counts[code])
        room[code] = max(summary.per_reason - group.listed, 0)
    summary.total += len(mine)
    left = summary.most - sum(g.listed for g in groups.values())
    if left <= 0 or not room.any():
        return np.zeros(0, dtype=np.int64)
    # the rank of each row within its pair in this batch; listed while its pair has room
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    picked = np.flatnonzero(rank < room[codes])[:left]
    for code, n in enumerate(np.bincount(codes[picked], minlength=len(counts)).tolist()):
        group = found[code]
        if n and group is not None:
            group.listed += n
    return mine[picked]
