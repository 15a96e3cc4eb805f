"""FHIR OperationOutcome responses: how the API refuses, never with a server error page."""

from django.http import HttpResponse

from . import r4

ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    429: "throttled",
}


class Refusal(Exception):
    """Raised inside the API; turned into an OperationOutcome with its status."""

    def __init__(self, status: int, diagnostics: str):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics


def fhir_response(resource, status: int = 200) -> HttpResponse:
    return HttpResponse(
        resource.model_dump_json(exclude_none=True), status=status, content_type=r4.CONTENT_TYPE
    )


def outcome_response(status: int, diagnostics: str) -> HttpResponse:
    outcome = r4.OperationOutcome(
        issue=[
            r4.OperationOutcomeIssue(
                severity="error",
                code=ISSUE_CODES.get(status, "processing"),
                diagnostics=diagnostics,
            )
        ]
    )
    response = fhir_response(outcome, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response
