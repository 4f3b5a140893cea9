"""The verdict: what a scan can vouch for, and why it cannot vouch for more.

A gate that passes on nothing is worse than none. So a scan PASSes only when
records were audited, no more of the input went unaudited than ``--max-rejected``
allows, and every rule that applied to the audited events could decide. Otherwise
it is INCOMPLETE, with one :class:`~audit.model.Gap` per reason. Findings at or
above ``--fail-on`` make it FAIL whatever else is missing: a violation found is
a violation, however much else went unaudited. Rules the user excluded and rules
with nothing to test (not applicable) never make a scan incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from audit.model import Gap, RuleOutcome, Status, Verdict
from audit.options import RejectLimit

#: File names listed in a gap's message; the count stays exact.
MAX_NAMED_FILES = 5


def gaps_of(outcomes: Iterable[RuleOutcome], *, read: int, rejected: int,
            skipped: Sequence[str], limit: RejectLimit, accepted: int = 0,
            reasons: Sequence[tuple[str, int]] = ()) -> tuple[Gap, ...]:
    """Every reason the audit does not cover its whole input, in a fixed order.

    ``accepted`` rejected records have their ``input/malformed-record`` finding
    accepted by the baseline (a reason, an owner, an expiry): they are known and
    triaged, so they do not count against ``limit``. ``reasons`` are the commonest
    reasons records were rejected, with their counts: the first is quoted, because it
    usually names the fix (a field mapping, an encoding).
    """
    gaps: list[Gap] = []
    audited = read - rejected
    if audited <= 0:
        what = ("the inputs hold no records" if not read else
                "the one record read was rejected" if read == 1 else
                f"all {read:,} records read were rejected")
        gaps.append(Gap(code="no-records", message=f"no record was audited: {what}"))
    counted = rejected - accepted
    unaudited, units = counted + len(skipped), read + len(skipped)
    if unaudited and not limit.allows(unaudited, units):
        parts = []
        if counted:
            also = f" ({accepted:,} more accepted by the baseline)" if accepted else ""
            parts.append(f"{counted:,} of {read:,} records rejected{also}")
        if skipped:
            names = ", ".join(skipped[:MAX_NAMED_FILES])
            more = f" and {len(skipped) - MAX_NAMED_FILES} more" \
                if len(skipped) > MAX_NAMED_FILES else ""
            parts.append(f"{len(skipped)} file{'s' if len(skipped) != 1 else ''} in the "
                         f"input folders not read (unknown format: {names}{more})")
        message = f"{' and '.join(parts)}, more than --max-rejected {limit} allows"
        if counted and reasons:
            reason, n = reasons[0]
            which = "the record" if counted == 1 else "all of them" if n == counted \
                else f"{n:,} of them"
            message += f"; {which}: {reason}"
        gaps.append(Gap(code="rejected", message=message))
    by_reason: dict[str, list[RuleOutcome]] = {}
    for outcome in outcomes:
        if outcome.status is Status.NOT_TESTED:
            by_reason.setdefault(outcome.reason or "no reason given", []).append(outcome)
    for reason, group in by_reason.items():
        ids = tuple(o.rule for o in group)
        gaps.append(Gap(code="not-tested", rules=ids, message=(
            f"{len(ids)} applicable rule{'s' if len(ids) != 1 else ''} not tested "
            f"({', '.join(ids)}): {reason}")))
    return tuple(gaps)


def verdict_of(failing: bool, gaps: Sequence[Gap]) -> Verdict:
    """FAIL outranks INCOMPLETE, which outranks PASS."""
    if failing:
        return Verdict.FAIL
    return Verdict.INCOMPLETE if gaps else Verdict.PASS

