"""Known identities from a directory list: KNOWN_IDENTITY and KNOWN_ORGANIZATION.

Example: with ``email,amos.marble@contoso.com`` in the identities CSV, each of
these is flagged, with the form that was found::

    "amos.marble@contoso.com"                 email
    "AMOS.MARBLE@CONTOSO.COM"                 casefold(email)
    "amos.marble%40contoso.com"               url(email)
    "YW1vcy5tYXJibGVAY29udG9zby5jb20="        base64(email)
    "<sha256 hex of the e-mail>"              sha256(email)
    "<sha1 of the e-mail as 8-4-4-4-12>"      guid(sha1(email))
    "<md5 of the md5 hex of the e-mail>"      md5(md5(email))

Why: an unsalted digest or an encoding of a directory value is linkable to
the person (hash the directory, compare), so it is not "hashed" in the
practices' sense. Every variant of every identity goes into ONE Aho-Corasick
automaton, so a string is searched for all of them in one pass (plus one pass
over its case-folded copy). To keep the automaton small with 10,000
identities, keys are the first `KEY_LEN` characters of each variant and a hit
is confirmed by comparing the whole variant at that position.

Most variants are hex digests and GUIDs, and a hit must not have a letter or
digit glued to either end: such a variant can only be found as a whole hex
token. Those go into a dict instead (`TOKEN`), looked up per token of the
text; a value that is one bare token (a hashed id, a device GUID), which Arrow
picks out of many at once, is looked up whole and never searched by the
automaton. With 10,000 identities that keeps 150,000 of 240,000 keys out of
the automaton: faster to build and to run.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import gc
import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import ahocorasick

from audit.detectors.base import MAX_VALUE_LEN, Match
from audit.errors import IdentitiesError

if TYPE_CHECKING:
    import numpy as np

KINDS = (
    "email", "upn", "sip", "username", "display_name", "object_id", "phone", "ip", "mac",
    "device_serial", "org_name", "tenant_domain",
)
ORG_KINDS = frozenset({"org_name", "tenant_domain"})
KNOWN_IDENTITY = "KNOWN_IDENTITY"
KNOWN_ORGANIZATION = "KNOWN_ORGANIZATION"
MIN_LEN = 4
KEY_LEN = 12
DIGESTS = ("md5", "sha1", "sha256", "sha512")
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_HEX = r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128}"
#: A GUID or a hex run of a digest's length, with no letter or digit glued on (any
#: script's, as for the automaton's hits: see _bounded): a token. Each alternative is
#: bounded, so a crafted run of hex never backtracks far.
TOKEN = re.compile(rf"(?<![^\W_])(?:{_GUID}|[0-9A-Fa-f]{{32,128}})(?![^\W_])")
#: A whole value that is one bare token (RE2 syntax: Arrow runs it over many values).
BARE_TOKEN = rf"^(?:{_GUID}|{_HEX})$"
#: A value that may hold a token somewhere (RE2 prefilter for the per-value search).
HAS_TOKEN = rf"[0-9A-Fa-f]{{32}}|{_GUID}"
_BARE = re.compile(rf"{_GUID}|{_HEX}")
_TOKEN_LENGTHS = frozenset({32, 36, 40, 64, 128})


@dataclass(frozen=True, slots=True)
class Identity:
    """One directory entry; `line` is its line in the identities file (if any)."""

    kind: str
    value: str
    line: int | None = None

    @property
    def entity(self) -> str:
        """KNOWN_ORGANIZATION for org kinds, else KNOWN_IDENTITY."""
        return KNOWN_ORGANIZATION if self.kind in ORG_KINDS else KNOWN_IDENTITY


class _Variant(NamedTuple):
    """A string to look for: `full` (case-folded unless `exact`) and its form name.

    The automaton stores each as a plain tuple: the garbage collector stops tracking a
    tuple of strings and flags, so the hundreds of thousands of variants of a large
    directory are not traversed again by every full collection during a scan.
    """

    full: str
    orig: str  # the variant before case folding
    form: str
    exact: bool  # case-sensitive (base64); searched in the original text
    hexlike: bool  # an upper-case copy is reported as upper(form)
    ident: int  # index into KnownIdentities.identities


def _b64_forms(data: bytes, name: str) -> list[tuple[str, str]]:
    """Unpadded base64 and base64url: a padded copy starts with the unpadded text."""
    std = base64.b64encode(data).decode("ascii").rstrip("=")
    url = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    out = [(std, f"base64({name})")]
    if url != std:
        out.append((url, f"base64url({name})"))
    return out


def _guid(hexdigest: str) -> str:
    h = hexdigest
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def variants(kind: str, value: str) -> list[tuple[str, str, bool, bool]]:
    """Every (text, form, exact, hexlike) under which `value` may appear."""
    out: list[tuple[str, str, bool, bool]] = [(value, kind, False, False)]
    quoted = {urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value, safe=""),
              urllib.parse.quote(value)}
    out.extend((q, f"url({kind})", False, False) for q in sorted(quoted) if q != value)
    for ascii_only in (True, False):
        escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        if escaped != value:
            out.append((escaped, f"json({kind})", False, False))
    out += [(t, f, True, False) for t, f in _b64_forms(value.encode("utf-8"), kind)]
    extra = _normalised(kind, value)
    out += [(t, f"{kind}:{how}", False, False) for t, how in extra if t != value]
    sources = [(value, kind)]
    if value.lower() != value:
        sources.append((value.lower(), f"lower({kind})"))
    for src, name in sources:
        for alg in DIGESTS:
            digest = hashlib.new(alg, src.encode("utf-8")).digest()
            hx = digest.hex()
            form = f"{alg}({name})"
            out.append((hx, form, False, True))
            out.append((_guid(hx), f"guid({form})", False, True))
            twice = hashlib.new(alg, hx.encode("ascii")).hexdigest()
            out.append((twice, f"{alg}({form})", False, True))
            out += [(t, f, True, False) for t, f in _b64_forms(digest, form)]
    return out


def _normalised(kind: str, value: str) -> list[tuple[str, str]]:
    """Other spellings of phones, MACs and object ids (digits only, other separators)."""
    if kind == "phone":
        digits = "".join(c for c in value if c.isdigit())
        plus = "+" + digits if value.lstrip().startswith("+") else digits
        return [(plus, "e164"), (digits, "digits")]
    if kind == "mac":
        hx = "".join(c for c in value if c.isalnum())
        if len(hx) == 12:
            pairs = [hx[i : i + 2] for i in range(0, 12, 2)]
            return [(":".join(pairs), "colon"), ("-".join(pairs), "dash"), (hx, "bare")]
    if kind == "object_id":
        return [(value.replace("-", "").strip("{}"), "hex")]
    return []


class KnownIdentities:
    """All variants of a set of identities, searchable in one automaton pass.

    `warnings` lists entries that were ignored (values shorter than `MIN_LEN`
    characters would match everywhere).
    """

    def __init__(self, identities: Iterable[Identity | tuple[str, str]]) -> None:
        kept: list[Identity] = []
        warnings: list[str] = []
        for item in identities:
            ident = item if isinstance(item, Identity) else Identity(item[0], item[1])
            if ident.kind not in KINDS:
                raise IdentitiesError(f"unknown kind {ident.kind!r}", line=ident.line)
            if len(ident.value.strip()) < MIN_LEN:
                where = f"line {ident.line}: " if ident.line else ""
                warnings.append(
                    f"{where}{ident.kind} shorter than {MIN_LEN} characters ignored"
                )
                continue
            kept.append(Identity(ident.kind, ident.value.strip(), ident.line))
        self.identities: tuple[Identity, ...] = tuple(kept)
        self.warnings: tuple[str, ...] = tuple(warnings)
        #: bare-token variants (lower case) -> their entries, outside the automaton
        self._tokens: dict[str, tuple[tuple[str, str, str, bool, bool, int], ...]] = {}
        with _collection_paused():  # hundreds of thousands of tuples, and no cycles
            self._automaton = self._build()

    def __len__(self) -> int:
        return len(self.identities)

    def _build(self) -> ahocorasick.Automaton | None:
        table: dict[str, list[tuple[str, str, str, bool, bool, int]]] = {}
        tokens: dict[str, list[tuple[str, str, str, bool, bool, int]]] = {}
        bare = _BARE.fullmatch
        for index, ident in enumerate(self.identities):
            seen: set[tuple[str, bool]] = set()
            for text, form, exact, hexlike in variants(ident.kind, ident.value):
                full = text if exact else text.casefold()
                if len(full) < MIN_LEN or (full, exact) in seen:
                    continue
                seen.add((full, exact))
                entry = (full, text, form, exact, hexlike, index)
                if hexlike or (len(full) in _TOKEN_LENGTHS and bare(full)):
                    tokens.setdefault(full.lower(), []).append(entry)
                else:
                    table.setdefault(full[:KEY_LEN], []).append(entry)
        # Tuples of strings and flags are left alone by the garbage collector; lists
        # would be walked by every full collection of the scan.
        self._tokens = {key: tuple(entries) for key, entries in tokens.items()}
        if not table:
            return None
        automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            automaton.add_word(key, tuple(entries))
        automaton.make_automaton()
        return automaton

    @property
    def entities(self) -> frozenset[str]:
        """The entity names these identities can produce."""
        return frozenset(i.entity for i in self.identities)

    def candidates(self, values: Sequence[str]) -> np.ndarray:
        """Which values may hold an identity: digests and GUIDs looked up as tokens, and
        one automaton pass over all the other values at once.

        The values are joined with a separator no identity contains and searched in C;
        each hit's end offset is mapped back to its value. A second, case-folded pass
        covers the values that folding changes (an upper-case digest or GUID of a known
        identity is found there). Only the candidates need :meth:`find`, which validates
        and names the form. Nothing is remembered here: the callers remember their answers
        for the values that come back.
        """
        import numpy as np

        if (self._automaton is None and not self._tokens) or not len(values):
            return np.zeros(len(values), dtype=bool)
        texts = list(values)
        found, rest = self._token_candidates(texts)
        if self._automaton is not None and len(rest):
            self._mark([texts[i] for i in rest], rest, found)
            folded = [texts[i].casefold() for i in rest]
            changed = [k for k, i in enumerate(rest) if folded[k] != texts[i]]
            if changed:
                self._mark([folded[k] for k in changed], rest[changed], found)
        return found

    def _token_candidates(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which texts hold a known token, and the positions of those the automaton must
        still search (all but the bare tokens). Arrow finds the bare tokens, each looked up
        whole; only a text holding a token among other characters is searched for them."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.array(texts, type=pa.large_string())
        bare = pc.match_substring_regex(array, BARE_TOKEN).to_numpy(zero_copy_only=False)
        found = np.zeros(len(texts), dtype=bool)
        if self._tokens:
            at = np.flatnonzero(bare)
            lowered = map(str.lower, map(texts.__getitem__, at.tolist()))
            found[at] = np.fromiter(map(self._tokens.__contains__, lowered), dtype=bool,
                                    count=len(at))
            inside = pc.match_substring_regex(array, HAS_TOKEN).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(inside & ~bare).tolist():
                found[i] = any(m.group().lower() in self._tokens
                               for m in TOKEN.finditer(texts[i], 0, MAX_VALUE_LEN))
        return found, np.flatnonzero(~bare)

    def _mark(self, texts: Sequence[str], positions: np.ndarray, flags: np.ndarray) -> None:
        """Set ``flags[positions[j]]`` for every text j the automaton hits."""
        import numpy as np

        ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
        haystack = "\x00".join(texts)
        hit_ends = np.fromiter((end for end, _ in self._automaton.iter(haystack)),
                               dtype=np.int64)
        if len(hit_ends):
            flags[positions[np.searchsorted(ends, hit_ends + 1)]] = True

    def find(self, text: str) -> list[Match]:
        """Every identity variant in the first `MAX_VALUE_LEN` characters of `text`."""
        if (self._automaton is None and not self._tokens) or not text:
            return []
        text = text[:MAX_VALUE_LEN]
        hits: dict[tuple[int, int, int], Match] = {}
        for token in TOKEN.finditer(text) if self._tokens else ():
            raw = token.group()
            for var in map(_Variant._make, self._tokens.get(raw.lower(), ())):
                start, stop = token.span()
                if (var.exact and raw != var.full) or self._in_address(var, text, start):
                    continue
                hits.setdefault((start, stop, var.ident), self._match(var, raw))
        if self._automaton is None or _BARE.fullmatch(text):
            return _outermost(hits)
        folded = text.casefold()
        aligned = len(folded) == len(text)
        passes = [(text, True)] if folded == text else [(text, True), (folded, False)]
        for haystack, original in passes:
            for end, entries in self._automaton.iter(haystack):
                variants = [_Variant._make(entry) for entry in entries]
                start = end - min(KEY_LEN, len(variants[0].full)) + 1
                for var in variants:
                    if original and not var.exact and folded != text:
                        continue
                    if not original and var.exact:
                        continue
                    if not haystack.startswith(var.full, start):
                        continue
                    stop = start + len(var.full)
                    if not _bounded(haystack, start, stop):
                        continue
                    if self._in_address(var, haystack, start):
                        continue
                    key = (start, stop, var.ident)
                    if key in hits:
                        continue
                    raw = text[start:stop] if (original or aligned) else None
                    hits[key] = self._match(var, raw)
        return _outermost(hits)

    def _in_address(self, var: _Variant, text: str, start: int) -> bool:
        """An organisation's domain right after ``@`` (or ``%40``) is the domain part of an
        e-mail or SIP address: that address is the finding, not a second organisation."""
        if self.identities[var.ident].entity != KNOWN_ORGANIZATION:
            return False
        return text.endswith("@", 0, start) or text.endswith("%40", 0, start)

    def _match(self, var: _Variant, raw: str | None) -> Match:
        ident = self.identities[var.ident]
        form = var.form
        if not var.exact and raw != var.orig:
            if var.hexlike and raw is not None and raw == var.orig.upper():
                form = f"upper({form})"
            else:
                form = f"casefold({form})"
        where = f" (identities line {ident.line})" if ident.line else ""
        explanation = f"{ident.entity} via directory list: {ident.kind} found as {form}{where}"
        return Match(ident.entity, raw if raw is not None else var.full, explanation, form,
                     detector="known-identities")


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No garbage collection while a large structure without reference cycles is built:
    each collection would walk every tuple made so far, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _outermost(hits: dict[tuple[int, int, int], Match]) -> list[Match]:
    """Hits in text order, dropping one nested in a longer hit of the same identity, and an
    organisation nested in a person's identity (the domain of a known e-mail is reported
    as the e-mail, not as a second, organisation finding)."""
    out: list[Match] = []
    spans: list[tuple[int, int, int, str]] = []
    for start, stop, ident in sorted(hits, key=lambda k: (k[0], -k[1], k[2])):
        entity = hits[(start, stop, ident)].entity
        if any(s <= start and stop <= e and (i == ident or (entity == KNOWN_ORGANIZATION
                                                              and ent == KNOWN_IDENTITY))
               for s, e, i, ent in spans):
            continue
        spans.append((start, stop, ident, entity))
        out.append(hits[(start, stop, ident)])
    return out


def _bounded(text: str, start: int, stop: int) -> bool:
    """No letter or digit glued to either end of a hit that starts/ends with one."""
    if start > 0 and text[start].isalnum() and text[start - 1].isalnum():
        return False
    return not (stop < len(text) and text[stop - 1].isalnum() and text[stop].isalnum())


def load_identities(path: str) -> KnownIdentities:
    """Read a ``kind,value`` CSV (header required; ``#`` lines are comments).

    Raises `IdentitiesError` naming the file and line for a missing file, a
    missing column, an unknown kind or an empty value.
    """
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise IdentitiesError(f"cannot open identities file: {exc.strerror}", path=path) from exc
    with handle:
        reader = csv.reader(handle)
        header: list[str] | None = None
        items: list[Identity] = []
        try:
            for row in reader:
                line = reader.line_num
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                if header is None:
                    header = [c.strip().lower() for c in row]
                    missing = [c for c in ("kind", "value") if c not in header]
                    if missing:
                        raise IdentitiesError(
                            f"missing column(s) {', '.join(missing)} in header "
                            f"(expected kind,value; found {','.join(header)})",
                            path=path, line=line,
                        )
                    continue
                cells = dict(zip(header, row, strict=False))
                kind = (cells.get("kind") or "").strip().lower()
                value = (cells.get("value") or "").strip()
                if kind not in KINDS:
                    raise IdentitiesError(
                        f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})",
                        path=path, line=line,
                    )
                if not value:
                    raise IdentitiesError(f"empty value for kind {kind!r}", path=path, line=line)
                items.append(Identity(kind, value, line))
        except csv.Error as exc:
            raise IdentitiesError(f"not valid CSV: {exc}", path=path, line=reader.line_num) from exc
        except UnicodeDecodeError as exc:
            raise IdentitiesError("not UTF-8 text", path=path) from exc
    if header is None:
        raise IdentitiesError("empty file: expected a kind,value header", path=path, line=1)
    return KnownIdentities(items)
