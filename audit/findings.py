"""Hits → findings: message, masked evidence and fingerprint, built in one place.

Checks return raw hits; only here does a value become evidence (masked unless the
user asked otherwise) and a keyed fingerprint, straight into Arrow columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.context import ScanContext
from audit.finding_store import batch_of, to_batch
from audit.fingerprint import fingerprint, mask
from audit.model import BaselineStatus, Finding
from audit.normalize import Chunk
from audit.rulepack import DUPLICATE_KEY_RULE, MALFORMED_RULE, Rule


class _SafeFormat(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def finding_batch(rule: Rule, result: pd.DataFrame, sources: str | np.ndarray,
                  lines: np.ndarray, ctx: ScanContext) -> pa.RecordBatch:
    """Hits → findings, straight into Arrow columns: message, masked evidence and
    fingerprint, in one place. ``sources`` is the input of every hit, or one per hit."""
    n = len(result)
    fields = result["field"].tolist()
    detectors = result["detector"].tolist()
    explanations = result["explanation"].tolist()
    messages: list[str] = []
    evidence: list[str | None] = []
    prints: list[str] = []
    # Findings of one rule repeat their texts: build each message once and share the
    # strings. A value repeats too (a shared device id, a user's address): mask and
    # digest it once.
    texts: dict[tuple[Any, ...], str] = {}
    digests: dict[tuple[Any, str | None], tuple[str | None, str]] = {}
    for field_name, value, detector, explanation in zip(
            fields, result["value"], detectors, explanations, strict=True):
        text = _as_text(value)
        digested = digests.get((field_name, text))
        if digested is None:
            digested = digests[(field_name, text)] = (
                text if ctx.show_evidence else mask(text, ctx.key),
                fingerprint(ctx.key, rule.id, field_name, text))
        message = texts.get((field_name, detector, explanation))
        if message is None:
            message = texts[(field_name, detector, explanation)] = rule.message.format_map(
                _SafeFormat(
                    field=field_name or "-",
                    explanation=explanation or "",
                    detector=detector or "",
                    rule=rule.id,
                    category=rule.category,
                )
            )
        messages.append(message)
        evidence.append(digested[0])
        prints.append(digested[1])
    return batch_of({
        "rule": [rule.id] * n,
        "category": [rule.category] * n,
        "severity": [rule.severity.value] * n,
        "source": [sources] * n if isinstance(sources, str) else [str(s) for s in sources],
        "line": np.asarray(lines, dtype=np.int64),
        "location": [None] * n,  # set once the scan's findings are in (audit.locations)
        "field": fields,
        "message": messages,
        "evidence": evidence,
        "fingerprint": prints,
        "detector": detectors,
        "explanation": explanations,
        "baseline": [BaselineStatus.ACTIVE.value] * n,
    })


def _as_text(value: Any) -> str | None:
    """The canonical text of a value, the same whatever format or dtype carried it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, list | dict):
        value = value.item()  # numpy scalar → Python
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3 in JSON is 3.0 in a float column
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def malformed_batch(chunk: Chunk, ctx: ScanContext) -> pa.RecordBatch:
    """The chunk's rejected records as findings (an empty batch when there are none)."""
    return to_batch(list(_malformed_findings(chunk, ctx)))


def _malformed_findings(chunk: Chunk, ctx: ScanContext) -> Iterator[Finding]:
    """A finding per rejected record, identified by what is wrong and the keyed digest of
    the record's content: never by its path or line, which move when unrelated lines are
    added or removed (a baseline entry or a diff would stop matching it)."""
    rule = MALFORMED_RULE
    for source, line, what, digest in chunk.rejected:
        yield Finding(
            rule=rule.id,
            category=rule.category,
            severity=rule.severity,
            source=chunk.sources[source],
            line=line,
            field=None,
            message=rule.message.format(explanation=what),
            evidence=None,
            fingerprint=fingerprint(ctx.key, rule.id, None, f"{digest} {what}"),
            detector="reader",
            explanation=what,
        )


def duplicate_key_batch(chunk: Chunk, ctx: ScanContext) -> pa.RecordBatch:
    """A finding per audited record and key it repeats, from the readers' note: the
    evidence and fingerprint come from every value given, in document order."""
    assert chunk.repeats is not None
    keys = chunk.repeats.keys
    result = pd.DataFrame({
        "field": keys["field"].to_numpy(dtype=object),
        "value": keys["values"].to_numpy(dtype=object),
        "detector": "reader",
        "explanation": [f"{count:,} values, each audited" for count in keys["count"]],
    }, index=keys.index)
    return finding_batch(DUPLICATE_KEY_RULE, result, chunk.sources_of(keys.index),
                         chunk.lines[keys.index].to_numpy(), ctx)
