"""Errors that end an audit with exit code 2.

Each one names where the problem is (file and line, when known) and what is
wrong, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AuditError(Exception):
    """Base of every error the CLI turns into exit code 2."""

    def __init__(
        self,
        what: str,
        *,
        path: str | None = None,
        line: int | None = None,
        pointer: str | None = None,
    ) -> None:
        self.what = what
        self.path = path
        self.line = line
        self.pointer = pointer
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.pointer:
            where = f"{where} at {self.pointer}" if where else f"at {self.pointer}"
        return f"{where}: {self.what}" if where else self.what


class UsageError(AuditError):
    """A bad command-line argument or API parameter."""


class InputError(AuditError):
    """An input file that cannot be opened or read at all (records are not the issue)."""


class RuleFileError(AuditError):
    """A rule file that is not valid YAML/JSON or breaks the meta-schema."""


class LedgerError(AuditError):
    """A policy and consent ledger that cannot be trusted."""


class IdentitiesError(AuditError):
    """A known-identities list that cannot be read."""


class BaselineError(AuditError):
    """A baseline file that cannot be read."""


class NotTested(Exception):
    """Raised by a check to say it cannot decide on this run (with the reason)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotApplicable(Exception):
    """Raised by a cross-record check's ``finish`` when what it judges is not there to
    judge (k-anonymity of fewer devices than it needs): the rule is *not applicable*,
    and ``summary`` (JSON-ready, as a finish returns it) still goes to the report."""

    def __init__(self, reason: str, summary: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.summary = dict(summary or {})
