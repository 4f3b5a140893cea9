"""Command line: ``scan``, ``rules validate|list``, ``baseline create``, ``diff``.

Exit codes are a contract: 0 PASS; 1 FAIL, findings at or above ``--fail-on``; 2 the
audit could not run, with one line naming the file, the line and what is wrong —
never a traceback; 3 INCOMPLETE, part of the input or of the applicable rules went
unaudited (``--allow-incomplete`` exits 0 instead). pandas is imported only by ``scan``.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from audit import __version__
from audit.errors import AuditError, InputError, UsageError
from audit.fingerprint import printable
from audit.limits import DEFAULT_LIMITS, size_text
from audit.model import Severity, Stage

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3
PROG = "telemetry-audit"

EXIT_CODES_HELP = """\
verdict and exit codes:
  0  PASS        every applicable rule was tested on audited records; no active
                 finding at or above --fail-on
  1  FAIL        active findings at or above --fail-on (outranks INCOMPLETE)
  2  ERROR       the audit could not run: bad arguments, an unreadable input, an
                 invalid rule file, mapping, ledger or baseline, a rule that crashed
  3  INCOMPLETE  no record audited; records rejected or files skipped beyond
                 --max-rejected; or an applicable rule not tested for lack of input
                 (no --ledger, a field it needs never present) and not excluded with
                 --skip-rule. --allow-incomplete exits 0 instead (the report still
                 says INCOMPLETE)

