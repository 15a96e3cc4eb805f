"""Canary personal data and a live token go through the main flows; the captured logs, at
DEBUG level, contain none of them.

The flows: adding and editing a participant, searching, the participant page, issuing a
link, the participant answering by link (and an expired or mistyped link), a reminder sent
by staff and the dispatcher that delivers it, failed sign-ins with the canary as the
username, a subject access export and the retention job.
"""

import datetime as dt
import io
import logging
import re
import secrets
import uuid
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.validators import validate_email
from django.urls import reverse
from nhs_number import is_valid as nhs_number_is_valid

from accounts.log_redaction import RedactingFilter
from measures import links
from participants.models import Participant, validate_nhs_number
from participants.services import (
    participant_contacts_blank,
    subject_access_request_approve,
    subject_access_request_create,
    subject_access_request_release,
)
from participants.validators import parse_uk_mobile
from programmes.services import enrolment_create
from tests.conftest import sign_in
from tests.factories import (
    CANARY_VALUES,
    CohortFactory,
    MembershipFactory,
    ParticipantFactory,
    UserFactory,
)
from tests.security.canary_plugin import (
    EMAIL,
    NAME,
    NHS_NUMBER,
    PHONE,
    PLUGIN_NAME,
    CanaryValues,
    LogCapture,
    finding_lines,
    phone_forms,
    summary_line,
)
from tests.security.helpers import password_step

NOW = dt.datetime(2026, 1, 8, 10, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]


def canary_forms(token: str) -> list[str]:
    digits = PHONE.replace(" ", "")
    return [
        *NAME,
        EMAIL,
        PHONE,
        digits,
        "+44" + digits[1:],
        digits[1:],
        NHS_NUMBER,
        f"{NHS_NUMBER[:3]} {NHS_NUMBER[3:6]} {NHS_NUMBER[6:]}",
        token,
        token[:16],
    ]


