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
practices' sense.

Each identity has about 50 variants; a directory of 100,000 has five million.
They are never kept as strings, only as what finds them:

- The encodings of the value itself (as is, URL, JSON, base64, other spellings),
  a few per identity, go into ONE Aho-Corasick automaton, so a string is searched
  for all of them in one pass (plus one pass over its case-folded copy). Keys are
  the first `KEY_LEN` characters of each variant and a hit is confirmed by comparing
  the whole variant, kept once, at that position.
- Hex digests and GUIDs must not have a letter or digit glued to either end: they
  can only be found as a whole hex token (`TOKEN`). Base64 digests, case-sensitive
  random text, can only start where a token of base64 characters starts or after
  one of its symbols (``+/-_``). Both are looked up by the first 64 bits of their
  digest in sorted arrays of those bits and an integer per variant (identity index
  and variant code); a hit is confirmed by computing that one variant again.

A value that is one bare token (a hashed id, a device GUID), which Arrow picks out of
many at once, is looked up whole and never searched by the automaton. Keeping digests
out of the automaton keeps it to about a tenth of the keys: a tenth of the memory and
of the time to build (a random key of `KEY_LEN` characters costs as many trie nodes).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import gc
import hashlib
import re
import urllib.parse
from array import array
from binascii import hexlify
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_text
from json.encoder import encode_basestring_ascii as _json_ascii
from typing import TYPE_CHECKING, Any, NamedTuple

import ahocorasick

from audit.detectors.base import GUID_TEXT, MAX_VALUE_LEN, Match, hex_digit_values
from audit.errors import IdentitiesError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

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
_GUID = GUID_TEXT
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
#: Hash constructors in `DIGESTS` order.
_HASHES = tuple(getattr(hashlib, alg) for alg in DIGESTS)
#: The digest variants of one source (the value, or its lower-case form) and algorithm.
_HEX, _GUID_OF, _TWICE, _B64, _B64URL = range(5)
_SHAPES = 5
#: Variant codes of the digest variants of one identity: source × algorithm × shape.
DIGEST_CODES = 2 * len(DIGESTS) * _SHAPES
#: A run of base64 characters (either alphabet) long enough for the shortest digest
#: (16 bytes of md5: 22 characters unpadded).
_B64_MIN = 22
_B64_RUN = re.compile(rf"[A-Za-z0-9+/_-]{{{_B64_MIN}}}")
#: Characters no URL quoting changes.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
#: Offsets of the token (hex, GUID, hex of the hex's digest) and base64 variants among the
#: digest codes of one source, algorithm by algorithm.
_TOKEN_OFFSETS = tuple(a * 5 + s for a in range(len(DIGESTS)) for s in (0, 1, 2))
_B64_OFFSETS = tuple(a * 5 + s for a in range(len(DIGESTS)) for s in (3, 4))


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

    Made when a lookup needs one (or kept, for the encodings of the value itself): the
    five million variants of a large directory are not kept as objects.
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
    """Every (text, form, exact, hexlike) under which `value` may appear: the encodings
    of the value, then its digest variants in code order."""
    out = _value_variants(kind, value)
    for code in range(DIGEST_CODES):
        found = digest_variant(kind, value, code)
        if found is not None:
            out.append(found)
    return out


def _value_variants(kind: str, value: str) -> list[tuple[str, str, bool, bool]]:
    """The value as is, URL- and JSON-escaped, in base64 and in its other spellings."""
    out: list[tuple[str, str, bool, bool]] = [(value, kind, False, False)]
    if not _UNRESERVED.fullmatch(value):  # else every quoting is the value itself
        # quote_plus differs from quote only for spaces, quote with "/" safe for a "/".
        url = urllib.parse.quote(value, safe="")
        quoted = {url, urllib.parse.quote_plus(value, safe="") if " " in value else url,
                  urllib.parse.quote(value) if "/" in value else url}
        out.extend((q, f"url({kind})", False, False) for q in sorted(quoted) if q != value)
    # What json.dumps writes for a string, without the quotes.
    escaped = (_json_ascii(value)[1:-1], _json_text(value)[1:-1])
    out.extend((e, f"json({kind})", False, False) for e in escaped if e != value)
    out += [(t, f, True, False) for t, f in _b64_forms(value.encode("utf-8"), kind)]
    extra = _normalised(kind, value)
    out += [(t, f"{kind}:{how}", False, False) for t, how in extra if t != value]
    return out


