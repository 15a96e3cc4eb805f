"""Export contents: columns, long format, pseudonyms and year of birth."""

import csv
import datetime
import io

import pytest
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from dashboards.exports import pseudonym
from tests.dashboards.builders import enrol, make_cohort, mark, score

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(service):
    cohort = make_cohort(service, sessions=3)
    ada = enrol(
        cohort,
        given_name="Ada",
        family_name="Quill",
        date_of_birth=datetime.date(1980, 7, 14),
        email="ada@example.com",
        reference="RQ001",
    )
    score(ada, "baseline", "core10", {"total": 20})
    score(ada, "week52", "core10", {"total": 12})
    score(
        ada,
        "baseline",
        "service_use",
        {
            "inpatient_bed_days": 9,
            "admissions": 1,
            "ae_attendances": 2,
            "crisis_contacts": 3,
            "home_treatment_days": 0,
            "other_unplanned_contacts": 0,
        },
    )
    score(
        ada,
        "baseline",
        "occupation",
        {"employed": 0.0, "education_or_training": 1.0, "volunteering": 0.0, "engaged": 1.0},
    )
    mark(cohort, ada, ["present", "dna", "late"])
    return cohort, ada


def _csv(client, cohort, variant, dataset):
    url = reverse("dashboards:cohort_export", args=[cohort.pk, variant, dataset, "csv"])
    response = client.get(url)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_scores_export_is_long_format_one_row_per_timepoint_and_scale(
    cohort, clinician, persona_client
):
    cohort, _ = cohort
    rows = _csv(persona_client(clinician), cohort, "identifiable", "scores")
    core10 = [r for r in rows if r["instrument"] == "core10"]
    assert [(r["timepoint"], r["scale"], r["value"]) for r in core10] == [
        ("baseline", "total", "20.0"),
        ("week52", "total", "12.0"),
    ]
    assert core10[0]["given_name"] == "Ada" and core10[0]["date_of_birth"] == "1980-07-14"
    assert core10[0]["reference"] == "RQ001"


def test_research_export_has_a_pseudonym_birth_year_and_no_identifiers(
    cohort, manager, persona_client
):
    cohort, ada = cohort
    rows = _csv(persona_client(manager), cohort, "research", "scores")
    assert set(rows[0]) >= {"pseudonym", "birth_year", "timepoint", "instrument", "scale"}
    assert not set(rows[0]) & {
        "given_name",
        "family_name",
        "reference",
        "date_of_birth",
        "nhs_number",
        "email",
        "mobile",
    }
    assert {r["birth_year"] for r in rows} == {"1980"}
    text = str(rows)
    assert "Ada" not in text and "Quill" not in text and "RQ001" not in text
    assert "1980-07-14" not in text and "ada@example.com" not in text
    assert {r["pseudonym"] for r in rows} == {pseudonym(ada.participant_id)}


def test_pseudonyms_are_stable_across_exports_and_depend_on_the_key(
    cohort, manager, persona_client
):
    cohort, ada = cohort
    client = persona_client(manager)
    first = _csv(client, cohort, "research", "scores")[0]["pseudonym"]
    again = _csv(client, cohort, "research", "attendance")[0]["pseudonym"]
    assert first == again
    assert len(first) == 17 and first.startswith("R")
    with override_settings(SECRET_KEY="another-key-entirely-" + "x" * 40):
        assert pseudonym(ada.participant_id) != first


def test_attendance_export_has_one_row_per_session(cohort, clinician, persona_client):
    cohort, _ = cohort
    rows = _csv(persona_client(clinician), cohort, "identifiable", "attendance")
    assert [(r["session"], r["attendance"], r["attended"]) for r in rows] == [
        ("1", "present", "yes"),
        ("2", "dna", "no"),
        ("3", "late", "yes"),
    ]


def test_service_use_export_is_one_row_per_timepoint_with_counts_and_flags(
    cohort, clinician, persona_client
):
    cohort, _ = cohort
    rows = _csv(persona_client(clinician), cohort, "research", "service-use")
    assert len(rows) == 1
    row = rows[0]
    assert row["timepoint"] == "baseline"
    assert (row["inpatient_bed_days"], row["crisis_contacts"]) == ("9.0", "3.0")
    assert (row["education_or_training"], row["engaged"]) == ("1.0", "1.0")


def test_xlsx_export_has_the_same_columns_as_csv(cohort, clinician, persona_client):
    cohort, _ = cohort
    client = persona_client(clinician)
    url = reverse("dashboards:cohort_export", args=[cohort.pk, "research", "scores", "xlsx"])
    response = client.get(url)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == list(_csv(client, cohort, "research", "scores")[0])


def test_text_that_looks_like_a_formula_is_neutralised(service, clinician, persona_client):
    cohort = make_cohort(service, sessions=1)
    person = enrol(cohort, given_name="=HYPERLINK(1)", family_name="Test")
    score(person, "baseline", "core10", {"total": 10})
    rows = _csv(persona_client(clinician), cohort, "identifiable", "scores")
    assert rows[0]["given_name"] == "'=HYPERLINK(1)"
