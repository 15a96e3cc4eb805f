"""Export tables: the rows behind the dashboards, identifiable or pseudonymised for research.

The research variant replaces names, record numbers, NHS numbers and contact details with a
pseudonym: HMAC-SHA256 of the participant's id under a key derived from SECRET_KEY, so the
same person gets the same pseudonym in every export and nobody without the key can go back
from the pseudonym to the person. Dates of birth become the year of birth.
"""

import csv
import io
from collections import defaultdict

from django.utils.crypto import salted_hmac
from openpyxl import Workbook

from dashboards import selectors
from measures.models import Administration, Score
from programmes.models import Attendance

PSEUDONYM_SALT = "safeground.dashboards.research-pseudonym"
DATASETS = {
    "scores": "Scores (long format: one row per participant, timepoint and scale)",
    "attendance": "Attendance (one row per participant and session)",
    "service-use": "Service use and occupation (one row per participant and timepoint)",
}
IDENTIFIABLE_COLUMNS = ["reference", "given_name", "family_name", "date_of_birth", "nhs_number"]
RESEARCH_COLUMNS = ["pseudonym", "birth_year"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def pseudonym(participant_id: int) -> str:
    return (
        "R" + salted_hmac(PSEUDONYM_SALT, str(participant_id), algorithm="sha256").hexdigest()[:16]
    )


def export_scores(enrolments_qs):
    return (
        Score.objects.filter(
            administration__enrolment__in=enrolments_qs,
            administration__status=Administration.Status.COMPLETED,
        )
        .values_list(
            "administration__enrolment__participant_id",
            "administration__enrolment__cohort__name",
            "administration__enrolment__cohort__programme__key",
            "administration__timepoint__key",
            "administration__timepoint__week",
            "administration__completed_at",
            "administration__instrument_code",
            "scale",
            "value",
            "band",
            "not_scored_reason",
        )
        .order_by(
            "administration__enrolment__cohort__start_date",
            "administration__enrolment_id",
            "administration__timepoint__week",
            "administration__instrument_code",
            "scale",
        )
    )


def export_attendance(enrolments_qs):
    return (
        Attendance.objects.filter(enrolment__in=enrolments_qs)
        .values_list(
            "enrolment__participant_id",
            "session__cohort__name",
            "session__number",
            "session__week",
            "session__date",
            "session__phase__name",
            "session__status",
            "status",
        )
        .order_by("session__cohort__start_date", "enrolment_id", "session__number")
    )


def export_people(enrolments_qs) -> dict[int, dict]:
    return {
        row["participant_id"]: row
        for row in enrolments_qs.values(
            "participant_id",
            "participant__reference",
            "participant__given_name",
            "participant__family_name",
            "participant__date_of_birth",
            "participant__nhs_number",
        )
    }


def _identity(people: dict, research: bool):
    def identity(participant_id: int) -> list:
        person = people[participant_id]
        born = person["participant__date_of_birth"]
        if research:
            return [pseudonym(participant_id), born.year if born else None]
        return [
            person["participant__reference"],
            person["participant__given_name"],
            person["participant__family_name"],
            born,
            person["participant__nhs_number"],
        ]

    return identity


def build(dataset: str, enrolments_qs, *, research: bool) -> tuple[list[str], list[list]]:
    people = export_people(enrolments_qs)
    identity = _identity(people, research)
    head = RESEARCH_COLUMNS if research else IDENTIFIABLE_COLUMNS
    if dataset == "scores":
        columns = [
            *head,
            "cohort",
            "programme",
            "timepoint",
            "week",
            "completed_on",
            "instrument",
            "scale",
            "value",
            "band",
            "not_scored_reason",
        ]
        rows = [
            [
                *identity(pid),
                cohort,
                programme,
                tp,
                week,
                completed.date() if completed else None,
                code,
                scale,
                value,
                band,
                reason,
            ]
            for (
                pid,
                cohort,
                programme,
                tp,
                week,
                completed,
                code,
                scale,
                value,
                band,
                reason,
            ) in export_scores(enrolments_qs)
        ]
        return columns, rows
    if dataset == "attendance":
        columns = [
            *head,
            "cohort",
            "session",
            "week",
            "session_date",
            "phase",
            "session_status",
            "attendance",
            "attended",
        ]
        rows = [
            [
                *identity(pid),
                cohort,
                number,
                week,
                date,
                phase,
                session_status,
                status,
                "yes" if status in ("present", "late", "left_early") else "no",
            ]
            for (
                pid,
                cohort,
                number,
                week,
                date,
                phase,
                session_status,
                status,
            ) in export_attendance(enrolments_qs)
        ]
        return columns, rows
    if dataset == "service-use":
        scales = [*selectors.SERVICE_USE_SCALES, *selectors.OCCUPATION_FLAGS]
        columns = [*head, "cohort", "timepoint", "week", *scales]
        wide: dict = defaultdict(dict)
        order = []
        for (
            pid,
            cohort,
            _prog,
            tp,
            week,
            _done,
            code,
            scale,
            value,
            _band,
            _reason,
        ) in export_scores(enrolments_qs):
            if code not in selectors.NON_SCALE_INSTRUMENTS:
                continue
            key = (pid, cohort, tp, week)
            if key not in wide:
                order.append(key)
            wide[key][scale] = value
        rows = [
            [*identity(k[0]), k[1], k[2], k[3], *(wide[k].get(s) for s in scales)] for k in order
        ]
        return columns, rows
    raise ValueError(f"unknown dataset {dataset!r}")


def _safe(value):
    # A spreadsheet runs a cell that starts with "=" as a formula; text never should.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([_safe(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(columns: list[str], rows: list[list], title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(columns)
    for row in rows:
        sheet.append([_safe(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
