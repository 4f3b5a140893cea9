"""Where a record of a HAR capture is: its entry, and its line within that entry's body.

A HAR record's ``line`` is its 1-based index among all events of the capture (the
contract's record index, for a format without useful lines), which does not say which
request to open. The reader gives a span per entry that gave records
(:class:`~audit.readers.EntrySpan`); the engine counts each entry's rejected records
(:func:`entry_infos`, so ``records == audited + rejected`` holds per entry as per file)
and, once a scan's findings are all in, names each one's place from the spans
(:func:`with_locations`): ``entry 3, line 2`` is the second event of the third entry of
``log.entries`` (its line in a body of one event per line, blank lines not counted; its
element in an array).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.lazy import lazy
from audit.model import EntryInfo

if TYPE_CHECKING:  # the renderers use the wording here: nothing heavy is imported
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit.readers import EntrySpan
else:
    np = lazy("numpy")
    pa = lazy("pyarrow")
    pc = lazy("pyarrow.compute")


def location_text(entry: int, line: int) -> str:
    """A record's place in a capture, as every report writes it."""
    return f"entry {entry}, line {line}"


def where(source: str, line: object, location: object = None) -> str:
    """A finding's place in one line of text: ``capture.har:6 (entry 2, line 3)``."""
    return f"{source}:{line}" + (f" ({location})" if location else "")


#: Entries named at most when a report lists those with rejected records.
NAMED_ENTRIES = 10


def entries_summary(entries: Sequence[Mapping[str, Any]]) -> str:
    """What a capture's entries gave, in a sentence (``run.inputs[].entries``)."""
    text = f"{len(entries):,} request{'s' if len(entries) != 1 else ''} with records"
    rejected = [str(e.get("entry")) for e in entries if e.get("rejected")]
    if rejected:
        named = ", ".join(rejected[:NAMED_ENTRIES])
        more = f" and {len(rejected) - NAMED_ENTRIES:,} more" \
            if len(rejected) > NAMED_ENTRIES else ""
        text += f"; rejected records in entr{'ies' if len(rejected) > 1 else 'y'} {named}{more}"
    return text


def entry_infos(spans: Sequence[EntrySpan], rejected_lines: Sequence[int]
                ) -> tuple[EntryInfo, ...]:
    """Each span with its audited and rejected records, given the lines of the input's
    rejected records (those outside every span, a capture's unread rest, count in none)."""
    counts = _span_counts(spans, np.asarray(rejected_lines, dtype=np.int64))
    return tuple(EntryInfo(entry=s.entry, url=s.url, first=s.first, records=s.records,
                           audited=s.records - int(n), rejected=int(n))
                 for s, n in zip(spans, counts.tolist(), strict=True))


def _span_counts(spans: Sequence[EntrySpan], lines: np.ndarray) -> np.ndarray:
    firsts = np.fromiter((s.first for s in spans), dtype=np.int64, count=len(spans))
    stops = firsts + np.fromiter((s.records for s in spans), dtype=np.int64, count=len(spans))
    at = np.searchsorted(firsts, lines, side="right") - 1
    inside = (at >= 0) & (lines < stops[np.maximum(at, 0)]) if len(spans) else \
        np.zeros(len(lines), dtype=bool)
    return np.bincount(at[inside], minlength=len(spans))


@dataclass(frozen=True, slots=True)
class Locator:
    """The entries of one capture, ready to place any number of lines at once."""

    firsts: np.ndarray
    stops: np.ndarray
    entries: np.ndarray

    @classmethod
    def of(cls, entries: Sequence[EntryInfo]) -> Locator:
        firsts = np.fromiter((e.first for e in entries), dtype=np.int64, count=len(entries))
        counts = np.fromiter((e.records for e in entries), dtype=np.int64, count=len(entries))
        numbers = np.fromiter((e.entry for e in entries), dtype=np.int64, count=len(entries))
        return cls(firsts, firsts + counts, numbers)

    def locate(self, lines: np.ndarray) -> list[str]:
        """The place of each line: ``entry E, line K``, or, for a record outside every
        entry (the unread rest of a broken capture), after which entry it comes."""
        at = np.searchsorted(self.firsts, lines, side="right") - 1
        out: list[str] = []
        for line, k in zip(lines.tolist(), at.tolist(), strict=True):
            if k < 0:
                out.append("before the first entry")
            elif line < self.stops[k]:
                out.append(location_text(int(self.entries[k]), line - int(self.firsts[k]) + 1))
            else:
                out.append(f"after entry {int(self.entries[k])}")
        return out


def locators(inputs: Sequence[Any]) -> dict[str, Locator]:
    """A locator per input that has entries (:class:`~audit.model.InputInfo`), by path."""
    return {info.path: Locator.of(info.entries) for info in inputs
            if info.entries is not None}


def with_locations(batch: pa.RecordBatch, by_source: Mapping[str, Locator]
                   ) -> pa.RecordBatch:
    """A batch of findings with the ``location`` of each one whose input has entries."""
    if not batch.num_rows or not by_source:
        return batch
    sources = batch.column("source")
    wanted = [s for s in pc.unique(sources).to_pylist() if s in by_source]
    if not wanted:
        return batch
    places: list[str | None] = batch.column("location").to_pylist()
    lines = batch.column("line").to_numpy(zero_copy_only=False)
    for source in wanted:
        rows = np.flatnonzero(pc.equal(sources, source).to_numpy(zero_copy_only=False))
        for row, place in zip(rows.tolist(), by_source[source].locate(lines[rows]),
                              strict=True):
            places[row] = place
    at = batch.schema.get_field_index("location")
    return batch.set_column(at, "location", pa.array(places, type=pa.string()))
