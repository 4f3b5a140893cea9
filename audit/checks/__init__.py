"""Check kinds: the code behind the ``kind`` of a rule.

A check kind is a function ``(rule, events, ctx) -> hits``. ``events`` is the
pandas DataFrame of one chunk of one category, already narrowed to the rows the
rule's ``when``/``unless`` select, with flattened dotted column names. ``hits``
is a DataFrame built with :func:`hits`: its index holds the labels of the
offending rows of ``events`` (a label may repeat, one row per field), and its
columns are ``field``, ``value`` (the raw offending value, or None),
``detector`` and ``explanation``. The engine turns hits into findings: it adds
rule, severity, source and line, masks the value into evidence and computes the
fingerprint, so a check never formats raw values into messages.

A check that cannot decide on this run raises :class:`audit.errors.NotTested`.

Cross-record kinds (``aggregate=True``) work in two steps so that the scan stays
streamed: ``collect(rule, events, meta, ctx)`` returns ``(hits, partial)`` per
chunk: the hits a record shows on its own, findings at once, and a small partial
of what needs the whole dump (``meta`` has ``source`` and ``line`` for each row): a
DataFrame, or any picklable state the kind's ``compact`` and ``finish`` understand
(parts of a scan run in other processes or on Dask workers and are merged).
``finish(rule, partials, ctx)`` turns the list of partials into hits whose columns
also carry ``source`` and ``line``, or into ``(hits, summary)``: a JSON-ready mapping
whose list values are appended to the report's extras (the k histogram); or raises
:class:`audit.errors.NotApplicable` when there was nothing to judge. Keeping per-record
hits out of the partials keeps the state as small as its distinct keys, however many
records are bad; a kind that must report records it can only judge at the end (the
records of a shared device id) keeps their lines in a compact form.

A cross-record kind that judges its category's records by what other categories carry
(a census pseudonym beside a cleartext identity in error data) passes ``gather`` and
``gathers_from(rule) -> categories``: ``gather(rule, category, events, meta, ctx)``
returns a partial from each chunk's events of those categories (all of them: the rule's
own selectors are about its own category), merged and finished with the rest.

A kind that reports more than findings (the consent timeline) passes
``summarize``: its function then returns ``(hits, stats)`` per chunk, and at the
end ``summarize(rule, stats_frames, ctx)`` returns a JSON-ready mapping whose
list values are appended to the report's extras under the same keys.

Per-chunk partials or stats pile up over a long scan; a kind gives
``compact(frames) -> frames`` to fold them (drop repeated pairs, sum counts),
and the engine calls it whenever more than a few have gathered, so the state
stays as small as its distinct keys.

Rules of one category often need the same thing of the same rows: a selector's mask,
a column's distinct values and their prefilter hits, parsed event times. A kind gets
those through :func:`audit.context.shared`, keyed by the frame it was given: the engine
keeps one cache per chunk (rules with equal ``when``/``unless`` get the same frame), so
the work is done once per chunk whatever the number of rules; called on its own, a
kind simply computes them.

A kind that compares two stages of one scan (a stored dump with the transit capture
of ``--stored``) gives ``needs_stages(rule)``: without all of them the rule is *not
applicable*. Its ``collect`` reads ``ctx.stage``, the stage of the input at hand.

What a rule applies to beyond its own ``when``/``unless`` (a consent gate's events) and
the fields it cannot decide without (the UserID a hash check reads) are its
:class:`Scope`, given by ``scope(rule, category)``. The engine counts the rows in scope
even for a rule it cannot run, so that a rule with nothing to test is *not applicable*
and one that could not decide is *not tested*, never silently *passed*.

What only code can check about a rule's parameters (a consent gate that must
exist in the same file) goes in ``validate(params, gates, fields)``, called when
the rule file is loaded: it returns what is wrong, or None.

Register a kind with :func:`check_kind`; the module must then be imported at
the bottom of this file so that the registry is filled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from audit.model import Stage
    from audit.rulepack import Category, Rule

HIT_COLUMNS = ("field", "value", "detector", "explanation")


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows a rule applies to besides its own selectors, and the fields it needs:
    a rule none of whose rows ever carries one of ``fields`` did not test anything."""

    when: Mapping[str, tuple[Any, ...]] | None = None
    unless: Mapping[str, tuple[Any, ...]] | None = None
    fields: tuple[str, ...] = ()