def logged_text(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts.extend(str(v) for k, v in vars(record).items() if k not in {"msg", "args"})
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def raw_records():
    """Take the redacting filter off the handlers, so the test sees what the code logs.

    The filter rewrites each record in place for every handler after it, caplog's included;
    with it on, only names would be checked. Code must not log the data in the first place.
    """
    from accounts.log_redaction import RedactingFilter

    removed = []
    for handler in logging.getLogger().handlers:
        for flt in list(handler.filters):
            if isinstance(flt, RedactingFilter):
                handler.removeFilter(flt)
                removed.append((handler, flt))
    yield
    for handler, flt in removed:
        handler.addFilter(flt)


def test_the_canary_nhs_number_is_valid():
    assert nhs_number_is_valid(NHS_NUMBER)


@pytest.mark.django_db
def test_no_canary_reaches_the_logs(caplog, client_factory, service, clinician, fresh_cache):
    caplog.set_level(logging.DEBUG)
    colleague = MembershipFactory(service=service, user__username="second").user
    token = ""
    with time_machine.travel(NOW, tick=True):
        staff = sign_in(client_factory(), clinician)
        staff.post(
            reverse("participants:participant_create"),
            {
                "service": service.pk,
                "reference": "CAN001",
                "given_name": NAME[0],
                "family_name": NAME[1],
                "nhs_number": NHS_NUMBER,
                "email": EMAIL,
                "mobile": PHONE,
                "preferred_channel": "sms",
            },
        )
        participant = Participant.objects.get(reference="CAN001")
        assert participant.given_name == NAME[0]
        # A duplicate NHS number and a bad e-mail: error paths log too, if anything does.
        staff.post(
            reverse("participants:participant_create"),
            {
                "service": service.pk,
                "reference": "CAN002",
                "given_name": NAME[0],
                "family_name": NAME[1],
                "nhs_number": NHS_NUMBER,
                "email": "canary.zzyzx@",
                "mobile": PHONE,
                "preferred_channel": "sms",
            },
        )
        staff.get(reverse("participants:participant_list"), {"q": NAME[0]})
        staff.get(reverse("participants:participant_list"), {"q": NHS_NUMBER})
        staff.get(reverse("participants:participant_detail", args=[participant.pk]))

        cohort = CohortFactory(service=service, start_date=dt.date(2026, 1, 6))
        cohort.facilitators.add(clinician)
        enrolment_create(cohort=cohort, participant=participant, enrolled_on=cohort.start_date)
        from measures import services as measure_services
        from measures.models import Administration

        if not Administration.objects.filter(enrolment__participant=participant).exists():
            measure_services.administrations_lay_out(enrolment=participant.enrolments.get())

        page = staff.post(reverse("measures:link_new", args=[participant.pk]))
        match = re.search(r"/q/([A-Za-z0-9_-]{32,})", page.content.decode())
        assert match, "the link page shows the new link"
        token = match.group(1)

        person = client_factory()
        person.get(reverse("questionnaire:landing", args=[token]))
        started = person.post(reverse("questionnaire:start"), {"token": token})
        assert started.status_code == 302
        assert person.get(reverse("questionnaire:home")).status_code == 200
        # The questionnaire pages: the first page, saving as answers are chosen, a bad
        # answer, the check page, and taking a break.
        first = started["Location"]
        assert person.get(first).status_code == 200
        assert person.post(first, {"item_1": "1", "autosave": "1"}).status_code == 204
        assert person.post(first, {"item_2": NHS_NUMBER}).status_code == 200
        check = first.split("page/")[0] + "check/"
        assert person.get(check).status_code == 200
        assert person.post(first, {"action": "break"}).status_code == 200
        person.get(reverse("questionnaire:landing", args=[token[:-2] + "xx"]))
        person.get(f"/q/{token}/not-a-page/")

        staff.post(reverse("reminders:send_now", args=[participant.pk]))
        call_command("dispatch_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115

        anonymous = client_factory()
        password_step(anonymous, EMAIL, "wrong password " + NHS_NUMBER)
        password_step(anonymous, NAME[0], PHONE)

        sar = subject_access_request_create(
            participant=participant,
            received_on=dt.date(2026, 1, 7),
            note="",
            by=clinician,
        )
        subject_access_request_approve(sar=sar, by=colleague)
        subject_access_request_release(sar=sar)
        staff.get(reverse("subject_access:download", args=[sar.pk, "json"]))
        staff.get(reverse("subject_access:download", args=[sar.pk, "html"]))
        staff.post(reverse("account_logout"))

    participant.enrolments.update(status="discharged", ended_on=dt.date(2026, 1, 8))
    participant_contacts_blank(older_than_days=1, today=dt.date(2027, 1, 1))

    assert caplog.records, "the flows logged nothing at all, so the test proves nothing"
    text = logged_text(caplog)
    leaked = [value for value in canary_forms(token) if value and value in text]
    assert leaked == []


def test_the_check_catches_a_leak(caplog):
    """The harness itself: an application logger at DEBUG is captured and flagged."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("participants.services").debug("sending to %s", EMAIL)
    assert EMAIL in logged_text(caplog)


# The whole-suite scan (tests/security/canary_plugin.py) -----------------------------------


@pytest.fixture
def scan_plugin(request):
    plugin = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        pytest.skip("the canary log scan is off (--no-canary)")
    return plugin


def test_factory_personal_data_is_valid_unique_canary_data():
    people = ParticipantFactory.build_batch(30)
    for person in people:
        validate_nhs_number(person.nhs_number)
        assert person.nhs_number.startswith("99977")
        assert parse_uk_mobile(person.mobile).as_e164.startswith("+447700900")
        validate_email(person.email)
        assert person.given_name.isalpha() and person.family_name.isalpha()
        assert person.family_name.startswith("Canaryzzyzx")
        assert person.given_name in CANARY_VALUES["given name"]
        assert person.family_name in CANARY_VALUES["family name"]
        assert person.email in CANARY_VALUES["email"]
        assert person.mobile in CANARY_VALUES["phone"]
        assert person.nhs_number in CANARY_VALUES["NHS number"]
        assert person.date_of_birth in CANARY_VALUES["date of birth"]
    for attribute in ("given_name", "family_name", "email", "nhs_number", "mobile"):
        assert len({getattr(p, attribute) for p in people}) == len(people), attribute
    staff = UserFactory.build()
    assert {staff.first_name, staff.last_name} <= CANARY_VALUES["staff name"]
    assert staff.email in CANARY_VALUES["email"]


@pytest.mark.django_db
def test_every_issued_token_is_collected(scan_plugin):
    participant = ParticipantFactory()
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    token = links.link_issue(participant=participant, expires_at=expires_at)
    assert token in scan_plugin.tokens
    assert links.link_find(token) is not None


def test_quiet_and_non_propagating_loggers_are_captured_and_nothing_else_changes(
    scan_plugin, caplog
):
    caplog.set_level(logging.INFO)
    quiet = logging.getLogger("tests.canary.quiet")
    level, propagate = quiet.level, quiet.propagate
    quiet.setLevel(logging.ERROR)
    quiet.propagate = False
    marker = uuid.uuid4().hex[:12]
    try:
        quiet.debug("quiet record %s", marker)
    finally:
        quiet.setLevel(level)
        quiet.propagate = propagate
    (captured,) = [c for c in scan_plugin.capture.records[-20:] if c.logger == quiet.name]
    assert marker in captured.written
    assert scan_plugin.capture.tests[captured.test].endswith(
        "test_quiet_and_non_propagating_loggers_are_captured_and_nothing_else_changes"
    )
    # A record that exists only for the scan reaches no handler: caplog saw nothing.
    assert not [r for r in caplog.records if r.name == quiet.name]


def _record(logger, msg, *args):
    return logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, msg, args, None)


def test_the_scan_reports_kind_logger_and_test_but_never_the_value():
    """Fed records directly: what the redacting filter blanks passes, what it leaves fails."""
    name, email = "Canaryzzyzxqqqq", "canary.zzyzx+999999@example.com"
    token = secrets.token_urlsafe(32)
    values = CanaryValues()
    values.add("family name", name)
    values.add("email", email)
    values.add("phone", "+447700900998")
    values.add_token(token)

    # One logger with a handler wired as settings.LOGGING wires the console (the redacting
    # filter on the handler), one with a handler that has no filter.
    app, own = logging.getLogger("tests.canary.app"), logging.getLogger("tests.canary.own")
    redacted = logging.StreamHandler(io.StringIO())
    redacted.addFilter(RedactingFilter())
    app.addHandler(redacted)
    own.addHandler(logging.StreamHandler(io.StringIO()))
    capture = LogCapture()
    try:
        for logger in (app, own):
            logger.propagate = False
        capture.snapshot_handlers()
        capture.tests = ["tests/x.py::test_one"]
        capture.current = 0
        capture.capture(app, _record(app, "contact %s at %s or 07700 900998", name, email))
        capture.capture(app, _record(app, "link /q/%s/ and %s...", token, token[:16]))
        capture.capture(own, _record(own, "sending to %s", email))
    finally:
        for logger in (app, own):
            logger.handlers.clear()
            logger.propagate = True

    result = capture.scan(values)
    found = {(f.kind, f.logger, *f.tests) for f in result.found}
    assert found == {
        ("family name", "tests.canary.app", "tests/x.py::test_one"),
        ("token (first 16 characters)", "tests.canary.app", "tests/x.py::test_one"),
        ("email", "tests.canary.own", "tests/x.py::test_one"),
    }
    assert {f.site for f in result.found} == {"tests/security/test_canary_logs.py:1"}
    blanked = {(f.kind, f.logger) for f in result.before_redaction}
    assert blanked == {
        ("email", "tests.canary.app"),
        ("phone", "tests.canary.app"),
        ("token", "tests.canary.app"),
    }
    report = "\n".join([*finding_lines(result.found), summary_line(result, values.counts())])
    assert "3 canary values found" in report
    assert "family name in logger 'tests.canary.app'" in report
    assert "during tests/x.py::test_one" in report
    for secret in (name, email, token[:16], "900998"):
        assert secret.lower() not in report.lower()


def test_phone_forms_cover_the_printed_forms():
    assert set(phone_forms("+447700900998")) == {
        "07700 900998",
        "07700900998",
        "+447700900998",
        "+44 7700 900998",
        "7700900998",
    }


def test_one_value_among_thousands_is_found():
    values = CanaryValues()
    for n in range(5000):
        values.add("NHS number", f"99977{n:04d}0")
    values.add("family name", "Canaryzzyzxabcd")
    matcher = values.matcher()
    assert matcher.kinds_in("nothing here 9997712") == []
    assert matcher.kinds_in("found 999 771 2340 and CANARYZZYZXABCD.") == [
        "NHS number",
        "family name",
    ]


_INNER_TESTS = """
import logging

from tests.factories import ParticipantFactory


def test_leaks():
    person = ParticipantFactory.build()
    logging.getLogger("participants.services").debug("hello %s", person.family_name)


def test_clean():
    logging.getLogger("participants.services").info("nothing personal")
"""


def test_a_leak_fails_the_whole_run(pytester, monkeypatch):
    """End to end in a separate pytest process: both tests pass, the run fails."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings")
    pytester.makepyfile(test_inner=_INNER_TESTS)
    plugin = ("-p", "tests.security.canary_plugin", "-p", "no:cacheprovider")

    leaking = pytester.runpytest_subprocess(*plugin)
    leaking.assert_outcomes(passed=2)
    assert leaking.ret == pytest.ExitCode.TESTS_FAILED
    leaking.stdout.fnmatch_lines(
        [
            "*family name in logger 'participants.services', 1 record, logged at *test_inner.py:*",
            "*during test_inner.py::test_leaks",
            "canary log scan: * from 2 tests, 1 canary values found (*",
        ]
    )
    assert "canaryzzyzx" not in leaking.stdout.str().lower()

    clean = pytester.runpytest_subprocess(*plugin, "-k", "clean")
    assert clean.ret == pytest.ExitCode.OK
    clean.stdout.fnmatch_lines(["canary log scan: * from 1 tests, 0 canary values found (*"])

    off = pytester.runpytest_subprocess(*plugin, "--no-canary")
    assert off.ret == pytest.ExitCode.OK
    assert "canary log scan" not in off.stdout.str()
