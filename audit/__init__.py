"""telemetry-audit: audit captured client telemetry against published data collection practices.

The public API is small: build :class:`ScanOptions`, call :func:`scan`, get a
:class:`Report`; :func:`load_rule_pack` loads and validates a rule directory.
Heavy modules (pandas) are imported only when a scan runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from audit.model import Finding, Report, RuleOutcome, Severity, Stage, Status
from audit.options import ScanOptions

if TYPE_CHECKING:
    from audit.rulepack import RulePack

__all__ = [
    "Finding",
    "Report",
    "RuleOutcome",
    "ScanOptions",
    "Severity",
    "Stage",
    "Status",
    "__version__",
    "load_rule_pack",
    "scan",
]


def scan(options: ScanOptions | None = None, /, **kwargs: Any) -> Report:
    """Scan inputs and return the :class:`Report` (the CLI prints and writes it).

    Either pass a :class:`ScanOptions`, or its fields as keywords, e.g.
    ``scan(inputs=("dump.jsonl",), ledger="policy.csv")``.
    """
    from audit.engine import scan as run

    if options is None:
        inputs = kwargs.pop("inputs")
        kwargs["inputs"] = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        for name, enum in (("stage", Stage), ("fail_on", Severity)):
            if isinstance(kwargs.get(name), str):
                kwargs[name] = enum(kwargs[name])
        options = ScanOptions(**kwargs)
    return run(options)


def load_rule_pack(directory: str | None = None) -> RulePack:
    """Load and validate a rule directory (the built-in pack by default)."""
    from audit.rulepack import load

    return load(directory)
