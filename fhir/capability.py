"""What the API offers, as a CapabilityStatement at /fhir/metadata."""

from django.utils import timezone

from . import r4
from .identity import base_url

SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _search(name: str, kind: str, doc: str):
    return r4.CapabilityStatementRestResourceSearchParam(name=name, type=kind, documentation=doc)


def capability_statement(token_url: str) -> r4.CapabilityStatement:
    """`token_url`: the token endpoint as the caller reached this server."""
    read = r4.CapabilityStatementRestResourceInteraction(code="read")
    search = r4.CapabilityStatementRestResourceInteraction(code="search-type")
    patient = _search("patient", "reference", "Patient/<id>: one patient of your service")
    return r4.CapabilityStatement(
        status="active",
        date=timezone.now().date().isoformat(),
        kind="instance",
        fhirVersion=r4.FHIR_VERSION,
        format=["json"],
        software=r4.CapabilityStatementSoftware(name="Safeground"),
        implementation=r4.CapabilityStatementImplementation(
            description="Safeground outcomes", url=base_url()
        ),
        rest=[
            r4.CapabilityStatementRest(
                mode="server",
                security=r4.CapabilityStatementRestSecurity(
                    description=(
                        "OAuth 2 client credentials; each client sees only its own "
                        "service's participants."
                    ),
                    extension=[
                        r4.Extension(
                            url=SMART_OAUTH_URIS,
                            extension=[r4.Extension(url="token", valueUri=token_url)],
                        )
                    ],
                ),
                resource=[
                    r4.CapabilityStatementRestResource(
                        type="Observation",
                        interaction=[search],
                        searchParam=[
                            patient,
                            _search("subject", "reference", "as patient"),
                            _search("code", "token", "LOINC or Safeground scale code"),
                            _search("date", "date", "when the questionnaire was completed"),
                        ],
                    ),
                    r4.CapabilityStatementRestResource(
                        type="QuestionnaireResponse",
                        interaction=[search],
                        searchParam=[
                            patient,
                            _search("subject", "reference", "as patient"),
                            _search("questionnaire", "reference", "Questionnaire id or URL"),
                            _search("authored", "date", "when it was completed"),
                        ],
                    ),
                    r4.CapabilityStatementRestResource(type="Questionnaire", interaction=[read]),
                ],
            )
        ],
    )
