"""How Safeground's records are named in FHIR: resource ids, code systems, and the research
variant that names nobody.

Ids are the database ids Safeground already puts in its own addresses
(/participants/<pk>/): never an NHS number, a name or a local record number. The research
variant replaces each with a keyed hash, the participant's with the research export's
pseudonym (dashboards.exports), so a research bundle and a research CSV name the same
person the same way, and neither leads back to the record without the key.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

from dashboards.exports import pseudonym

RESOURCE_ID_SALT = "safeground.fhir.research-resource-id"


def base_url() -> str:
    """The FHIR base: canonical URLs and code systems hang off it."""
    return settings.SITE_URL.rstrip("/") + "/fhir"


def scale_system() -> str:
    """Safeground's own code for each scale, "<instrument>.<scale>" (e.g. "core10.total")."""
    return base_url() + "/CodeSystem/scale"


def band_system() -> str:
    return base_url() + "/CodeSystem/band"


def entry_mode_system() -> str:
    """How a questionnaire was completed: online, paper (entered by staff), staff."""
    return base_url() + "/CodeSystem/entry-mode"


def staff_system() -> str:
    return base_url() + "/Id/staff"


def questionnaire_id(code: str, version: str) -> str:
    # FHIR ids allow letters, digits, "-" and "." only: "service_use" becomes "service-use".
    return f"{code.replace('_', '-')}-{version}"


def questionnaire_url(code: str, version: str) -> str:
    return f"{base_url()}/Questionnaire/{questionnaire_id(code, version)}"


@dataclass(frozen=True)
class Naming:
    """Identifiable (a clinician's bundle, the API) or research (pseudonyms, years only)."""

    research: bool = False

    def patient_id(self, participant_id: int) -> str:
        return pseudonym(participant_id) if self.research else str(participant_id)

    def resource_id(self, kind: str, pk: int) -> str:
        if not self.research:
            return str(pk)
        digest = salted_hmac(RESOURCE_ID_SALT, f"{kind}:{pk}", algorithm="sha256").hexdigest()
        return digest[:24]

    def patient_reference(self, participant_id: int) -> str:
        return f"Patient/{self.patient_id(participant_id)}"


IDENTIFIABLE = Naming(research=False)
RESEARCH = Naming(research=True)
