"""Dashboards, exports and the cohort page decide by capability (accounts.scope's one
vocabulary), not by role names: what CAPABILITIES gives a role is what that role gets."""

import pytest
from django.urls import reverse

from accounts.scope import CAPABILITIES, Can, Role
from tests.dashboards.builders import enrol, make_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(service):
    cohort = make_cohort(service, sessions=2)
    enrol(cohort, given_name="Ada", family_name="Quill")
    return cohort


def export(client, cohort, variant):
    url = reverse("dashboards:cohort_export", args=[cohort.pk, variant, "attendance", "csv"])
    return client.get(url)


def service_export(client, service, variant):
    url = reverse("dashboards:service_export", args=[service.pk, variant, "attendance", "csv"])
    return client.get(url)


def test_the_default_vocabulary_keeps_identifiable_data_for_clinicians():
    assert Can.EXPORT_IDENTIFIABLE in CAPABILITIES[Role.CLINICIAN]
    assert Can.EXPORT_IDENTIFIABLE not in CAPABILITIES[Role.MANAGER]
    assert Can.EXPORT_IDENTIFIABLE not in CAPABILITIES[Role.ADMIN]
    assert Can.EXPORT_RESEARCH in CAPABILITIES[Role.CLINICIAN] & CAPABILITIES[Role.MANAGER]
    assert Can.EXPORT_RESEARCH not in CAPABILITIES[Role.ADMIN]


def test_a_role_given_identifiable_exports_gets_them_and_the_names(
    monkeypatch, persona_client, manager, service, cohort
):
    client = persona_client(manager)
    assert export(client, cohort, "identifiable").status_code == 403
    assert "Ada" not in client.get(reverse("dashboards:cohort", args=[cohort.pk])).content.decode()

    monkeypatch.setitem(
        CAPABILITIES, Role.MANAGER, CAPABILITIES[Role.MANAGER] | {Can.EXPORT_IDENTIFIABLE}
    )

    assert export(client, cohort, "identifiable").status_code == 200
    assert service_export(client, service, "identifiable").status_code == 200
    page = client.get(reverse("dashboards:cohort", args=[cohort.pk])).content.decode()
    assert "Ada" in page
    assert "/export/identifiable/" in page
    service_page = client.get(reverse("dashboards:service", args=[service.pk])).content.decode()
    assert "/export/identifiable/" in service_page


def test_a_role_without_research_exports_is_refused_them(
    monkeypatch, persona_client, manager, service, cohort
):
    client = persona_client(manager)
    assert export(client, cohort, "research").status_code == 200

    monkeypatch.setitem(
        CAPABILITIES, Role.MANAGER, CAPABILITIES[Role.MANAGER] - {Can.EXPORT_RESEARCH}
    )

    assert export(client, cohort, "research").status_code == 403
    assert service_export(client, service, "research").status_code == 403
    page = client.get(reverse("dashboards:service", args=[service.pk])).content.decode()
    assert "/export/research/" not in page


def test_the_cohort_page_offers_changes_by_capability(
    monkeypatch, persona_client, clinician, cohort
):
    client = persona_client(clinician)
    enrol_url = reverse("programmes:enrol", args=[cohort.pk]).encode()
    assert enrol_url in client.get(cohort.get_absolute_url()).content

    monkeypatch.setitem(
        CAPABILITIES, Role.CLINICIAN, CAPABILITIES[Role.CLINICIAN] - {Can.CHANGE_CLINICAL}
    )

    assert enrol_url not in client.get(cohort.get_absolute_url()).content
