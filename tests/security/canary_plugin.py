"""Whole-suite canary log scan: the suite runs with canary personal data and live tokens, and
the logs it produces contain none of them.

On by default (registered from tests/conftest.py); `--no-canary` turns it off.

- Canary values: the personal data tests/factories.py makes (CANARY_VALUES there), the fixed
  values below that tests/security/test_canary_logs.py drives through the main flows, and every
  raw participant-link token measures.links.link_issue hands out during the run, and every
  secret registered in ISSUED_SECRETS (the FHIR tests' OAuth client secrets and tokens).
- Capture: every record at DEBUG and above from every logger, whatever the logger's level and
  whether or not it propagates. Logger.isEnabledFor is widened and Logger.handle sees each
  record first; records that only exist because of the widening go no further, so handlers,
  caplog and the console get exactly what they would have got anyway.
- What is scanned is what would be written: for each handler a record reaches (following
  propagation), the handler's own filters (the redacting filter settings.LOGGING puts on the
  console handler, as it was when the session started) run on a copy of the record, then its
  message, arguments, exception text and stack are kept. A record no handler would take is
  kept as logged. Database queries are refused while a record is formatted (a repr can run
  one), so query-counting tests count what they would count without the scan.
- At the end of the session every kept text is scanned for every printed form of every value;
  a hit fails the run and is reported by kind, logger, logging call and test, never by value.
  Hits only in the text before the redacting filter are listed for information.
- Not covered: what other processes log (the reminder tests' worker processes, browsers).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import logging
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The canary values of tests/security/test_canary_logs.py's main-flow test.
NAME = ("Canaryname", "Zzyzx")
EMAIL = "canary.zzyzx@example.com"
PHONE = "07700 900999"
NHS_NUMBER = "9434765919"

PLUGIN_NAME = "canary-log-scan"
# Secrets tests make outside measures.links (OAuth client secrets, access tokens): scanned
# for as tokens are.
ISSUED_SECRETS: set[str] = set()
MAX_REPORTED = 40  # findings printed
TESTS_LISTED = 3  # tests printed per finding
_ROOT = str(Path(__file__).resolve().parents[2])
# A participant-link token's first characters are enough to find its row by prefix.
TOKEN_PREFIX = 16
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_PREFIX},}}")
_SUMMARY_KINDS = [
    ("names", ("given name", "family name", "staff name")),
    ("emails", ("email",)),
    ("phones", ("phone",)),
    ("NHS numbers", ("NHS number",)),
    ("dates of birth", ("date of birth",)),
]


def phone_forms(phone: str) -> list[str]:
    """A UK number as it is printed: spaced, digits only, +44, +44 spaced, without the 0."""
    digits = re.sub(r"\D", "", str(phone))
    national = "0" + digits[2:] if digits.startswith("44") else digits
    return [
        f"{national[:5]} {national[5:]}",
        national,
        "+44" + national[1:],
        f"+44 {national[1:5]} {national[5:]}",
        national[1:],
    ]


def nhs_number_forms(number: str) -> list[str]:
    n = re.sub(r"\D", "", number)
    return [n, f"{n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}"]


def date_forms(value: datetime.date) -> list[str]:
    return [
        value.isoformat(),
        value.strftime("%d/%m/%Y"),
        f"{value.day} {value.strftime('%B %Y')}",
        repr(value),
    ]


def _trie_pattern(words) -> str:
    """One regular expression matching any of `words`, longest first, built as a trie so that
    thousands of values cost little more than one."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class CanaryValues:
    """The values to look for, by kind, and a matcher for all their printed forms."""

    def __init__(self):
        self.values: dict[str, set] = collections.defaultdict(set)
        self.tokens: set[str] = set()

    def add(self, kind: str, value) -> None:
        if value:
            self.values[kind].add(value)

    def add_token(self, token: str) -> None:
        if token and len(token) >= TOKEN_PREFIX:
            self.tokens.add(token)

    def forms(self, kind: str, value) -> list[str]:
        if kind == "phone":
            return phone_forms(value)
        if kind == "NHS number":
            return nhs_number_forms(value)
        if isinstance(value, datetime.date):
            return date_forms(value)
        return [str(value)]

    def counts(self) -> dict[str, int]:
        counts = {label: sum(len(self.values[k]) for k in kinds) for label, kinds in _SUMMARY_KINDS}
        counts["tokens"] = len(self.tokens)
        return counts

    def matcher(self) -> Matcher:
        kind_of = {}
        for kind, values in self.values.items():
            for value in values:
                for form in self.forms(kind, value):
                    kind_of.setdefault(form.lower(), kind)
        prefixes = {token[:TOKEN_PREFIX]: token for token in self.tokens}
        return Matcher(kind_of, prefixes)


