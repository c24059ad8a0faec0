"""The command line: ``mockseg serve`` and ``mockseg validate``."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mockseg._version import __version__
from mockseg.cdn import CdnSettingsError
from mockseg.conform import PLACEHOLDERS
from mockseg.guard import is_loopback as _is_loopback
from mockseg.journal import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, Record
from mockseg.logline import printable
from mockseg.rules import MESSAGE_TYPES, Limits
from mockseg.serving import IDLE_TIMEOUT
from mockseg.tls import TlsError
from mockseg.validation import check_batch, validate

if TYPE_CHECKING:
    from mockseg.plans import Mode, PlanViolation, TrackingPlan, Unplanned

__all__ = ["format_record", "load_tracking_plan", "main"]

call_log = logging.getLogger("mockseg.calls")


def format_record(record: Record) -> str:
    """One concise line for a call: HTTP status, verdict, type, groupId, first error."""
    verdict = "fault" if record.fault else record.status
    if record.status == "accepted" and record.warnings:
        verdict = "warning"
    group_id = record.group_id
    who = f"groupId={group_id}" if isinstance(group_id, str) and group_id else ""
    line = f"{record.http_status} {verdict:<8} {record.path:<12} {record.type or '-':<8} {who}"
    problem = record.errors[0] if record.errors else (
        record.warnings[0] if record.warnings else None)
    if problem is not None:
        line += f"  {problem.field}: {problem.message}"
    if record.violations:
        broken = record.violations[0]
        line += f"  violation {broken.field}: {broken.description}"
    return printable(line.rstrip())


def _log_records(records: Sequence[Record]) -> None:
    """A request's lines, one per record, written together (one write and flush for a batch
    of 100, not 100); :class:`_LineFormatter` puts the time before each."""
    call_log.info("%s", "\n".join(format_record(record) for record in records))


class _LineFormatter(logging.Formatter):
    """``HH:MM:SS message``, the time before every line of a message of several lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)  # sets record.asctime, the first line's time
        if "\n" not in text:
            return text
        first, _, rest = text.partition("\n")
        return "\n".join([first, *(f"{record.asctime} {line}" for line in rest.split("\n"))])


def _limits(args: argparse.Namespace) -> Limits:
    if args.group_id_pattern is None:
        return Limits()
    try:
        return Limits(group_id_pattern=args.group_id_pattern)
    except ValueError as exc:
        raise SystemExit(f"mockseg: {exc}") from None


#: ``mockseg serve``'s first-generation collection threshold (Python's default is 700).
GC_THRESHOLD = 10_000


def _tune_gc() -> None:
    """Tune the collector of ``mockseg serve``'s own process, once it is serving.

    Each recorded message allocates a few container objects and frees almost none (the journal
    keeps them), so at Python's default threshold of 700 a batch of 100 triggers a collection
    every few requests, each walking the young records for nothing: cycles are rare here. The
    objects of start-up are moved out of the collector's sight (``gc.freeze``), and collections
    run every 10,000 new containers. Only the standalone server does this: ``MockSegment`` in
    a user's test process leaves that process's collector alone.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def serve(args: argparse.Namespace) -> int:
    """Run the standalone server until SIGINT or SIGTERM."""
    from mockseg.server import Fake

    if not args.quiet:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_LineFormatter())
        call_log.addHandler(handler)
        call_log.setLevel(logging.INFO)
        call_log.propagate = False
    token = args.admin_token if args.admin_token is not None else os.environ.get(
        "MOCKSEG_ADMIN_TOKEN")
    if token is not None and not token.strip():
        where = "--admin-token" if args.admin_token is not None else "MOCKSEG_ADMIN_TOKEN"
        print(f"mockseg: {where} is empty, which would leave the admin API open; give a token "
              "(or unset it for none)", file=sys.stderr)
        return 2
    allow_hosts = [*(args.allow_host or ()), *_names(os.environ.get("MOCKSEG_ALLOW_HOSTS", ""))]
    if token is None and not _is_loopback(args.host):
        print(f"mockseg: warning: {args.host} is reachable from other machines and the admin "
              "API (which can read and erase every call) has no token; pass --admin-token",
              file=sys.stderr)
    plan = load_tracking_plan(args.tracking_plan, args.unplanned, args.tracking_plan_mode)
    if (args.tls_cert is None) != (args.tls_key is None):
        print("mockseg: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if (args.tls_host or args.tls_ca_dir) and not args.tls:
        print("mockseg: --tls-host and --tls-ca-dir are options of --tls", file=sys.stderr)
        return 2
    try:
        fake = Fake(
            mode=args.mode,
            write_keys=args.write_key,
            limits=_limits(args),
            host=args.host,
            port=args.port,
            on_records=None if args.quiet else _log_records,
            journal=args.journal,
            max_records=args.max_records or None,
            max_journal_bytes=args.max_journal_bytes or None,
            admin_token=token,
            allow_hosts=allow_hosts,
            idle_timeout=args.idle_timeout,
            tls=args.tls,
            tls_hosts=args.tls_host or (),
            tls_cert=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            tls_ca_dir=args.tls_ca_dir,
            cdn_settings=args.settings,
            tracking_plan=plan,
        )
    except CdnSettingsError as exc:
        print(f"mockseg: cannot serve the settings: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:
        print(f"mockseg: cannot open the journal {args.journal}: {exc}", file=sys.stderr)
        return 1
    try:
        fake.start()
    except TlsError as exc:
        fake.journal.close()
        print(f"mockseg: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        fake.journal.close()
        print(f"mockseg: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    _tune_gc()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"mockseg listening on {fake.url}", flush=True)
    if fake.ca_file is not None:
        print(f"mockseg CA certificate: {fake.ca_file}", flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        fake.close()  # in-flight requests are answered, then the journal is flushed and closed
    return 0


def _port(text: str) -> int:
    """A TCP port for --port: 0 to 65535 (0 picks a free one)."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0 to 65535")
    return port