CheckFunc = Callable[..., "pd.DataFrame"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckKind:
    """A registered kind: its function, what it needs, and its parameter schema."""

    name: str
    func: CheckFunc
    needs: frozenset[str] = frozenset()
    params_schema: Mapping[str, Any] = field(default_factory=dict)
    aggregate: bool = False
    finish: CheckFunc | None = None
    summarize: Callable[..., Mapping[str, Any]] | None = None
    validate: Callable[..., str | None] | None = None
    compact: Callable[[list[Any]], list[Any]] | None = None
    scope: Callable[[Rule, Category], Scope] | None = None
    gather: Callable[..., Any] | None = None
    gathers_from: Callable[[Rule], tuple[str, ...]] | None = None
    #: the stages a rule must see all of in one scan (a transit and a stored dump)
    needs_stages: Callable[[Rule], frozenset[Stage]] | None = None
    doc: str = ""

    def scope_of(self, rule: Rule, category: Category) -> Scope:
        """The kind's :class:`Scope` for a rule (everything, nothing needed, by default)."""
        return Scope() if self.scope is None else self.scope(rule, category)


CHECK_KINDS: dict[str, CheckKind] = {}

#: What a kind may need, and the reason given when it is missing.
NEEDS_REASONS = {
    "ledger": "no --ledger given: consent cannot be decided",
    "identities": "no --identities given: known identities cannot be searched",
}


def check_kind(
    name: str,
    *,
    needs: Iterable[str] = (),
    params_schema: Mapping[str, Any] | None = None,
    finish: CheckFunc | None = None,
    summarize: Callable[..., Mapping[str, Any]] | None = None,
    validate: Callable[..., str | None] | None = None,
    compact: Callable[[list[Any]], list[Any]] | None = None,
    scope: Callable[[Rule, Category], Scope] | None = None,
    gather: Callable[..., Any] | None = None,
    gathers_from: Callable[[Rule], tuple[str, ...]] | None = None,
    needs_stages: Callable[[Rule], frozenset[Stage]] | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``func`` as the check kind ``name`` (aggregate when ``finish`` is given)."""

    def register(func: CheckFunc) -> CheckFunc:
        if name in CHECK_KINDS:
            raise ValueError(f"check kind {name!r} registered twice")
        if (gather is None) != (gathers_from is None) or (gather and finish is None):
            raise ValueError(f"check kind {name!r}: gather needs gathers_from and finish")
        unknown = set(needs) - set(NEEDS_REASONS)
        if unknown:
            raise ValueError(f"check kind {name!r} needs unknown inputs {sorted(unknown)}")
        CHECK_KINDS[name] = CheckKind(
            name=name,
            func=func,
            needs=frozenset(needs),
            params_schema=params_schema or {"type": "object", "additionalProperties": False},
            aggregate=finish is not None,
            finish=finish,
            summarize=summarize,
            validate=validate,
            compact=compact,
            scope=scope,
            gather=gather,
            gathers_from=gathers_from,
            needs_stages=needs_stages,
            doc=(func.__doc__ or "").strip(),
        )
        return func

    return register


def hits(
    index: Any,
    *,
    field: Any = None,
    value: Any = None,
    detector: Any = None,
    explanation: Any = None,
) -> pd.DataFrame:
    """Build a hits frame; each argument is a scalar or a sequence aligned with ``index``."""
    import pandas as pd

    frame = pd.DataFrame(
        {"field": field, "value": value, "detector": detector, "explanation": explanation},
        index=pd.Index(index),
        columns=list(HIT_COLUMNS),
        dtype=object,  # built as objects: no string-dtype inference to undo
    )
    return frame.where(frame.notna(), None)


def no_hits() -> pd.DataFrame:
    """An empty hits frame."""
    return hits([])


# Fill the registry: one import per module of kinds.
from audit.checks import consent  # noqa: E402,F401,I001
from audit.checks import schema  # noqa: E402,F401
from audit.checks import content  # noqa: E402,F401
from audit.checks import identifiers  # noqa: E402,F401
from audit.checks import anonymity  # noqa: E402,F401
from audit.checks import linkage  # noqa: E402,F401
from audit.checks import stages  # noqa: E402,F401
