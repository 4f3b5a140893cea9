"""Identifier check kinds: hashed user ids and randomly generated device ids.

``hashed-identifier`` (``params: {field: UserID}``) flags a user id that is not
a one-way, unlinkable hash: ``amos.marble@contoso.com`` ("an e-mail address,
not a hash"), ``amosmarble`` ("plain text …"), and, when a directory list is
given, a value that *is* digest-shaped but linkable: the unsalted
``sha256(lower(email))`` of a known identity, a GUID-shaped or double digest of
one, or a known directory ``object_id``. The same kind serves the stored-stage
rule for error data (``stages: [stored]``): at rest the service must have hashed
the cleartext UserID that the client was allowed to send.

``random-device-id`` (cross-record) flags a device id that is not a randomly
generated GUID: per record (nil, version 1 with a MAC and a time, a MAC or a
serial number, another GUID version) and across records: one value shared by
more distinct user ids than ``max_users_per_device`` (a family tablet shared by
two people is normal; a hard-coded id in a build is not). A shared id gives one
hit per record that carries it, at the record's own line.

Both decide once per distinct value, never once per record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any

from audit.checks import Scope, check_kind, hits, no_hits
from audit.detectors import is_hashed_id
from audit.detectors.identifiers import hashed_id_verdicts, random_guid_problems, random_guids
from audit.detectors.prefixed_ids import ID_PREFIX, prefix_problem
from audit.detectors.scan import give_up_memo, memo_given_up
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import Category, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

HASHED_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["field"],
    "properties": {
        "field": {"type": "string", "minLength": 1, "description": "The user id field."},
    },
}

DEVICE_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["field"],
    "properties": {
        "field": {"type": "string", "minLength": 1, "description": "The device id field."},
        "user_field": {
            "type": "string",
            "minLength": 1,
            "description": "The user id field, for the shared-device check (default UserID).",
        },
        "max_users_per_device": {
            "type": "integer",
            "minimum": 1,
            "description": "More distinct users than this on one device id is a finding.",
        },
    },
}

_NOT_HASHED = {
    "an e-mail address": "an e-mail address, not a hash",
    "a SIP/tel URI": "a SIP URI, not a hash",
}
_KIND_NOUNS = {
    "email": "an e-mail address",
    "upn": "a user principal name",
    "sip": "a SIP URI",
    "username": "a user name",
    "display_name": "a person's name",
    "object_id": "a directory object id",
    "phone": "a phone number",
    "ip": "an IP address",
    "mac": "a MAC address",
    "device_serial": "a device serial number",
    "org_name": "an organisation name",
    "tenant_domain": "a tenant domain",
}
#: Values remembered per rule across chunks (telemetry ids repeat); bounded memory.
MEMO_LIMIT = 500_000
_UNSEEN = object()  # a memo lookup's default: the value was never examined

_DIGESTS = ("md5(", "sha1(", "sha256(", "sha512(")
_FOUND = re.compile(r": (?P<kind>[a-z_]+) found as \S+(?: \(identities line (?P<line>\d+)\))?")


def _text(values: pd.Series) -> pd.Series:
    present = values.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) == "string":
        return present
    return present.map(str)


def user_id_problem(value: str, identities: Any = None) -> tuple[str, str, str] | None:
    """(detector, explanation, offending text) when ``value`` is not an unlinkable hash.

    The explanation says why, without the value: "an e-mail address, not a hash",
    "unsalted sha256(lower(email)) of a known identity (an e-mail address): ...".
    """
    known = _known(value, identities) if identities is not None else None
    if known is not None:
        return _known_problem(known)
    return _hash_problem(value, is_hashed_id(value))


def _user_id_problems(values: list[str], identities: Any) -> list[tuple[str, str, str] | None]:
    """:func:`user_id_problem` of each value; the directory is searched value by value only
    for the candidates of one automaton pass over them all."""
    verdicts = hashed_id_verdicts(values)
    if identities is None or not values:
        return [_hash_problem(v, verdict) for v, verdict in zip(values, verdicts, strict=True)]
    candidates = identities.candidates(values).tolist()
    out = []
    for value, candidate, verdict in zip(values, candidates, verdicts, strict=True):
        known = _known(value, identities) if candidate else None
        out.append(_hash_problem(value, verdict) if known is None else _known_problem(known))
    return out


def _known_problem(known: tuple[str, str, str, str]) -> tuple[str, str, str]:
    kind, form, where, matched = known
    noun = _KIND_NOUNS.get(kind, "a known identity")
    if any(d in form for d in _DIGESTS):
        why = (
            f"unsalted {form} of a known identity ({noun}{where}): anyone holding the "
            "directory can compute it, so it is linkable"
        )
    elif kind == "object_id":
        why = f"a known directory object id (found as {form}{where}): linkable to the user"
    else:
        why = f"{noun} of the directory (found as {form}{where}), not a hash"
    return "known-identity", why, matched


def _hash_problem(value: str, verdict: tuple[bool, str]) -> tuple[str, str, str] | None:
    hashed, why = verdict
    if hashed:
        return None
    return "hashed-id", _NOT_HASHED.get(why, why), value


def _known(value: str, identities: Any) -> tuple[str, str, str, str] | None:
    """(identity kind, form, "; identities line N", matched text) of the first identity found."""
    for match in identities.find(value):
        found = _FOUND.search(match.explanation)
        kind = found.group("kind") if found else ""
        where = f"; identities line {found.group('line')}" if found and found.group("line") else ""
        return kind, match.form or kind, where, match.value
    return None


def remembered(memo: dict[str, Any], values: list[str],
               examine: Callable[[list[str]], list[Any]]) -> list[Any]:
    """``examine`` of each of ``values`` (distinct), asked only about those the memo has
    not seen: a later chunk's repeated ids cost one lookup each. The memo keeps at most
    `MEMO_LIMIT` answers. Ids that hardly ever come back (a fresh DeviceID on every
    record) make the lookups cost more than they save: the memo is then given up for
    the rest of the scan, as the content search gives up its own (`give_up_memo`)."""
    if memo_given_up(memo):
        return examine(values)
    known = list(map(memo.get, values, repeat(_UNSEEN)))
    new = [v for v, k in zip(values, known, strict=True) if k is _UNSEEN]
    if not new:
        return known
    if give_up_memo(memo, len(new), len(values)):
        return examine(values)
    fresh = dict(zip(new, examine(new), strict=True))
    memo.update(islice(fresh.items(), max(MEMO_LIMIT - len(memo), 0)))
    return [fresh[v] if k is _UNSEEN else k for v, k in zip(values, known, strict=True)]


def field_scope(rule: Rule, category: Category) -> Scope:
    """The identifier field: a rule whose events never carry it has checked nothing."""
    return Scope(fields=(rule.params["field"],))


@check_kind("hashed-identifier", params_schema=HASHED_PARAMS, scope=field_scope)
def hashed_identifier(rule: Rule, events: pd.DataFrame, ctx: ScanContext) -> pd.DataFrame:
    """One hit per record whose user id is not a one-way, unlinkable hash."""
    column = rule.params["field"]
    if column not in events.columns:
        return no_hits()
    values = _text(events[column])
    if values.empty:
        return no_hits()
    codes, uniques = pd.factorize(values)
    texts = np.asarray(uniques, dtype=object).tolist()
    memo = ctx.memo.setdefault(("hashed-identifier", rule.id), {})
    problems = remembered(memo, texts, lambda new: _user_id_problems(new, ctx.identities))
    table = np.empty((len(texts), 3), dtype=object)
    bad = np.zeros(len(texts), dtype=bool)
    for i, problem in enumerate(problems):
        if problem is not None:
            table[i], bad[i] = problem, True
    found = table[codes]
    by_prefix = _prefix_problems(events, column, values.index, "a hash")
    if by_prefix is not None:  # what the prefix says outranks what the digits look like
        said = pd.notna(by_prefix)
        found[said] = np.column_stack([np.full(int(said.sum()), "cs-id-prefix", dtype=object),
                                       by_prefix[said], values.to_numpy(dtype=object)[said]])
        bad_rows = bad[codes] | said
    else:
        bad_rows = bad[codes]
    if not bad_rows.any():
        return no_hits()
    found = found[bad_rows]
    return hits(
        values.index[bad_rows],
        field=column,
        value=found[:, 2],
        detector=found[:, 0],
        explanation=found[:, 1],
    )


def _prefix_problems(events: pd.DataFrame, column: str, index: pd.Index,
                     what: str) -> np.ndarray | None:
    """Per row of ``index``: why the id's Common Schema prefix (kept by the field mapping
    beside the stripped id) says it is not ``what``, else None; None when no prefix was
    kept at all."""
    hidden = ID_PREFIX + column
    if hidden not in events.columns:
        return None
    codes, uniques = pd.factorize(events[hidden].reindex(index))
    reasons = np.asarray([*(prefix_problem(str(t), what) for t in uniques), None],
                         dtype=object)
    return reasons[codes]


# -- device ids (cross-record) --------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class DeviceRecords:
    """The cross-record state of ``random-device-id``: each distinct (device, user) pair
    once, and the input and line of every record whose device id looks random.

    Whether an id is shared is known only once the whole dump is seen, and then every
    record that carried it is a finding at its own line; reading the dump again for
    those lines would double the scan, so each record keeps 16 bytes (its id's code, its
    input's code, its line). Texts are kept once each: ``devices`` and ``sources`` are
    the distinct ids and input names that the codes point into. A user id is kept as
    a 64-bit hash (`user_keys`): only how many distinct users share a device is asked,
    and a million user id strings would hold over 100 MB.
    """

    devices: np.ndarray  # object: distinct device ids
    sources: np.ndarray  # object: distinct input names
    pair_device: np.ndarray  # int32 code into devices, one per distinct (device, user)
    pair_user: np.ndarray  # uint64: the pair's user id, hashed (user_keys)
    device: np.ndarray  # int32 code into devices, one per record
    source: np.ndarray  # int32 code into sources, one per record
    line: np.ndarray  # int64 line of the record


def collect_devices(
    rule: Rule, events: pd.DataFrame, meta: pd.DataFrame, ctx: ScanContext
) -> tuple[pd.DataFrame, DeviceRecords]:
    """Per chunk: a hit for every record whose device id is not random (found at once),
    and, for the ids that are, each (device, user) pair once and every record's line
    (the cross-record part)."""
    column = rule.params["field"]
    user_field = rule.params.get("user_field", "UserID")
    if column not in events.columns:
        return no_hits(), _no_records()
    devices = _text(events[column])
    if devices.empty:
        return no_hits(), _no_records()
    codes, uniques = pd.factorize(devices)
    uniques = np.asarray(uniques, dtype=object)
    memo = ctx.memo.setdefault(("random-device-id", rule.id), {})
    # Plain random GUIDs, the usual device ids, are told by numpy; Python (and the memo)
    # only sees the others.
    problems = np.full(len(uniques), None, dtype=object)
    rest = np.flatnonzero(~random_guids(uniques))
    if len(rest):
        problems[rest] = np.array(remembered(memo, uniques[rest].tolist(),
                                             random_guid_problems), dtype=object)
    users = (
        _text(events[user_field]).reindex(devices.index)
        if user_field in events.columns
        else pd.Series(None, index=devices.index, dtype=object)
    )
    problem = problems[codes]
    by_prefix = _prefix_problems(events, column, devices.index, "a random GUID")
    if by_prefix is not None:  # a MAC address stays one whatever its digits look like
        problem = np.where(pd.notna(by_prefix), by_prefix, problem)
    flagged = np.flatnonzero(pd.notna(problem))
    found = hits(devices.index[flagged], field=column,
                 value=devices.to_numpy(dtype=object)[flagged], detector="random-guid",
                 explanation=problem[flagged])
    good = np.flatnonzero(pd.isna(problem))  # rows of devices (in order) whose id looks random
    if not len(good):
        return found, _no_records()
    rows = np.flatnonzero(events[column].notna().to_numpy())[good]  # their rows in meta
    used, local = np.unique(codes[good], return_inverse=True)
    source_codes, source_names = pd.factorize(meta["source"].to_numpy()[rows])
    # Each (device, user) pair once: deduplicated on integer codes.
    user_codes = pd.factorize(users.to_numpy(dtype=object)[good])[0]
    paired = np.flatnonzero(user_codes >= 0)
    pair_key = local[paired].astype(np.int64) * (int(user_codes.max(initial=0)) + 1) \
        + user_codes[paired]
    paired = paired[np.unique(pair_key, return_index=True)[1]]
    return found, DeviceRecords(
        devices=np.asarray(uniques, dtype=object)[used],
        sources=np.asarray(source_names, dtype=object),
        pair_device=local[paired].astype(np.int32),
        pair_user=user_keys(users.to_numpy(dtype=object)[good][paired]),
        device=local.astype(np.int32),
        source=source_codes.astype(np.int32),
        line=meta["line"].to_numpy()[rows].astype(np.int64),
    )


def user_keys(users: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each user id (pandas' SipHash of the UTF-8 text): two distinct
    ids of one device collide about once in 2**64 pairs."""
    return pd.util.hash_array(users, categorize=False)


def _no_records() -> DeviceRecords:
    codes, texts = np.empty(0, dtype=np.int32), np.empty(0, dtype=object)
    return DeviceRecords(texts, texts, codes, np.empty(0, dtype=np.uint64), codes, codes,
                         np.empty(0, dtype=np.int64))


def _union(tables: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct texts of ``tables``, and per table the code of each of its texts in
    them (to rewrite the codes that pointed into it)."""
    codes, uniques = pd.factorize(np.concatenate(tables))
    ends = np.cumsum([len(t) for t in tables])
    return np.asarray(uniques, dtype=object), np.split(codes.astype(np.int32), ends[:-1])


def merge_devices(parts: list[DeviceRecords]) -> DeviceRecords:
    """One state of many (chunks, parts of a file, Dask units): codes rewritten into
    the union of their texts, each (device, user) pair kept once, every record kept."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _no_records()
    devices, device_maps = _union([p.devices for p in parts])
    sources, source_maps = _union([p.sources for p in parts])
    pair_device = np.concatenate([m[p.pair_device] for m, p in zip(device_maps, parts,
                                                                    strict=True)])
    pair_user = np.concatenate([p.pair_user for p in parts])
    user_codes = pd.factorize(pair_user)[0]
    key = pair_device.astype(np.int64) * (int(user_codes.max(initial=0)) + 1) + user_codes
    kept = np.unique(key, return_index=True)[1]
    return DeviceRecords(
        devices=devices,
        sources=sources,
        pair_device=pair_device[kept],
        pair_user=pair_user[kept],
        device=np.concatenate([m[p.device] for m, p in zip(device_maps, parts, strict=True)]),
        source=np.concatenate([m[p.source] for m, p in zip(source_maps, parts, strict=True)]),
        line=np.concatenate([p.line for p in parts]),
    )


def finish_devices(rule: Rule, partials: list[DeviceRecords], ctx: ScanContext
                   ) -> pd.DataFrame:
    """A hit at every record of a device id shared by more distinct users than allowed."""
    column = rule.params["field"]
    limit = int(rule.params.get("max_users_per_device", 3))
    state = merge_devices(partials)
    users = np.bincount(state.pair_device, minlength=len(state.devices))
    at = np.flatnonzero(users[state.device] > limit)
    if not len(at):
        return no_hits().assign(source=None, line=None)
    # In (input name, line) order: the same hits whatever the parts were.
    names = state.sources[state.source[at]]
    at = at[np.lexsort((state.line[at], np.unique(names, return_inverse=True)[1]))]
    device = state.device[at]
    return hits(
        np.arange(len(at)),
        field=column,
        value=state.devices[device],
        detector="shared-device-id",
        explanation=[
            f"one DeviceID shared by {k} distinct UserIDs (more than {limit}): "
            "not generated once per device"
            for k in users[device].tolist()
        ],
    ).assign(source=state.sources[state.source[at]], line=state.line[at])


def compact_devices(parts: list[DeviceRecords]) -> list[DeviceRecords]:
    """Fold the states gathered so far into one."""
    return [merge_devices(parts)]


check_kind(
    "random-device-id", params_schema=DEVICE_PARAMS, finish=finish_devices,
    compact=compact_devices, scope=field_scope,
)(collect_devices)
