"""The FHIR models Safeground builds its resources with, and what it leaves out.

Which models: fhir.resources 8 ships R5 at its top level, STU3, and R4B (4.3.0); it has no
pure R4 (4.0.1) package. R4B is the closest: it changed medication, regulatory and
subscription resources, and left Patient, Questionnaire, QuestionnaireResponse,
Observation, Bundle, OperationOutcome and CapabilityStatement as they were in R4, so the
JSON built from these models is what an R4 system (and the NHS's UK Core, an R4 guide)
reads. Every resource is made from these classes, which validate as they are built: a
resource that breaks the R4B model raises before it leaves.

Encounters: left out. A group session attended is one Encounter per person per session
(52 a year each), and the register's states (late, left early, apologies, did not attend)
have no faithful Encounter.status: a "did not attend" is a cancelled encounter of a group
that did meet. UK Core Encounter also expects a service provider Organization and a
location this product does not hold as FHIR. Attendance leaves as the CSV and XLSX exports
do; questionnaires and scores are what other systems ask for.
"""

from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.questionnaire import (
    Questionnaire,
    QuestionnaireItem,
    QuestionnaireItemAnswerOption,
)
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
    QuestionnaireResponseItemAnswer,
)
from fhir.resources.R4B.reference import Reference

# The version CapabilityStatement declares: the R4 release these resources are read as.
FHIR_VERSION = "4.0.1"
CONTENT_TYPE = "application/fhir+json"

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
LOINC = "http://loinc.org"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
UCUM = "http://unitsofmeasure.org"

__all__ = [
    "Bundle",
    "BundleEntry",
    "BundleEntrySearch",
    "BundleLink",
    "CapabilityStatement",
    "CapabilityStatementImplementation",
    "CapabilityStatementRest",
    "CapabilityStatementRestResource",
    "CapabilityStatementRestResourceInteraction",
    "CapabilityStatementRestResourceSearchParam",
    "CapabilityStatementRestSecurity",
    "CapabilityStatementSoftware",
    "CodeableConcept",
    "Coding",
    "Extension",
    "HumanName",
    "Identifier",
    "Meta",
    "Observation",
    "OperationOutcome",
    "OperationOutcomeIssue",
    "Patient",
    "Quantity",
    "Questionnaire",
    "QuestionnaireItem",
    "QuestionnaireItemAnswerOption",
    "QuestionnaireResponse",
    "QuestionnaireResponseItem",
    "QuestionnaireResponseItemAnswer",
    "Reference",
]
