"""Bounds on what untrusted input may cost: bytes, keys, columns, YAML nodes.

An audit tool reads data nobody vetted, often inside CI. Every size that a crafted
input could blow up has a limit here, with a default far above real telemetry and
far below what would exhaust a machine. Past a limit the record or input is rejected
with a one-line reason and counted, so the verdict says INCOMPLETE; a configuration
file (rule file, mapping) past its limit is an error (exit 2). ``--limit NAME=VALUE``
raises or lowers one (sizes take KiB, MiB or GiB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

_SIZE = re.compile(r"(?P<n>\d+)\s*(?P<unit>[kmg]i?b?|b)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KIB, "m": MIB, "g": GIB}


@dataclass(frozen=True, slots=True)
class Limits:
    """Each field is one limit; its name with ``-`` for ``_`` is its ``--limit`` name."""

    #: a JSON line, CSV row, JSON array element or HAR request body
    record_bytes: int = 8 * MIB
    #: one CSV field
    field_bytes: int = 8 * MIB
    #: the decompressed size of one compressed input (or HAR request body)
    decompressed_bytes: int = 64 * GIB
    #: decompressed size over compressed size, checked once 64 MiB are decompressed
    #: (1 MiB of a HAR request body, see audit.readers.encodings)
    compression_ratio: int = 200
    #: keys of one record once flattened (``a.b.c`` counts once)
    keys: int = 10_000
    #: columns of a CSV file
    columns: int = 10_000
    #: the size of a rule file or a field mapping
    config_bytes: int = 4 * MIB
    #: nodes of a YAML document once its aliases are expanded (a "billion laughs" stops here)
    yaml_nodes: int = 100_000

    @classmethod
    def names(cls) -> list[str]:
        """The ``--limit`` names."""
        return [f.name.replace("_", "-") for f in fields(cls)]

    def describe(self) -> dict[str, int]:
        """The limits by their ``--limit`` names, for reports and help."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}

    def with_setting(self, text: str) -> Limits:
        """These limits with one ``NAME=VALUE`` changed; ValueError says what is wrong."""
        name, sep, value = text.partition("=")
        key = name.strip().lower().replace("-", "_")
        if not sep or key not in {f.name for f in fields(self)}:
            raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(self.names())}, "
                             f"not {text!r}")
        return replace(self, **{key: parse_size(value)})


def parse_size(text: str) -> int:
    """``1000``, ``64KiB``, ``8M``, ``2GiB`` → a positive number (binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a number or a size: {text!r} (e.g. 1000, 64KiB, 8MiB, 1GiB)")
    unit = (match["unit"] or "").lower()
    number = int(match["n"]) * _UNITS[unit[:1] if unit != "b" else "b"]
    if number < 1:
        raise ValueError(f"a limit must be at least 1, not {text!r}")
    return number


def size_text(number: int) -> str:
    """A size in the largest binary unit that divides it: ``8 MiB``, ``10000``."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if number >= size and number % size == 0:
            return f"{number // size} {unit}"
    return f"{number:,}"


DEFAULT_LIMITS = Limits()

#: Values (rows × columns) a batch of records may spread over. Not a limit on the input
#: (nothing is rejected past it): a batch whose records bring many different keys is cut
#: into smaller ones, because a frame holds a cell for every row of every column, and
#: 20,000 one-line records with a key each would otherwise make 400 million cells of a
#: file of 700 KB.
BATCH_CELLS = 1 << 22