class Matcher:
    def __init__(self, kind_of: dict[str, str], token_prefixes: dict[str, str]):
        self.kind_of = kind_of
        self.pattern = re.compile(_trie_pattern(kind_of)) if kind_of else None
        self.token_prefixes = token_prefixes

    def kinds_in(self, text: str) -> list[str]:
        """The kind of every canary form in `text`, one entry per occurrence."""
        found = []
        if self.pattern is not None:
            found.extend(self.kind_of[m.group()] for m in self.pattern.finditer(text.lower()))
        if self.token_prefixes:
            for run in _TOKEN_RUN.findall(text):
                for i in range(len(run) - TOKEN_PREFIX + 1):
                    token = self.token_prefixes.get(run[i : i + TOKEN_PREFIX])
                    if token is not None:
                        whole = run.startswith(token, i)
                        found.append("token" if whole else "token (first 16 characters)")
        return found


def record_text(record: logging.LogRecord) -> str:
    """Everything a record carries that a handler writes: message, arguments, exception, stack."""
    try:
        message = record.getMessage()
    except Exception:
        message = str(record.msg)
    parts = [message]
    if record.args:
        try:
            parts.append(repr(record.args))
        except Exception:
            parts.append("(arguments without a repr)")
    if record.exc_text:
        parts.append(record.exc_text)
    elif record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class QueryRefused(Exception):
    pass


def _refuse(execute, sql, params, many, context):
    raise QueryRefused("no queries while a log record is captured")


@contextlib.contextmanager
def _queries_refused():
    with contextlib.ExitStack() as stack:
        if "django.db" in sys.modules:
            from django.db import connections

            for connection in connections.all(initialized_only=True):
                stack.enter_context(connection.execute_wrapper(_refuse))
        yield


@dataclass
class Captured:
    test: int  # index into LogCapture.tests, -1 outside any test
    logger: str
    site: str  # where the logging call is: path:line
    msg: str  # the message before its arguments are put in (usually a format string)
    line: str  # the start of the message as written
    written: str | None  # None when no handler would write it
    raw: str | None  # None when the same as written


@dataclass
class Finding:
    """One kind of canary value from one logging call, with the tests it happened in."""

    kind: str
    logger: str
    site: str
    msg: str
    tests: collections.Counter = field(default_factory=collections.Counter)

    @property
    def records(self) -> int:
        return sum(self.tests.values())


@dataclass
class ScanResult:
    records: int
    tests: int
    capture_errors: int = 0
    found: list[Finding] = field(default_factory=list)
    before_redaction: list[Finding] = field(default_factory=list)

    @property
    def found_count(self) -> int:
        return sum(f.records for f in self.found)

    @property
    def failed(self) -> bool:
        return bool(self.found or self.capture_errors)


