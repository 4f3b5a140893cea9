"""What a scan was asked to do, as one frozen value (from the CLI or the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.model import Severity, Stage

DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """Parameters of one scan; paths are kept as given so reports show them as typed."""

    inputs: tuple[str, ...]
    rules: str | None = None
    ledger: str | None = None
    identities: str | None = None
    mapping: str | None = None
    stage: Stage = Stage.TRANSIT
    fail_on: Severity = Severity.HIGH
    baseline: str | None = None
    formats: tuple[str, ...] = ("json",)
    out_dir: Path = Path("reports")
    show_evidence: bool = False
    key: str | None = field(default=None, repr=False)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    engine: str = "pandas"
    scheduler: str | None = None
    workers: int | None = None
    #: processes of the pandas engine; 0 picks one per core once the inputs are large
    jobs: int = 0
    command: str | None = None
    quiet: bool = False
