"""Output formats: one module per format, one registry.

A renderer is a name, a file name and ``render(report) -> bytes``; it sees only
the :class:`audit.model.Report`, never the checks or the raw dump. Formats that
list every finding (JSON, SARIF) register ``write(report, out)`` instead, which
streams into the open file so that writing them does not hold the findings in
memory; their ``render`` is the same output as bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audit.model import Report


@dataclass(frozen=True, slots=True)
class Renderer:
    """A registered output format."""

    name: str
    filename: str
    write: Callable[[Report, IO[bytes]], None]

    def render(self, report: Report) -> bytes:
        return as_bytes(self.write)(report)


def as_bytes(write: Callable[[Report, IO[bytes]], None]) -> Callable[[Report], bytes]:
    """A streaming renderer's output as bytes (for tests and small reports)."""

    def render(report: Report) -> bytes:
        out = io.BytesIO()
        write(report, out)
        return out.getvalue()

    return render


RENDERERS: dict[str, Renderer] = {}


def register(
    name: str, filename: str
) -> Callable[[Callable[[Report], bytes]], Callable[[Report], bytes]]:
    """Register ``func`` as the renderer of format ``name`` written to ``filename``."""

    def wrap(func: Callable[[Report], bytes]) -> Callable[[Report], bytes]:
        RENDERERS[name] = Renderer(name, filename, lambda report, out: out.write(func(report)))
        return func

    return wrap


def register_stream(
    name: str, filename: str
) -> Callable[[Callable[[Report, IO[bytes]], None]], Callable[[Report, IO[bytes]], None]]:
    """Register ``func(report, out)`` as the streaming renderer of format ``name``."""

    def wrap(func: Callable[[Report, IO[bytes]], None]) -> Callable[[Report, IO[bytes]], None]:
        RENDERERS[name] = Renderer(name, filename, func)
        return func

    return wrap


def write_reports(report: Report, out_dir: Path, formats: Iterable[str]) -> list[Path]:
    """Write ``report.json`` always, then each requested format; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ["json", *(f for f in formats if f != "json")]
    written = []
    for name in dict.fromkeys(names):
        renderer = RENDERERS[name]
        path = out_dir / renderer.filename
        # Written beside, then moved into place: a render that fails half-way leaves
        # neither a cut-off report nor the loss of the previous one.
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("wb") as out:
                renderer.write(report, out)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        written.append(path)
    return written


# Fill the registry: one import per format module.
from audit.renderers import (  # noqa: E402
    html,  # noqa: F401
    json,  # noqa: F401
    junit,  # noqa: F401
    markdown,  # noqa: F401
    sarif,  # noqa: F401
)