class LogCapture:
    """Keeps a text for every log record, as the handlers it would reach would write it."""

    def __init__(self):
        self.records: list[Captured] = []
        self.tests: list[str] = []
        self.errors = 0  # records the capture failed on, so never scanned
        self.current = -1
        self._filters: dict[logging.Handler, list] = {}
        self._patched: list = []
        self._admin_handler_type = None

    # Handlers ---------------------------------------------------------------------------

    def snapshot_handlers(self) -> None:
        """Keep each configured handler's filters as they are now: a test that takes the
        redacting filter off for a while (test_canary_logs.py does) changes nothing here."""
        known = logging.Logger.manager.loggerDict.values()
        loggers = [logging.getLogger(), *(lg for lg in known if isinstance(lg, logging.Logger))]
        for lg in loggers:
            for handler in lg.handlers:
                self._filters.setdefault(handler, list(handler.filters))
        try:
            from django.utils.log import AdminEmailHandler

            self._admin_handler_type = AdminEmailHandler
        except ImportError:  # pragma: no cover - Django is always there in this project
            pass

    def _handlers_reached(self, logger: logging.Logger):
        node = logger
        while node is not None:
            yield from node.handlers
            if not node.propagate:
                return
            node = node.parent

    def _writes(self, handler: logging.Handler, record: logging.LogRecord) -> str | None:
        """The text `handler` would write for `record`, or None."""
        if record.levelno < handler.level or isinstance(handler, logging.NullHandler):
            return None
        if self._admin_handler_type and isinstance(handler, self._admin_handler_type):
            from django.conf import settings

            if not settings.ADMINS:  # mail_admins sends nothing without ADMINS
                return None
        copy = logging.makeLogRecord(record.__dict__)
        for flt in self._filters.get(handler, handler.filters):
            result = flt.filter(copy) if hasattr(flt, "filter") else flt(copy)
            if isinstance(result, logging.LogRecord):
                copy = result
            elif not result:
                return None
        return record_text(copy)

    # Capture ----------------------------------------------------------------------------

    def capture(self, logger: logging.Logger, record: logging.LogRecord) -> None:
        # Formatting calls repr() on arguments and str() on exceptions, and a repr can run a
        # query (a queryset, a lazy user). Queries are refused meanwhile: they would change
        # what tests count, and the text then says "<exception str() failed>" instead.
        with _queries_refused():
            self._capture(logger, record)

    def _capture(self, logger: logging.Logger, record: logging.LogRecord) -> None:
        base = logging.makeLogRecord(record.__dict__)
        if base.exc_info and not base.exc_text:
            base.exc_text = logging.Formatter().formatException(base.exc_info)
        raw = record_text(base)
        texts = []
        reached = False
        # The logger's own filters run once, before any handler (Logger.handle), and what
        # they change (settings.LOGGING drops the context from django.template's records)
        # is what every handler then receives.
        passed = logging.makeLogRecord(record.__dict__)
        result = logger.filter(passed)
        if isinstance(result, logging.LogRecord):
            passed = result
        if result and passed.exc_info and not passed.exc_text:
            passed.exc_text = logging.Formatter().formatException(passed.exc_info)
        if result:
            for handler in self._handlers_reached(logger):
                if type(handler).__module__.startswith("_pytest"):
                    continue  # caplog and pytest's own reporting: the test harness
                reached = True
                text = self._writes(handler, passed)
                if text is not None and text not in texts:
                    texts.append(text)
            if not reached:  # Python's last-resort handler writes it as it is
                texts.append(record_text(passed))
        written = "\n".join(texts) if texts else None
        self.records.append(
            Captured(
                self.current,
                record.name,
                f"{_short_path(record.pathname)}:{record.lineno}",
                str(record.msg)[:160],
                (written or raw).split("\n", 1)[0][:160],
                written,
                None if raw == written else raw,
            )
        )

    def install(self) -> None:
        """Widen every logger to DEBUG for this capture only, and see every record first."""
        original_enabled = logging.Logger.isEnabledFor
        original_handle = logging.Logger.handle
        capture = self.capture
        state = threading.local()

        def isEnabledFor(logger, level):
            if original_enabled(logger, level):
                return True
            return level >= logging.DEBUG and not logger.disabled and logger.manager.disable < level

        def handle(logger, record):
            if not getattr(state, "busy", False):
                state.busy = True  # the capture's own work logs nothing back into it
                try:
                    capture(logger, record)
                except Exception:  # never break the code under test; the run fails instead
                    self.errors += 1
                finally:
                    state.busy = False
            if original_enabled(logger, record.levelno):
                original_handle(logger, record)

        logging.Logger.isEnabledFor = isEnabledFor
        logging.Logger.handle = handle
        self._patched.append((logging.Logger, "isEnabledFor", original_enabled))
        self._patched.append((logging.Logger, "handle", original_handle))

    def uninstall(self) -> None:
        while self._patched:
            owner, name, original = self._patched.pop()
            setattr(owner, name, original)

    # Scan -------------------------------------------------------------------------------

    def scan(self, values: CanaryValues) -> ScanResult:
        matcher = values.matcher()
        result = ScanResult(
            records=len(self.records), tests=len(self.tests), capture_errors=self.errors
        )
        found: dict[tuple, Finding] = {}
        before: dict[tuple, Finding] = {}
        for captured in self.records:
            test = self.tests[captured.test] if captured.test >= 0 else "(outside any test)"
            kinds = set(matcher.kinds_in(captured.written)) if captured.written else set()
            raw_kinds = set(matcher.kinds_in(captured.raw)) - kinds if captured.raw else set()
            if not kinds and not raw_kinds:
                continue
            # The message as written tells records from one logging call apart; when it holds
            # a canary value, the message before formatting; failing that, nothing.
            msg = next(
                (m for m in (captured.line, captured.msg) if not matcher.kinds_in(m)),
                "(message withheld: it holds a canary value)",
            )
            for kinds_here, into in ((kinds, found), (raw_kinds, before)):
                for kind in kinds_here:
                    key = (kind, captured.logger, captured.site, msg)
                    into.setdefault(key, Finding(*key)).tests[test] += 1
        result.found = list(found.values())
        result.before_redaction = list(before.values())
        return result


