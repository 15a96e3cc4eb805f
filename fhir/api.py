"""The read-only FHIR API for other systems: searches and reads within one client's service.

Every search and read that returns a participant's data writes one access entry per
participant returned (accounts.audit), naming the client. A patient outside the client's
service is answered exactly as one that does not exist: 404.
"""

from functools import wraps

from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.audit import record_access
from measures.definitions import all_instruments
from participants.models import Participant

from . import r4, search
from .api_auth import calling_client
from .capability import capability_statement
from .identity import IDENTIFIABLE, base_url, questionnaire_id, questionnaire_url
from .observations import observation
from .outcomes import Refusal, fhir_response, outcome_response
from .questionnaires import questionnaire
from .responses import questionnaire_response
from .selectors import completed_administrations, scores

OBSERVATION_PARAMS = frozenset({"patient", "subject", "code", "date"})
RESPONSE_PARAMS = frozenset({"patient", "subject", "questionnaire", "authored"})


def fhir_view(view):
    """GET only (the API is read-only); every refusal as an OperationOutcome. No CSRF
    check: the API reads no cookie and changes nothing, so another method only gets 405."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET":
            response = outcome_response(405, "This API is read-only: GET only.")
            response["Allow"] = "GET"
            return response
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return outcome_response(refusal.status, refusal.diagnostics)

    return wrapped


def _patient_filter(query, client, prefix: str) -> dict:
    pid = search.patient_id(query, "patient")
    subject = search.patient_id(query, "subject")
    if pid is not None and subject is not None and pid != subject:
        return {"pk__in": []}
    pid = pid if pid is not None else subject
    if pid is None:
        return {}
    if not Participant.objects.filter(pk=pid, service_id=client.service_id).exists():
        raise Refusal(404, "No such patient.")
    return {f"{prefix}participant_id": pid}


def _page(query, rows):
    """One page of rows (_count, _offset), the total, and whether more follow."""
    count, offset = search.paging(query)
    total = rows.count()
    return list(rows[offset : offset + count]), total, count, offset


def _searchset(request, resources, total: int, count: int, offset: int) -> r4.Bundle:
    def link(relation: str, at: int) -> r4.BundleLink:
        query = request.GET.copy()
        query["_count"], query["_offset"] = str(count), str(at)
        return r4.BundleLink(
            relation=relation, url=request.build_absolute_uri(f"?{query.urlencode()}")
        )

    links = [r4.BundleLink(relation="self", url=request.build_absolute_uri())]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    return r4.Bundle(
        type="searchset",
        total=total,
        link=links,
        entry=[
            r4.BundleEntry(
                fullUrl=f"{base_url()}/{resource.get_resource_type()}/{resource.id}",
                resource=resource,
                search=r4.BundleEntrySearch(mode="match"),
            )
            for resource in resources
        ]
        or None,
    )


def _audit(participant_ids, client) -> None:
    if participant_ids:
        people = Participant.objects.filter(pk__in=participant_ids).only("pk", "reference")
        record_access(people, where=f"Read through the FHIR API by client {client.pk}")


@fhir_view
def observation_search(request):
    client = calling_client(request)
    query = request.GET
    search.check_names(query, OBSERVATION_PARAMS)
    rows = scores().filter(
        administration__enrolment__participant__service_id=client.service_id,
        **_patient_filter(query, client, "administration__enrolment__"),
    )
    codes = search.observation_codes(query)
    if codes is not None:
        rows = rows.filter(codes)
    rows = rows.filter(search.dates(query, "date", "administration__completed_at"))
    found, *paging = _page(query, rows)
    resources = [observation(row.administration, row, IDENTIFIABLE) for row in found]
    _audit({row.administration.enrolment.participant_id for row in found}, client)
    return fhir_response(_searchset(request, resources, *paging))


def _questionnaire_filter(query) -> dict:
    values = [v for raw in query.getlist("questionnaire") for v in raw.split(",")]
    if not values:
        return {}
    codes = set()
    for instrument in all_instruments():
        qid = questionnaire_id(instrument.code, instrument.version)
        names = {
            qid,
            f"Questionnaire/{qid}",
            questionnaire_url(instrument.code, instrument.version),
        }
        if names & set(values):
            codes.add(instrument.code)
    return {"instrument_code__in": sorted(codes)}


@fhir_view
def response_search(request):
    client = calling_client(request)
    query = request.GET
    search.check_names(query, RESPONSE_PARAMS)
    rows = completed_administrations().filter(
        enrolment__participant__service_id=client.service_id,
        **_patient_filter(query, client, "enrolment__"),
        **_questionnaire_filter(query),
    )
    rows = rows.filter(search.dates(query, "authored", "completed_at"))
    found, *paging = _page(query, rows)
    resources = [questionnaire_response(adm, IDENTIFIABLE) for adm in found]
    _audit({adm.enrolment.participant_id for adm in found}, client)
    return fhir_response(_searchset(request, resources, *paging))


@fhir_view
def questionnaire_read(request, qid: str):
    calling_client(request)
    for instrument in all_instruments():
        if questionnaire_id(instrument.code, instrument.version) == qid:
            return fhir_response(questionnaire(instrument.code))
    raise Refusal(404, "No such questionnaire.")


@fhir_view
def metadata(request):
    token_url = request.build_absolute_uri(reverse("fhir_oauth:token"))
    return fhir_response(capability_statement(token_url))


def not_supported(request):
    """Any other address under /fhir/: a FHIR 404, not the staff site's page."""
    return outcome_response(404, "This server offers only the interactions in /fhir/metadata.")