def digest_variant(kind: str, value: str, code: int) -> tuple[str, str, bool, bool] | None:
    """Digest variant number `code` of `value` as (text, form, exact, hexlike), or None
    when there is no such variant (no lower-case source for a lower-case value, no
    base64url copy that differs from the base64 one).

    Codes run over the source (the value, then its lower-case form), the algorithm
    (`DIGESTS`) and the shape: hex, GUID of the hex, the digest of the hex, base64,
    base64url."""
    which, rest = divmod(code, len(DIGESTS) * _SHAPES)
    index, shape = divmod(rest, _SHAPES)
    source, name = value, kind
    if which:
        source, name = value.lower(), f"lower({kind})"
        if source == value:
            return None
    alg, new = DIGESTS[index], _HASHES[index]
    digest = new(source.encode("utf-8")).digest()
    form = f"{alg}({name})"
    if shape == _HEX:
        return digest.hex(), form, False, True
    if shape == _GUID_OF:
        return _guid(digest.hex()), f"guid({form})", False, True
    if shape == _TWICE:
        return new(digest.hex().encode("ascii")).hexdigest(), f"{alg}({form})", False, True
    std = base64.b64encode(digest).decode("ascii").rstrip("=")
    if shape == _B64:
        return std, f"base64({form})", True, False
    url = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return (url, f"base64url({form})", True, False) if url != std else None


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


def _token_key(token: str) -> int:
    """The first 64 bits a hex token or GUID spells (of a digest: its first 8 bytes)."""
    if len(token) == 36 and token[8] == "-":
        return int(token[:8] + token[9:13] + token[14:18], 16)
    return int(token[:16], 16)


