"""Bundles to download: one participant's record, or a cohort's pseudonymised research set."""

from participants.models import Participant

from . import r4
from .identity import IDENTIFIABLE, RESEARCH, Naming, base_url
from .observations import observations
from .patients import patient
from .questionnaires import questionnaire
from .responses import questionnaire_response
from .selectors import completed_administrations


def _entry(resource) -> r4.BundleEntry:
    return r4.BundleEntry(
        fullUrl=f"{base_url()}/{resource.get_resource_type()}/{resource.id}", resource=resource
    )


def _collection(people, administrations, naming: Naming) -> r4.Bundle:
    entries = [_entry(patient(person, naming)) for person in people]
    versions = sorted({(adm.instrument_code, adm.instrument_version) for adm in administrations})
    for code, _version in versions:
        entries.append(_entry(questionnaire(code)))
    for adm in administrations:
        entries.append(_entry(questionnaire_response(adm, naming)))
        entries.extend(_entry(obs) for obs in observations(adm, naming))
    return r4.Bundle(type="collection", entry=entries or None)


def participant_bundle(participant: Participant) -> r4.Bundle:
    administrations = list(completed_administrations().filter(enrolment__participant=participant))
    return _collection([participant], administrations, IDENTIFIABLE)


def cohort_research_bundle(cohort) -> r4.Bundle:
    """Everyone counted in the cohort, under pseudonyms, with years of birth only."""
    administrations = list(completed_administrations().filter(enrolment__cohort=cohort))
    people = Participant.objects.filter(
        pk__in={adm.enrolment.participant_id for adm in administrations}
    ).only("pk", "date_of_birth")
    return _collection(list(people), administrations, RESEARCH)


def to_json(resource) -> bytes:
    return resource.model_dump_json(exclude_none=True).encode()