def summary_line(result: ScanResult, counts: dict[str, int]) -> str:
    checked = ", ".join(f"{n:,} {label}" for label, n in counts.items())
    line = (
        f"canary log scan: {result.records:,} log records from {result.tests:,} tests, "
        f"{result.found_count:,} canary values found ({checked} checked)"
    )
    if result.capture_errors:
        line += f"; {result.capture_errors:,} records could not be captured, so were not scanned"
    return line


def _short_path(path: str) -> str:
    for marker in ("/site-packages/", f"{_ROOT}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def finding_lines(findings: list[Finding]) -> list[str]:
    """Kind, logger, logging call and tests: never the value itself."""
    ordered = sorted(findings, key=lambda f: (f.logger, f.site, f.kind))
    lines = []
    for f in ordered[:MAX_REPORTED]:
        tests = [test for test, _ in f.tests.most_common(TESTS_LISTED)]
        more = len(f.tests) - len(tests)
        lines.append(
            f"  {f.kind} in logger {f.logger!r}, {f.records} record"
            f"{'' if f.records == 1 else 's'}, logged at {f.site} {f.msg!r}"
        )
        lines.extend(f"      during {test}" for test in tests)
        if more:
            lines.append(f"      and {more} more test{'' if more == 1 else 's'}")
    if len(ordered) > MAX_REPORTED:
        lines.append(f"  ... and {len(ordered) - MAX_REPORTED} more")
    return lines


class CanaryLogScan:
    """The pytest plugin: wires LogCapture and CanaryValues into the session."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.capture = LogCapture()
        self.values = CanaryValues()
        self.result: ScanResult | None = None
        self.counts: dict[str, int] = {}
        self._link_issue = None

    @property
    def tokens(self) -> set[str]:
        return self.values.tokens

    def _wrap_link_issue(self) -> None:
        try:
            from measures import links
        except Exception:  # Django not set up: nothing issues tokens
            return
        original = links.link_issue
        values = self.values

        def link_issue(*args, **kwargs):
            token = original(*args, **kwargs)
            values.add_token(token)
            return token

        link_issue.__wrapped__ = original
        links.link_issue = link_issue
        self._link_issue = (original, link_issue)
        # Modules that imported the function by name before this point.
        for module in list(sys.modules.values()):
            if module is not None and getattr(module, "link_issue", None) is original:
                module.link_issue = link_issue

    def _unwrap_link_issue(self) -> None:
        if self._link_issue is None:
            return
        original, wrapper = self._link_issue
        for module in list(sys.modules.values()):
            if module is not None and getattr(module, "link_issue", None) is wrapper:
                module.link_issue = original
        self._link_issue = None

    def _collect_values(self) -> None:
        self.values.add("given name", NAME[0])
        self.values.add("family name", NAME[1])
        self.values.add("email", EMAIL)
        self.values.add("phone", PHONE)
        self.values.add("NHS number", NHS_NUMBER)
        for secret in ISSUED_SECRETS:
            self.values.add_token(secret)
        factories = sys.modules.get("tests.factories")
        for kind, made in getattr(factories, "CANARY_VALUES", {}).items():
            for value in made:
                self.values.add(kind, value)

    # Hooks ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        self.capture.snapshot_handlers()
        self.capture.install()
        self._wrap_link_issue()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.capture.tests.append(item.nodeid)
        self.capture.current = len(self.capture.tests) - 1
        try:
            return (yield)
        finally:
            self.capture.current = -1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        # trylast: session-scoped fixtures have been torn down, their records included.
        self.capture.uninstall()
        self._unwrap_link_issue()
        self._collect_values()
        self.result = self.capture.scan(self.values)
        self.counts = self.values.counts()
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports for all
            workeroutput[WIRE_KEY] = result_to_wire(self.result, self.counts)
        if self.result.failed and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.result is None:
            return
        write = terminalreporter.write_line
        if self.result.found:
            terminalreporter.section("canary values in the logs", sep="=", red=True, bold=True)
            for line in finding_lines(self.result.found):
                write(line)
        if self.result.before_redaction:
            write(
                "canary values the redacting filter removed before writing "
                "(for information; the code should not log them):"
            )
            for line in finding_lines(self.result.before_redaction):
                write(line)
        write(summary_line(self.result, self.counts), red=self.result.failed)


WIRE_KEY = "canary_scan"


def result_to_wire(result: ScanResult, counts: dict[str, int]) -> dict:
    """A worker's scan as plain data for execnet: the findings name no values either."""

    def findings(items):
        return [
            {
                "kind": f.kind,
                "logger": f.logger,
                "site": f.site,
                "msg": f.msg,
                "tests": dict(f.tests),
            }
            for f in items
        ]

    return {
        "records": result.records,
        "tests": result.tests,
        "capture_errors": result.capture_errors,
        "found": findings(result.found),
        "before_redaction": findings(result.before_redaction),
        "counts": counts,
    }


class CanaryCollector:
    """Under pytest-xdist each worker scans its own records; the controller adds up their
    scans, fails the run on any hit, and fails it too if a worker went down without one."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.scans: list[dict] = []
        self.missing = 0
        self.result: ScanResult | None = None
        self.counts: dict[str, int] = {}

    def pytest_testnodedown(self, node, error):
        scan = getattr(node, "workeroutput", {}).get(WIRE_KEY)
        if scan is None:
            self.missing += 1
        else:
            self.scans.append(scan)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        result = ScanResult(records=0, tests=0, capture_errors=0)
        merged: dict[str, dict[tuple, Finding]] = {"found": {}, "before_redaction": {}}
        counts: collections.Counter = collections.Counter()
        for scan in self.scans:
            result.records += scan["records"]
            result.tests += scan["tests"]
            result.capture_errors += scan["capture_errors"]
            counts.update(scan["counts"])
            for part, into in merged.items():
                for f in scan[part]:
                    key = (f["kind"], f["logger"], f["site"], f["msg"])
                    into.setdefault(key, Finding(*key)).tests.update(f["tests"])
        result.found = list(merged["found"].values())
        result.before_redaction = list(merged["before_redaction"].values())
        self.result, self.counts = result, dict(counts)
        if (result.failed or self.missing) and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.result is None:
            return
        CanaryLogScan.pytest_terminal_summary(self, terminalreporter)
        if self.missing:
            terminalreporter.write_line(
                f"canary log scan: {self.missing} test worker(s) went down without a scan, "
                "so their records were not scanned",
                red=True,
            )


def pytest_addoption(parser):
    parser.addoption(
        "--no-canary",
        action="store_true",
        default=False,
        help="Skip the whole-suite canary log scan (tests/security/canary_plugin.py).",
    )


def pytest_configure(config):
    if config.getoption("no_canary"):
        return
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(CanaryCollector(config), PLUGIN_NAME)
    else:
        config.pluginmanager.register(CanaryLogScan(config), PLUGIN_NAME)