def _token_keys(tokens: list[str]) -> np.ndarray:
    """:func:`_token_key` of each bare token (a GUID or a hex digest, so ASCII), by numpy
    over their bytes rather than ``int`` per token."""
    import numpy as np

    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    raw = np.frombuffer("".join(tokens).encode("ascii"), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    at = np.where((lengths == 36)[:, None], _GUID_KEY_AT, _HEX_KEY_AT)  # 36: a GUID
    at += starts[:, None]
    digits = hex_digit_values()[raw[at]]
    packed = np.ascontiguousarray((digits[:, 0::2] << 4) | digits[:, 1::2])
    return packed.view(">u8")[:, 0].astype(np.uint64)


#: Where a GUID's and a hex digest's first 16 digits are (the 64 bits of its key).
_GUID_KEY_AT = [*range(8), *range(9, 13), *range(14, 18)]
_HEX_KEY_AT = list(range(16))


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
            value = ident.value.strip()
            kept.append(ident if value == ident.value else Identity(ident.kind, value, ident.line))
        self.identities: tuple[Identity, ...] = tuple(kept)
        self.warnings: tuple[str, ...] = tuple(warnings)
        with _collection_paused():  # a few hundred thousand tuples, and no cycles
            self._build()

    def __len__(self) -> int:
        return len(self.identities)

    def _build(self) -> None:
        """The automaton over the value encodings, and the sorted digest-prefix arrays.

        A variant is referred to by an integer: ``identity * DIGEST_CODES + code`` for a
        digest variant (computed again when looked up), ``~n`` for the value encoding
        kept as ``self._plain[n]``. Under equal prefixes the variants of an identity keep
        the order of `variants`, which decides the form named when two are equal."""
        import numpy as np

        plain: list[_Variant] = []
        table: dict[str, list[int]] = {}  # automaton key -> indexes into plain
        plain_keys, plain_refs = bytearray(), array("q")  # value encodings that are tokens
        token_keys: list[bytes] = []  # per source and identity: _TOKEN_OFFSETS' prefixes
        b64_keys: list[bytes] = []  # and _B64_OFFSETS'
        codes = array("q")  # per source and identity: its first digest variant's reference
        forms: dict[str, str] = {}  # one string per form name
        bare = _BARE.fullmatch
        for index, ident in enumerate(self.identities):
            seen: set[tuple[str, bool]] = set()
            for text, form, exact, hexlike in _value_variants(ident.kind, ident.value):
                full = text if exact else text.casefold()
                if len(full) < MIN_LEN or (full, exact) in seen:
                    continue
                seen.add((full, exact))
                var = _Variant(text if full == text else full, text,
                               forms.setdefault(form, form), exact, hexlike, index)
                if hexlike or (len(full) in _TOKEN_LENGTHS and bare(full)):
                    plain_keys += _token_key(full).to_bytes(8, "big")
                    plain_refs.append(~len(plain))
                else:
                    table.setdefault(full[:KEY_LEN], []).append(len(plain))
                plain.append(var)
            # The digest variants, as variants() lists them (one equal to an encoding of
            # the value, which `seen` would drop, would need a hash collision).
            value = ident.value
            sources = (value,) if value.lower() == value else (value, value.lower())
            for which, source in enumerate(sources):
                data = source.encode("utf-8")
                digests = [new(data).digest() for new in _HASHES]
                twice = [new(hexlify(d)).digest()[:8]
                         for new, d in zip(_HASHES, digests, strict=True)]
                heads = [d[:8] for d in digests]  # of the hex, the GUID and the base64
                token_keys.append(b"".join(h + h + t for h, t in zip(heads, twice, strict=True)))
                b64_keys.append(b"".join(h + h for h in heads))
                codes.append(index * DIGEST_CODES + which * len(DIGESTS) * _SHAPES)
        self._plain = plain
        first = np.frombuffer(codes, dtype=np.int64)[:, None]
        self._token_keys, self._token_refs = _sorted_index(
            np, plain_keys + b"".join(token_keys),
            np.frombuffer(plain_refs, dtype=np.int64), first + np.array(_TOKEN_OFFSETS))
        self._b64_keys, self._b64_refs = _sorted_index(
            np, b"".join(b64_keys), first + np.array(_B64_OFFSETS))
        self._automaton: ahocorasick.Automaton | None = None
        #: the plain variants of automaton value g: _group_refs[_group_at[g]:_group_at[g+1]]
        self._group_refs, self._group_at = array("q"), array("q", [0])
        if table:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for group, (key, refs) in enumerate(table.items()):
                automaton.add_word(key, group)
                self._group_refs.extend(refs)
                self._group_at.append(len(self._group_refs))
            automaton.make_automaton()
            self._automaton = automaton

    def _variant(self, ref: int) -> _Variant | None:
        """The variant an integer refers to (see `_build`); None if there is no such
        digest variant."""
        if ref < 0:
            return self._plain[~ref]
        index, code = divmod(ref, DIGEST_CODES)
        ident = self.identities[index]
        found = digest_variant(ident.kind, ident.value, code)
        if found is None:
            return None
        text, form, exact, hexlike = found
        return _Variant(text if exact else text.casefold(), text, form, exact, hexlike, index)

    def _looked_up(self, keys: np.ndarray, refs: np.ndarray, key: int) -> Iterator[_Variant]:
        """The variants whose 64-bit prefix is `key`, in the order they were built."""
        import numpy as np

        at = int(np.searchsorted(keys, np.uint64(key)))
        while at < len(keys) and int(keys[at]) == key:
            var = self._variant(int(refs[at]))
            if var is not None:
                yield var
            at += 1

    def _token_variants(self, lowered: str) -> Iterator[_Variant]:
        """The hex and GUID variants equal to ``lowered`` (a token in lower case)."""
        for var in self._looked_up(self._token_keys, self._token_refs, _token_key(lowered)):
            if var.full.lower() == lowered:
                yield var

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
        identity is found there). Base64 digests are looked up at the starts where one
        may be found, by numpy over the values that hold a long enough base64 run. Only
        the candidates need :meth:`find`, which validates and names the form. Nothing is
        remembered here: the callers remember their answers for the values that come
        back.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.identities or not len(values):
            return np.zeros(len(values), dtype=bool)
        texts = list(values)
        array = pa.array(texts, type=pa.large_string())
        found, rest = self._token_candidates(texts, array)
        if self._automaton is not None and len(rest):
            self._mark([texts[i] for i in rest], rest, found)
            folded = [texts[i].casefold() for i in rest]
            changed = [k for k, i in enumerate(rest) if folded[k] != texts[i]]
            if changed:
                self._mark([folded[k] for k in changed], rest[changed], found)
        if len(self._b64_keys) and len(rest):
            runs = pc.match_substring_regex(array, _B64_RUN.pattern).to_numpy(
                zero_copy_only=False)
            rest = rest[runs[rest] & ~found[rest]]
            if len(rest):
                chosen = [texts[i] for i in rest]
                ends = np.cumsum(np.fromiter(map(len, chosen), dtype=np.int64,
                                             count=len(chosen)) + 1)
                starts, _ = self._b64_starts("\x00".join(chosen))
                if len(starts):
                    found[rest[np.searchsorted(ends, starts, side="right")]] = True
        return found

    def _token_candidates(self, texts: list[str], array: pa.Array
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Which texts hold a known token, and the positions of those the automaton must
        still search (all but the bare tokens). Arrow finds the bare tokens, each looked up
        whole; only a text holding a token among other characters is searched for them."""
        import numpy as np
        import pyarrow.compute as pc

        bare = pc.match_substring_regex(array, BARE_TOKEN).to_numpy(zero_copy_only=False)
        found = np.zeros(len(texts), dtype=bool)
        if len(self._token_keys):
            at = np.flatnonzero(bare)
            keys = _token_keys([texts[i] for i in at.tolist()])
            slots = np.minimum(np.searchsorted(self._token_keys, keys),
                               len(self._token_keys) - 1)
            for i in at[self._token_keys[slots] == keys].tolist():  # 64 bits agree: check
                found[i] = any(self._token_variants(texts[i].lower()))
            inside = pc.match_substring_regex(array, HAS_TOKEN).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(inside & ~bare).tolist():
                found[i] = any(any(self._token_variants(m.group().lower()))
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

    def _b64_starts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Offsets in `text` where a known base64 digest may start, with the first 64
        bits that the base64 there spells.

        A hit has no letter or digit glued to either end (`_bounded`), and base64 text is
        letters, digits and ``+/-_``: one can start only at the start of a run of base64
        characters, on one of those symbols or right after one. Each such start followed
        by at least 22 base64 characters is decoded and looked up, all at once."""
        import numpy as np

        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        sixes = _b64_sixes()[np.minimum(points, 128)]
        inside = sixes < 64
        symbol = sixes >= 62  # + / - _ (the two alphabets agree on their bits)
        symbol &= inside
        start = inside.copy()
        start[1:] &= ~inside[:-1] | symbol[1:] | symbol[:-1]
        at = np.flatnonzero(start)
        at = at[at + _B64_MIN <= len(sixes)]
        if not len(at):
            return at, np.zeros(0, dtype=np.uint64)
        window = sixes[at[:, None] + np.arange(_B64_MIN)]
        at, window = at[(window < 64).all(axis=1)], window[(window < 64).all(axis=1)]
        keys = np.zeros(len(at), dtype=np.uint64)
        for k in range(10):  # 60 bits, then the top 4 of the 11th character
            keys |= window[:, k].astype(np.uint64) << np.uint64(58 - 6 * k)
        keys |= window[:, 10].astype(np.uint64) >> np.uint64(2)
        slots = np.minimum(np.searchsorted(self._b64_keys, keys), len(self._b64_keys) - 1)
        known = self._b64_keys[slots] == keys
        return at[known], keys[known]

    def find(self, text: str) -> list[Match]:
        """Every identity variant in the first `MAX_VALUE_LEN` characters of `text`."""
        if not self.identities or not text:
            return []
        text = text[:MAX_VALUE_LEN]
        hits: dict[tuple[int, int, int], Match] = {}
        for token in TOKEN.finditer(text) if len(self._token_keys) else ():
            raw = token.group()
            for var in self._token_variants(raw.lower()):
                start, stop = token.span()
                if (var.exact and raw != var.full) or self._in_address(var, text, start):
                    continue
                hits.setdefault((start, stop, var.ident), self._match(var, raw))
        if _BARE.fullmatch(text):
            return _outermost(hits)
        folded = text.casefold()
        aligned = len(folded) == len(text)
        passes = [(text, True)] if folded == text else [(text, True), (folded, False)]
        for haystack, original in passes:
            for end, group in self._automaton.iter(haystack) if self._automaton else ():
                refs = self._group_refs[self._group_at[group]:self._group_at[group + 1]]
                variants = [self._plain[ref] for ref in refs]
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
            if original and len(self._b64_keys) and _B64_RUN.search(text):
                self._find_b64(text, hits)
        return _outermost(hits)

    def _find_b64(self, text: str, hits: dict[tuple[int, int, int], Match]) -> None:
        """Add the base64 digests of `text` (case-sensitive: only in the original text)."""
        starts, keys = self._b64_starts(text)
        for start, key in zip(starts.tolist(), keys.tolist(), strict=True):
            for var in self._looked_up(self._b64_keys, self._b64_refs, key):
                stop = start + len(var.full)
                if not text.startswith(var.full, start) or not _bounded(text, start, stop):
                    continue
                if self._in_address(var, text, start) or (start, stop, var.ident) in hits:
                    continue
                hits[(start, stop, var.ident)] = self._match(var, text[start:stop])

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


def _sorted_index(np: Any, keys: bytes, *refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """64-bit big-endian keys and their variant references (one per key, in ``refs`` one
    after another), sorted by key; equal keys keep the order they were built in."""
    key_array = np.frombuffer(keys, dtype=">u8").astype(np.uint64)
    order = np.argsort(key_array, kind="stable")
    return key_array[order], np.concatenate([r.ravel() for r in refs])[order]


@functools.cache
def _b64_sixes() -> np.ndarray:
    """The 6-bit value of each ASCII base64 character of either alphabet (``-`` and ``_``
    as ``+`` and ``/``), 255 for any other character; index 128 stands for non-ASCII."""
    import numpy as np

    table = np.full(129, 255, dtype=np.uint8)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for six, char in enumerate(letters + "+/"):
        table[ord(char)] = six
    table[ord("-")], table[ord("_")] = 62, 63
    return table


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