def _count(text: str, *, hint: str = "") -> int:
    """A whole number of at least 0, for argparse."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative{hint}")
    return value


def _bound(text: str) -> int:
    """A bound for --max-records or --max-journal-bytes: a whole number, 0 for no bound."""
    return _count(text, hint="; 0 means no bound")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, as ``mockseg serve: error: ...``, exit 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _names(text: str) -> list[str]:
    """Names from a comma-separated list (``MOCKSEG_ALLOW_HOSTS``)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text("utf-8")


def load_tracking_plan(path: str | None, unplanned: Unplanned = "violate",
                       mode: Mode = "record") -> TrackingPlan | None:
    """The plan of ``--tracking-plan``, or None; a plan that cannot be used exits with status 2
    and one line naming the file, the rule and the reason."""
    if path is None:
        return None
    from mockseg.plans import TrackingPlanError, load_plan

    try:
        return load_plan(path, mode=mode, unplanned=unplanned)
    except TrackingPlanError as exc:
        print(f"mockseg: cannot use the tracking plan {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _plan_violations(plan: TrackingPlan | None, message: Any,
                     kind: str | None) -> list[PlanViolation]:
    """The message's (or each batch item's, fields prefixed) violations of the plan."""
    if plan is None:
        return []
    if isinstance(message, dict) and "batch" in message and kind is None:
        items = message["batch"] if isinstance(message["batch"], list) else []
        return [violation for index, item in enumerate(items)
                for violation in plan.check(item, None, prefix=f"batch[{index}].")]
    if kind is None:
        declared = message.get("type") if isinstance(message, dict) else None
        kind = declared if declared in MESSAGE_TYPES else "group"
    return plan.check(message, kind)


