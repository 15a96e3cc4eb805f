"""A FHIR Patient: the NHS number under the NHS's identifier system, or, for research, the
research export's pseudonym and the year of birth only."""

from participants.models import Participant

from . import r4
from .identity import Naming, base_url

NHS_NUMBER = r4.NHS_NUMBER_SYSTEM


def patient(participant: Participant, naming: Naming) -> r4.Patient:
    pid = naming.patient_id(participant.pk)
    born = participant.date_of_birth
    if naming.research:
        return r4.Patient(
            id=pid,
            identifier=[r4.Identifier(system=base_url() + "/Id/research-pseudonym", value=pid)],
            birthDate=str(born.year) if born else None,
        )
    identifiers = []
    if participant.nhs_number:
        identifiers.append(r4.Identifier(system=NHS_NUMBER, value=participant.nhs_number))
    identifiers.append(
        r4.Identifier(
            system=f"{base_url()}/Id/local-reference/{participant.service_id}",
            value=participant.reference,
        )
    )
    return r4.Patient(
        id=pid,
        identifier=identifiers,
        name=[r4.HumanName(family=participant.family_name, given=[participant.given_name])],
        birthDate=born.isoformat() if born else None,
    )