severities, highest first: critical, high, medium, low, info
"""


def _formats() -> list[str]:
    from audit.renderers import RENDERERS

    return list(RENDERERS)


def _parse_formats(text: str) -> tuple[str, ...]:
    known = _formats()
    names = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {', '.join(unknown) or '(none)'} (choose from {', '.join(known)})"
        )
    return names


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _severities(text: str) -> tuple[Severity, ...]:
    """Exact severities, comma-separated (a set, unlike ``--fail-on``'s threshold)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no severity given")
    return tuple(dict.fromkeys(_severity(n) for n in names))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _max_rejected(text: str) -> Any:
    from audit.options import RejectLimit

    try:
        return RejectLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(text: str) -> str:
    """One ``NAME=VALUE`` of ``--limit``, checked now, applied in order later."""
    from audit.limits import DEFAULT_LIMITS

    try:
        DEFAULT_LIMITS.with_setting(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _jobs(text: str) -> int:
    """``auto`` (0: one process per core for large inputs) or a positive count."""
    return 0 if text.strip().lower() == "auto" else _positive(text)


_IN_USE = "_parser_in_use"


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors show the usage of the (sub)command that was given
    and suggest the closest option or choice: a newcomer's typo should cost a glance,
    not a read of the top-level ``--help``. Subcommand parsers are of this class too
    (``add_subparsers`` uses the class of its parent)."""

    _given: Sequence[str] = ()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(self._given, namespace)
        # A subcommand parses into a namespace of its own, copied into its parent's once
        # it is done: the first parser to mark the namespace is the innermost one in use.
        if not hasattr(namespace, _IN_USE):
            setattr(namespace, _IN_USE, self)
        return namespace, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        namespace, extras = self.parse_known_args(args, namespace)
        in_use: CommandParser = getattr(namespace, _IN_USE, self)
        delattr(namespace, _IN_USE)
        if extras:
            # argparse leaves options no subcommand knows to the top-level parser, whose
            # usage says nothing about them; the subcommand that was given reports them.
            in_use.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def error(self, message: str) -> NoReturn:
        """Print this parser's usage and the message, with a hint for mistyped options,
        and exit 2."""
        super().error(message + self._option_hint(message))

    def _option_hint(self, message: str) -> str:
        known = [s for action in self._actions for s in action.option_strings]
        # Compared without their dashes, which every option shares: with them, --bogus
        # would be "close" to --out.
        bare = {option.lstrip("-"): option for option in known}
        hints: dict[str, str] = {}
        for token in self._given:
            if token == "--":
                break
            name = token.split("=", 1)[0]
            if not name.startswith("-") or name == "-" or name in hints:
                continue
            if any(option.startswith(name) for option in known):
                continue  # known, or an abbreviation argparse accepts or calls ambiguous
            close = difflib.get_close_matches(name.lstrip("-"), bare, n=1)
            if close:
                hints[name] = bare[close[0]]
        if not hints:
            return ""
        if len(hints) == 1 and f"unrecognized arguments: {next(iter(hints))}" in message:
            return f"; did you mean {next(iter(hints.values()))}?"
        return "; did you mean " + ", ".join(f"{v} for {k}" for k, v in hints.items()) + "?"

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An invalid choice (a subcommand, ``--stage``, ``--engine``) names the closest."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            choices = [str(c) for c in action.choices or ()]
            close = difflib.get_close_matches(str(value), choices, n=1)
            if not close:
                raise
            raise argparse.ArgumentError(
                action, f"{exc.message}; did you mean {close[0]}?"
            ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the command line in the README)."""
    parser = CommandParser(
        prog=PROG,
        description="Audit captured client telemetry against its data collection "
        "practices and write compliance reports.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser(
        "scan",
        help="scan dumps and write reports",
        description="Scan telemetry dumps (files or folders) and write "
        "report.json plus the requested formats.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="dump files or folders (.jsonl .ndjson .json .csv .parquet .har, each optionally .gz)",
    )
    scan.add_argument("--rules", metavar="DIR", help="rule directory (default: built-in pack)")
    scan.add_argument("--ledger", metavar="FILE", help="policy and consent ledger (CSV or JSONL)")
    scan.add_argument("--identities", metavar="FILE", help="known identities (CSV kind,value)")
    scan.add_argument(
        "--mapping",
        metavar="NAME|FILE",
        help="field mapping for events not in the reference format: a shipped one by name "
        "(common-schema, application-insights; see 'mappings list') or a YAML file",
    )
    scan.add_argument(
        "--stage",
        choices=[s.value for s in Stage],
        default=Stage.TRANSIT.value,
        help="transit: what a client sent (default); stored: what the service kept",
    )
    scan.add_argument(
        "--stored",
        nargs="+",
        default=[],
        metavar="PATH",
        help="dumps of what the service stored, audited as the stored stage in the same scan "
        "(the INPUTs are the --stage capture): stored ids are compared with the sent ones",
    )
    scan.add_argument(
        "--format",
        dest="formats",
        type=_parse_formats,
        default=None,
        metavar="FMT[,FMT...]",
        help="output formats (default: all); report.json is always written",
    )
    scan.add_argument("--out", metavar="DIR", default="reports", help="output folder (reports/)")
    scan.add_argument(
        "--fail-on",
        type=_severity,
        default=Severity.HIGH,
        metavar="SEVERITY",
        help="FAIL (exit 1) on active findings at or above this severity: critical, high, "
        "medium, low or info (default: high)",
    )
    scan.add_argument(
        "--skip-rule",
        dest="skip_rules",
        action="append",
        default=[],
        metavar="ID|GLOB",
        help="leave a rule out of this audit (repeatable; globs such as 'error/*'): it is "
        "reported as excluded and cannot make the verdict INCOMPLETE",
    )
    scan.add_argument(
        "--max-rejected",
        type=_max_rejected,
        default=None,
        metavar="N|P%",
        help="records rejected plus files skipped that still allow PASS: a count or a "
        "percentage (default 0: any makes the verdict INCOMPLETE)",
    )
    scan.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 instead of 3 when the verdict is INCOMPLETE (the reports still say so)",
    )
    scan.add_argument(
        "--baseline", metavar="FILE", help="accepted findings (fingerprint, reason, owner, expiry)"
    )
    scan.add_argument(
        "--limit",
        dest="limits",
        action="append",
        default=[],
        type=_limit,
        metavar="NAME=VALUE",
        help="raise or lower a bound on what untrusted input may cost (repeatable; sizes "
        "take KiB, MiB, GiB): " + ", ".join(
            f"{name} (default {size_text(value)})" for name, value in DEFAULT_LIMITS.describe()
            .items()) + ". A record or input past a limit is rejected and counted",
    )
    scan.add_argument(
        "--engine",
        choices=["pandas", "dask"],
        default="pandas",
        help="pandas (default, streamed) or dask (a dask.distributed cluster)",
    )
    scan.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask scheduler address (default: a local cluster)"
    )
    scan.add_argument(
        "--jobs",
        type=_jobs,
        default=0,
        metavar="N|auto",
        help="pandas engine: scan in N processes, large JSON Lines files cut into parts "
        "(default auto: one per core once the inputs reach 64 MiB)",
    )
    scan.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="workers of the local dask cluster (default: one per core)",
    )
    scan.add_argument(
        "--chunk-rows",
        type=_positive,
        default=None,
        metavar="N",
        help="records per chunk (default 100000; fewer when the records bring many keys)",
    )
    scan.add_argument(
        "--show-evidence",
        action="store_true",
        help="write raw values instead of masked evidence (local debugging only)",
    )
    scan.add_argument("--quiet", action="store_true", help="print only errors")

    rules = commands.add_parser("rules", help="inspect rule files")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    where = "a rule folder or one rule file (default: the built-in pack)"
    validate = rule_commands.add_parser("validate", help="check rule files against the meta-schema")
    validate.add_argument("path", nargs="?", metavar="DIR|FILE", help=where)
    listing = rule_commands.add_parser("list", help="list rules, categories and severities")
    listing.add_argument("path", nargs="?", metavar="DIR|FILE", help=where)

    mappings = commands.add_parser("mappings", help="inspect field mappings")
    mapping_commands = mappings.add_subparsers(dest="mappings_command", required=True,
                                               metavar="ACTION")
    mapping_commands.add_parser("list", help="the shipped mappings, by name")
    show = mapping_commands.add_parser("show", help="print a mapping (validated first)")
    show.add_argument("mapping", metavar="NAME|FILE", help="a shipped mapping or a file")
    check = mapping_commands.add_parser("validate", help="check a mapping file")
    check.add_argument("mapping", metavar="NAME|FILE", help="a shipped mapping or a file")

    baseline = commands.add_parser("baseline", help="accept the findings of a report")
    baseline_commands = baseline.add_subparsers(dest="baseline_command", required=True,
                                                metavar="ACTION")
    create = baseline_commands.add_parser(
        "create", help="write a baseline accepting the findings of a report.json",
        description="Accept the findings of a report.json (all of them, or those "
        "--rule and --severity select) for a reason, by an owner, until a date.")
    create.add_argument("report", metavar="REPORT", help="a report.json written by scan")
    create.add_argument("--reason", required=True, help="why these findings are accepted")
    create.add_argument("--owner", required=True, help="who answers for the acceptance")
    create.add_argument("--expires", required=True, metavar="YYYY-MM-DD",
                        help="last day the acceptance holds (today or later, UTC)")
    create.add_argument("--rule", dest="rules", action="append", default=[], metavar="ID|GLOB",
                        help="accept only findings of this rule (repeatable; globs such as "
                        "'census/*')")
    create.add_argument("--severity", dest="severities", type=_severities, default=(),
                        metavar="SEV[,SEV...]",
                        help="accept only findings of these severities (e.g. low,info); "
                        "with --rule, a finding must match both")
    create.add_argument("--out", metavar="FILE", help="write here instead of standard output")

    diff = commands.add_parser("diff", help="new, fixed and unchanged findings of two reports",
                               description="Compare two report.json files; exit 1 when the "
                               "new one has findings the old one did not.")
    diff.add_argument("old", metavar="OLD.json")
    diff.add_argument("new", metavar="NEW.json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)  # argparse exits 2 with a usage line
    try:
        if args.command == "scan":
            return _scan(args, args_list)
        if args.command == "baseline":
            return _baseline(args)
        if args.command == "diff":
            return _diff(args)
        if args.command == "mappings":
            return _mappings(args)
        return _rules(args)
    except AuditError as exc:
        # A path of bytes that are not UTF-8 is named as the reports name it (\xff).
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, and exit 2
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {printable(str(exc))} "
            "(please report this)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _scan(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from audit.engine import scan
    from audit.model import Status
    from audit.options import DEFAULT_CHUNK_ROWS, RejectLimit, ScanOptions
    from audit.renderers import write_reports
    from audit.renderers.terminal import render_terminal

    if args.engine == "pandas" and (args.scheduler or args.workers):
        raise UsageError("--scheduler and --workers need --engine dask")
    _check_out_folder(args.out)
    options = ScanOptions(
        inputs=tuple(args.inputs),
        stored=tuple(args.stored),
        rules=args.rules,
        ledger=args.ledger,
        identities=args.identities,
        mapping=args.mapping,
        stage=Stage(args.stage),
        fail_on=args.fail_on,
        baseline=args.baseline,
        formats=args.formats or tuple(_formats()),
        out_dir=Path(args.out),
        show_evidence=args.show_evidence,
        chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS,
        engine=args.engine,
        scheduler=args.scheduler,
        workers=args.workers,
        jobs=args.jobs,
        command=shlex.join([PROG, *argv]),
        quiet=args.quiet,
        skip_rules=tuple(args.skip_rules),
        max_rejected=args.max_rejected or RejectLimit(),
        allow_incomplete=args.allow_incomplete,
        limits=_limits(args.limits),
    )
    report = scan(options)
    try:
        written = write_reports(report, options.out_dir, options.formats)
    except OSError as exc:
        raise AuditError(
            f"cannot write reports: {exc.strerror or exc}", path=str(options.out_dir)
        ) from None
    if not args.quiet:
        print(render_terminal(report, written))
    errors = [o for o in report.outcomes if o.status is Status.ERROR]
    if errors:
        for outcome in errors:
            print(
                f"{PROG}: error: rule {outcome.rule} failed to run: {outcome.reason}",
                file=sys.stderr,
            )
        return EXIT_ERROR
    return exit_code(report, allow_incomplete=options.allow_incomplete)


def _check_out_folder(out: str) -> None:
    """``--out`` is a folder, created when missing. ``--out report.html`` is an easy
    slip; it must stop the run before a long scan, not when the reports are written."""
    path = Path(out)
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return
        if candidate.exists() or candidate.is_symlink():
            what = "a file" if candidate.is_file() else "not a folder"
            if candidate == path:
                raise UsageError(f"--out takes a folder, and this is {what}", path=out)
            raise UsageError(f"--out takes a folder, and {candidate} is {what}", path=out)


def _limits(settings: Sequence[str]) -> Any:
    from audit.limits import DEFAULT_LIMITS

    limits = DEFAULT_LIMITS
    for setting in settings:
        limits = limits.with_setting(setting)
    return limits


def exit_code(report: Any, *, allow_incomplete: bool = False) -> int:
    """0 PASS, 1 FAIL, 3 INCOMPLETE (0 when allowed)."""
    if report.failed:
        return EXIT_FINDINGS
    if report.incomplete and not allow_incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from audit.rulepack import iter_rule_rows, load, load_file

    path = None if args.path is None else Path(args.path)
    one_file = path is not None and path.is_file()
    if path is None or path.is_dir():
        pack = load(path)
    elif one_file:
        pack = load_file(path)
    elif path.exists():
        raise UsageError("neither a rule folder nor a rule file", path=args.path)
    else:
        raise UsageError("does not exist (expected a rule folder or a rule file)",
                         path=args.path)
    if args.rules_command == "validate":
        files, rules = _count(len(pack.files), "rule file"), _count(len(pack.rules), "rule")
        where = (f"category {', '.join(pack.categories)}" if one_file
                 else _count(len(pack.categories), "category", "categories"))
        print(f"{files} valid: {rules} in {where} ({pack.directory}, {pack.digest})")
        return EXIT_OK
    print(
        tabulate(
            list(iter_rule_rows(pack)), headers=("rule", "category", "severity", "kind", "title")
        )
    )
    return EXIT_OK


def _mappings(args: argparse.Namespace) -> int:
    """``mappings list|show|validate``: what a capture in another format can be read with."""
    from tabulate import tabulate

    from audit.mapping import load_mapping, shipped

    if args.mappings_command == "list":
        rows = []
        for name, path in sorted(shipped().items()):
            mapping = load_mapping(str(path))
            rows.append((name, mapping.description, len(mapping.fields),
                         mapping.route.field if mapping.route else ""))
        print(tabulate(rows, headers=("mapping", "description", "fields", "routed by")))
        return EXIT_OK
    mapping = load_mapping(args.mapping)
    if args.mappings_command == "show":
        print(Path(mapping.path).read_text("utf-8"), end="")
        return EXIT_OK
    print(f"{printable(mapping.path)} valid: {_count(len(mapping.fields), 'field')}"
          + (f", routed by {mapping.route.field}" if mapping.route else ""))
    return EXIT_OK


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _read_report(path: str) -> dict[str, Any]:
    """A report.json from disk; unreadable or non-report files are exit 2."""
    import json

    from audit.marked import read_text

    try:
        doc = json.loads(read_text(path, InputError, "report"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if isinstance(doc, dict) and "entries" in doc and "findings" not in doc:
        raise InputError("this is a baseline, not a scan report: give the report.json "
                         "a scan wrote", path=path)
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise InputError("not a telemetry-audit report (no findings list)", path=path)
    return doc


def _baseline(args: argparse.Namespace) -> int:
    from audit.baseline import create_baseline, dump_baseline, select_findings

    report = _read_report(args.report)
    doc = create_baseline(report, reason=args.reason, owner=args.owner, expires=args.expires,
                          rules=args.rules, severities=args.severities, path=args.report)
    accepted = select_findings(report["findings"], rules=args.rules, severities=args.severities)
    text = dump_baseline(doc)
    if args.out:
        try:
            Path(args.out).write_text(text, "utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write baseline: {exc.strerror}", path=args.out) from None
        entries = len(doc["entries"])
        print(f"wrote {args.out}: accepted {_count(len(accepted), 'finding')} "
              f"({_count(entries, 'entry', 'entries')} by rule and fingerprint) "
              f"until {args.expires}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from audit.diff import diff_reports, render_diff_text

    result = diff_reports(_read_report(args.old), _read_report(args.new))
    print(render_diff_text(result))
    return EXIT_FINDINGS if result.new else EXIT_OK