def validate_files(args: argparse.Namespace) -> int:
    """Check payload files; print every error, warning and violation of the tracking plan;
    1 if any file has an error or a violation."""
    limits = _limits(args)
    plan = load_tracking_plan(args.tracking_plan, args.unplanned)
    invalid = False
    for name in args.files:
        label = "<stdin>" if name == "-" else name
        try:
            message = json.loads(_read(name))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"{label}: error: cannot read JSON: {exc}")
            invalid = True
            continue
        if isinstance(message, dict) and "batch" in message and args.kind is None:
            items, problems = check_batch(message, limits)
            problems += [e for item in items for e in item.errors]
            problems += [w for item in items for w in item.warnings]
        else:
            problems = validate(message, args.kind, limits=limits)
        violations = _plan_violations(plan, message, args.kind)
        if not any(p.severity == "error" for p in problems) and not violations:
            print(f"{label}: ok" + (f" ({len(problems)} warning(s))" if problems else ""))
        else:
            invalid = True
        for problem in problems:
            print(f"{label}: {problem.severity}: {problem.field}: {problem.message}")
        for violation in violations:
            print(f"{label}: violation: {violation.field}: {violation.description}")
    return 1 if invalid else 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mockseg", description="A contract-checking fake of Segment's Tracking API."
    )
    parser.add_argument("--version", action="version", version=f"mockseg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    run = commands.add_parser("serve", help="run the standalone server")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=_port, default=8765,
                     help="port, 0 to 65535 (default 8765; 0 picks one)")
    run.add_argument("--mode", choices=("strict", "segment"), default="strict",
                     help="strict answers invalid calls with 400; segment answers 200 like "
                          "production and only records the errors (default strict)")
    run.add_argument("--write-key", action="append", metavar="K",
                     help="accept only this write key (repeat for several); default: any key")
    run.add_argument("--group-id-pattern", metavar="REGEX",
                     help="regular expression a whole groupId must match")
    run.add_argument("--journal", metavar="FILE",
                     help="keep the journal in this SQLite file (WAL mode): every answered call "
                          "is committed first, kept across restarts, shareable by processes")
    run.add_argument("--max-records", type=_bound, default=DEFAULT_MAX_RECORDS, metavar="N",
                     help=f"records the in-memory journal keeps before evicting the oldest "
                          f"(default {DEFAULT_MAX_RECORDS}; 0 for no bound)")
    run.add_argument("--max-journal-bytes", type=_bound, default=DEFAULT_MAX_BYTES, metavar="N",
                     help=f"bytes of records (their JSON, plus 1 KB each) the in-memory journal "
                          f"keeps before evicting the oldest (default {DEFAULT_MAX_BYTES}, "
                          f"{DEFAULT_MAX_BYTES // 2**20} MB; 0 for no bound)")
    run.add_argument("--admin-token", metavar="T",
                     help="require 'Authorization: Bearer T' on the /__mockseg/ admin API "
                          "(default: $MOCKSEG_ADMIN_TOKEN; an empty token is an error)")
    run.add_argument("--allow-host", action="append", metavar="NAME",
                     help="also serve the admin API and the journal page to Host NAME (repeat "
                          "for several; *.NAME for its subdomains; also $MOCKSEG_ALLOW_HOSTS, "
                          "comma-separated): on loopback only localhost, *.localhost, 127.0.0.1 "
                          "and [::1] are, against DNS rebinding")
    run.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT, metavar="SEC",
                     help=f"close a keep-alive connection idle (or a body stalled) this long "
                          f"(default {IDLE_TIMEOUT:g})")
    run.add_argument("--tls", action="store_true",
                     help="serve HTTPS, with a certificate from a local CA made at start (its PEM "
                          "file's path is printed); Swift, Kotlin, C# and PHP need it")
    run.add_argument("--tls-host", action="append", metavar="NAME",
                     help="also cover NAME in the certificate (repeat for several; localhost, "
                          "127.0.0.1 and ::1 always are)")
    run.add_argument("--tls-ca-dir", metavar="DIR",
                     help="keep the local CA in DIR and reuse it on the next start, so a device "
                          "trusts it once (its key is readable by you only)")
    run.add_argument("--tls-cert", metavar="FILE",
                     help="serve HTTPS with your own certificate (PEM; needs --tls-key)")
    run.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    run.add_argument("--settings", metavar="FILE",
                     help="serve this JSON document as analytics.js's CDN settings "
                          "(/v1/projects/KEY/settings); its Segment.io destination is pointed "
                          "here unless it names an apiHost")
    run.add_argument("--tracking-plan", metavar="FILE",
                     help="check every message against this tracking plan too (Segment's export "
                          "of its rules); each record carries its violations")
    run.add_argument("--tracking-plan-mode", choices=("record", "block"), default="record",
                     help="record: violations change no answer, as in production (default); "
                          "block: a message with violations is answered like a contract error")
    run.add_argument("--unplanned", choices=("allow", "violate", "block"), default="violate",
                     help="a track event the plan does not name: allowed, a violation (default) "
                          "or blocked")
    run.add_argument("--quiet", action="store_true", help="do not log a line per call")
    run.set_defaults(func=serve)

    check = commands.add_parser("validate", help="check payload files against the contract "
                                "(and a tracking plan)")
    check.add_argument("files", nargs="+", metavar="FILE", help="JSON payload file, or - for stdin")
    check.add_argument("--kind", choices=MESSAGE_TYPES,
                       help="check as this message type (default: the payload's type, or group)")
    check.add_argument("--group-id-pattern", metavar="REGEX",
                       help="regular expression a whole groupId must match")
    check.add_argument("--tracking-plan", metavar="FILE",
                       help="also check against this tracking plan: Segment's export of its "
                            "rules (GET /tracking-plans/{id}/rules), or the list of rules; "
                            "violations are printed and make the exit status 1")
    check.add_argument("--unplanned", choices=("allow", "violate", "block"), default="violate",
                       help="with --tracking-plan: whether a track event the plan does not "
                            "name is a violation (allow: no; violate, block: yes; default "
                            "violate)")
    check.set_defaults(func=validate_files)

    conform = commands.add_parser(
        "conform", help="check an SDK in any language against the contract",
        usage="mockseg conform [options] -- CMD ARGS...",
        description="Run CMD once per case, with placeholders in its arguments replaced by the "
                    "case's values: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                    + ". JSON values ({traits}, {context}, {integrations}) are compact JSON; a "
                    "value the case does not have is an empty string.")
    conform.add_argument("--cases", type=int, default=20, metavar="N",
                         help="cases per suite (default 20)")
    conform.add_argument("--seed", type=int, default=0, metavar="S",
                         help="seed for drawing cases; the same seed gives the same cases")
    conform.add_argument("--jobs", type=int, default=1, metavar="J",
                         help="cases run at once (default 1)")
    conform.add_argument("--timeout", type=float, default=10.0, metavar="SEC",
                         help="time allowed per case (doubled for --retry; default 10)")
    conform.add_argument("--case-file", action="store_true",
                         help="also give each case as a JSON object on the command's stdin")
    conform.add_argument("--invalid", action="store_true",
                         help="run the invalid-input suite: what does the SDK do with calls "
                              "that break a rule?")
    conform.add_argument("--retry", action="store_true",
                         help="run the retry suite: 503 and 429 with Retry-After are injected")
    conform.add_argument("--stateful", type=_count, default=0, metavar="N",
                         help="also run N sequences of the stateful delivery machine: valid "
                              "and invalid calls among planned answers from Segment's retry "
                              "table, one run of CMD a call; a failure is shrunk to its "
                              "shortest sequence")
    conform.add_argument("--tracking-plan", metavar="FILE",
                         help="also check every call against this tracking plan (Segment's "
                              "export of its rules): valid and retry cases are drawn from it "
                              "and fail on any violation")
    conform.add_argument("--plan-violations", action="store_true",
                         help="with --tracking-plan, run the plan suite: calls that break one "
                              "constraint of the plan, and what the SDK did with them "
                              "(informational: never a failure)")
    conform.add_argument("--only", action="store_true",
                         help="with --invalid, --retry, --plan-violations or --stateful, skip "
                              "the valid suite")
    conform.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report")
    conform.add_argument("--json", dest="json_path", metavar="FILE",
                         help="write a JSON report")
    conform.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...")
    conform.set_defaults(func=conform_command)
    return parser


def conform_command(args: argparse.Namespace) -> int:
    """Run ``mockseg conform``."""
    from mockseg.conform import run_conformance

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("mockseg conform: give the command to run after --", file=sys.stderr)
        return 2
    if args.plan_violations and args.tracking_plan is None:
        print("mockseg conform: --plan-violations needs --tracking-plan", file=sys.stderr)
        return 2
    plan = load_tracking_plan(args.tracking_plan)
    chosen = args.invalid or args.retry or args.plan_violations or args.stateful
    suites = [] if args.only and chosen else ["valid"]
    suites += ["invalid"] * args.invalid + ["retry"] * args.retry
    suites += ["plan"] * args.plan_violations
    return run_conformance(
        command, suites=suites, cases=args.cases, seed=args.seed, jobs=args.jobs,
        timeout=args.timeout, case_file=args.case_file, junit_xml=args.junit_xml,
        json_path=args.json_path, stateful=args.stateful, tracking_plan=plan)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mockseg`` command."""
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
