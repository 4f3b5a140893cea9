"""Content-Encoding of a request body (gzip, deflate, br), undone within bounds.

Telemetry SDKs compress what they post (1DS/OneCollector: gzip or deflate, some br), and
a capture keeps the body as sent. A body is untrusted like any input: a few kilobytes may
inflate to gigabytes. Each stage of decoding therefore stops past a size (``--limit
record-bytes``, or ``decompressed-bytes`` if lower: a decoded body is one record) and,
from :data:`RATIO_FROM` on, past ``--limit compression-ratio`` times its input: the
body is then rejected, having cost no more than that much memory and time.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

from audit.limits import MIB, Limits
from audit.readers import bytes_text

#: Decoded bytes from which the compression ratio is checked: small bodies of repeated
#: events compress very well and are cheap anyway; a bomb is caught once it costs this.
RATIO_FROM = MIB
#: Codings undone at most, one after another: real clients apply one (rarely two), and
#: each stage may cost up to the record limit (a body nested a thousand times would
#: cost a thousand of them).
MAX_CODINGS = 4
#: Codings that leave the body as it is.
IDENTITY = frozenset({"", "identity"})
_GZIP_MAGIC = b"\x1f\x8b"
#: Bytes decoded at a time.
_STEP = 1 << 18


class Undecodable(ValueError):
    """A body that cannot be decoded, or not within the limits: why, in one line."""


def codings(header: str) -> list[str]:
    """The codings of a ``Content-Encoding`` value in the order they were applied
    (``"gzip, br"``: gzip first), lower case, ``identity`` left out."""
    return [c for c in (part.strip().lower() for part in header.split(",")) if c not in IDENTITY]


def decode(body: bytes, applied: Sequence[str], limits: Limits) -> bytes:
    """The body with ``applied`` codings undone, last applied first.

    Raises :class:`Undecodable` for a coding that is not read, more than
    :data:`MAX_CODINGS`, a body that does not decode as declared, or one that decodes
    past the limits.
    """
    if len(applied) > MAX_CODINGS:
        raise Undecodable(f"{len(applied)} Content-Encodings, more than the {MAX_CODINGS} "
                          "undone")
    for coding in reversed(applied):
        step = _DECODERS.get(coding)
        if step is None:
            known = ", ".join(sorted(_DECODERS))
            raise Undecodable(f"Content-Encoding {coding!r} is not read (only {known} are)")
        body = step(body, _Bound(coding, len(body), limits))
    return body


class _Bound:
    """The limits on one stage's output, checked as it grows."""

    def __init__(self, coding: str, packed: int, limits: Limits) -> None:
        self.coding, self.packed = coding, max(packed, 1)
        self.ratio = limits.compression_ratio
        self.cap = min(limits.record_bytes, limits.decompressed_bytes)
        self.limit_name = "record-bytes" if limits.record_bytes <= limits.decompressed_bytes \
            else "decompressed-bytes"

    def room(self, held: int) -> int:
        """How many more bytes to ask for: a step at a time (so the ratio is checked as
        the output grows), never more than one past the cap (so going over shows)."""
        return max(min(self.cap + 1 - held, _STEP), 1)

    def check(self, held: int) -> None:
        if held > self.cap:
            raise Undecodable(f"the {self.coding} body decompresses to more than "
                              f"{bytes_text(self.cap)} (--limit {self.limit_name})")
        if held > RATIO_FROM and held > self.ratio * self.packed:
            raise Undecodable(f"the {self.coding} body of {bytes_text(self.packed)} decompresses "
                              f"to more than {self.ratio} times its size "
                              "(--limit compression-ratio)")

    def broken(self, what: str) -> Undecodable:
        return Undecodable(f"the body is not valid {self.coding} ({what})")


def _inflate(data: bytes, wbits: int, bound: _Bound, out: bytearray) -> bytes:
    """One zlib, gzip or raw deflate stream of ``data`` appended to ``out`` within the
    bound; what follows the stream."""
    engine = zlib.decompressobj(wbits)
    pending = data
    try:
        while not engine.eof:
            piece = engine.decompress(pending, bound.room(len(out)))
            out += piece
            bound.check(len(out))
            pending = engine.unconsumed_tail
            if not piece and not pending:
                raise bound.broken("it ends early")
    except zlib.error as exc:
        raise bound.broken(str(exc).rpartition(": ")[2] or "corrupt") from None
    return engine.unused_data


def _gzip(data: bytes, bound: _Bound) -> bytes:
    """gzip, possibly several members one after another (zero padding after them is
    allowed, as gzip itself allows it)."""
    if not data.startswith(_GZIP_MAGIC):
        raise bound.broken("no gzip header")
    out = bytearray()
    rest = data
    while rest:
        rest = _inflate(rest, 16 + zlib.MAX_WBITS, bound, out).lstrip(b"\0")
        if rest and not rest.startswith(_GZIP_MAGIC):
            raise bound.broken("data after the end of the stream")
    return bytes(out)


def _deflate(data: bytes, bound: _Bound) -> bytes:
    """HTTP's deflate is zlib-wrapped, but many clients send raw deflate: a body whose
    first two bytes are a zlib header is read as zlib, else as raw deflate."""
    zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 \
        and (data[0] << 8 | data[1]) % 31 == 0
    out = bytearray()
    rest = _inflate(data, zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS, bound, out)
    if rest:
        raise bound.broken("data after the end of the stream")
    return bytes(out)


def _brotli(data: bytes, bound: _Bound) -> bytes:
    try:
        import brotli
    except ImportError:
        raise Undecodable("br bodies need the brotli package, which is not installed"
                          ) from None
    engine = brotli.Decompressor()
    out = bytearray()
    try:
        piece = engine.process(data, output_buffer_limit=bound.room(0))
        while True:
            out += piece
            bound.check(len(out))
            if engine.is_finished():
                return bytes(out)
            if not piece:
                raise bound.broken("it ends early")
            piece = engine.process(b"", output_buffer_limit=bound.room(len(out)))
    except brotli.error:
        raise bound.broken("corrupt stream") from None


_DECODERS: dict[str, Callable[[bytes, _Bound], bytes]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
}
