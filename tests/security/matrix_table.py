"""The authorisation matrix's expectations: one line per URL name.

Each Rule says who may use the page and what it acts on; tests/security/test_matrix.py
turns that into an expected status for every role and for an object of the user's own
service and of another service. A URL the table does not name fails the completeness test,
so every new page must be added here (one line).

Staff pages (kind "staff"):
  need   the Can capability required (None: any signed-in staff member)
  obj    key of tests/security/matrix_world.OBJECTS for the URL's kwargs (None: no object)
  method GET, or POST for pages that only accept POST (sent with no data)
  ok     the status for an allowed request (200 a page, 302 a redirect after acting)
Expected for staff pages: anonymous and participant -> sign-in redirect; a persona outside
the object's service -> 404; inside it without the capability -> 403; otherwise `ok`.

FHIR API addresses (kind "fhir") take a bearer token, never a session: every browser role
gets `ok` (401 where a token is needed). What each kind of token gets is in FHIR_TOKENS below.

Django admin and allauth pages are not listed one by one: every pattern they have is
enumerated and judged by the group rules in test_matrix.py (admin: superusers only;
allauth: the public sign-in pages below, everything else needs a signed-in user).
"""

from dataclasses import dataclass, field

from accounts.scope import Can


@dataclass(frozen=True)
class Rule:
    kind: str = "staff"  # staff | questionnaire | questionnaire_public | fhir
    need: Can | None = None
    obj: str | None = None
    method: str = "GET"
    ok: int = 200
    kwargs: dict = field(default_factory=dict)
    any_member: bool = False  # needs a membership in some service, whatever the role


V, C, D, M = Can.VIEW_CLINICAL, Can.CHANGE_CLINICAL, Can.VIEW_DASHBOARD, Can.MANAGE_SERVICE
# Identifiable exports are for the service's clinicians only (managers get research ones).
EXPORT = {"variant": "identifiable", "dataset": "attendance", "fmt": "csv"}

TABLE: dict[str, Rule] = {
    "home": Rule(),
    # participants
    "participants:participant_list": Rule(need=V),
    "participants:participant_create": Rule(need=C),
    "participants:participant_detail": Rule(need=V, obj="participant"),
    "participants:participant_edit": Rule(need=C, obj="participant"),
    # programmes
    "programmes:programme_list": Rule(any_member=True),
    # A service's own programme; the shared ones are read-only to every service (403).
    "programmes:programme_edit": Rule(need=M, obj="programme"),
    "programmes:programme_copy": Rule(need=M, obj="shared_programme"),
    "programmes:cohort_list": Rule(need=V),
    "programmes:cohort_create": Rule(need=C),
    "programmes:cohort_detail": Rule(need=V, obj="cohort"),
    "programmes:enrol": Rule(need=C, obj="cohort"),
    "programmes:cohort_edit": Rule(need=C, obj="cohort"),
    "programmes:cohort_move_start": Rule(need=C, obj="cohort"),
    "programmes:register": Rule(need=C, obj="session"),
    "programmes:session_move": Rule(need=C, obj="session"),
    "programmes:session_cancel": Rule(need=C, obj="session"),
    "programmes:enrolment_end": Rule(need=C, obj="enrolment"),
    "programmes:enrolment_in_error": Rule(need=C, obj="enrolment"),
    "programmes:session_reinstate": Rule(need=C, obj="session"),
    "programmes:session_make_up": Rule(need=C, obj="cohort"),
    # measures (staff)
    "measures:alert_list": Rule(need=V),
    "measures:alert_detail": Rule(need=V, obj="alert"),
    "measures:alert_acknowledge": Rule(need=C, obj="alert", method="POST"),
    "measures:administration_enter": Rule(need=C, obj="administration"),
    "measures:administration_correct": Rule(need=C, obj="administration"),
    "measures:administration_void": Rule(need=C, obj="administration"),
    "measures:participant_questionnaires": Rule(need=V, obj="participant"),
    "measures:link_new": Rule(need=C, obj="participant", method="POST"),  # shows the link once
    "measures:links_revoke": Rule(need=C, obj="participant", method="POST", ok=302),
    "measures:huddle": Rule(need=V, obj="session"),
    # An empty POST is a form error on the huddle page, not a server error.
    "measures:huddle_contact": Rule(need=C, obj="session", method="POST"),
    "measures:wording_list": Rule(need=M),
    "measures:wording_import": Rule(need=M, obj="wording"),
    # questionnaire (participants, by link)
    "questionnaire:landing": Rule(kind="questionnaire_public", obj="token"),
    "questionnaire:start": Rule(kind="questionnaire_public", method="POST", ok=404),
    "questionnaire:home": Rule(kind="questionnaire"),
    "questionnaire:resume": Rule(kind="questionnaire", obj="administration", ok=302),
    "questionnaire:page": Rule(kind="questionnaire", obj="questionnaire_page"),
    "questionnaire:check": Rule(kind="questionnaire", obj="administration"),
    "questionnaire:submit": Rule(kind="questionnaire", obj="administration", method="POST", ok=302),
    "questionnaire:done": Rule(kind="questionnaire", obj="administration", ok=302),
    # reminders
    "reminders:messages_home": Rule(need=V, ok=302),
    "reminders:wording_home": Rule(need=M, ok=302),
    "reminders:send_now": Rule(need=C, obj="participant", method="POST", ok=302),
    "reminders:service_messages": Rule(need=V, obj="service_id"),
    "reminders:message_templates": Rule(need=M, obj="service_id"),
    "reminders:escalation_resolve": Rule(need=C, obj="escalation", method="POST", ok=302),
    # dashboards
    # Lists the services whose dashboards the user may see: empty, not refused, for others.
    "dashboards:index": Rule(),
    "dashboards:service": Rule(need=D, obj="service"),
    "dashboards:service_export": Rule(need=Can.EXPORT_IDENTIFIABLE, obj="service", kwargs=EXPORT),
    "dashboards:cohort": Rule(need=D, obj="cohort"),
    "dashboards:cohort_export": Rule(need=Can.EXPORT_IDENTIFIABLE, obj="cohort", kwargs=EXPORT),
    # accounts
    "accounts:staff_list": Rule(need=M),
    "accounts:staff_end_sessions": Rule(need=M, obj="staff_member", method="POST", ok=302),
    "accounts:staff_invite": Rule(need=M),
    "accounts:staff_detail": Rule(need=M, obj="staff_member"),
    # The colleague has a password already: the page says so instead of sending a link.
    "accounts:staff_invitation_resend": Rule(need=M, obj="staff_member", method="POST"),
    "accounts:membership_add": Rule(need=M, obj="staff_member", method="POST"),  # form errors
    "accounts:membership_role": Rule(need=M, obj="staff_membership", method="POST"),  # errors
    # Their only service: refused with a message (deactivate instead).
    "accounts:membership_remove": Rule(need=M, obj="staff_membership", method="POST"),
    "accounts:staff_deactivate": Rule(need=M, obj="staff_member", method="POST", ok=302),
    "accounts:staff_reactivate": Rule(need=M, obj="staff_member", method="POST"),  # active
    # Asks for the administrator's password again first (allauth's reauthentication).
    "accounts:staff_reset_second_factor": Rule(need=M, obj="staff_member", method="POST", ok=302),
    # Administrators (values hidden) and clinical roles (their services' values) alike.
    "accounts:audit_list": Rule(any_member=True),
    "subject_access:list": Rule(need=V),
    "subject_access:create": Rule(need=C, obj="participant_pk"),
    "subject_access:detail": Rule(need=V, obj="sar"),
    "subject_access:approve": Rule(need=C, obj="sar", method="POST", ok=302),
    "subject_access:release": Rule(need=C, obj="sar", method="POST", ok=302),
    "subject_access:download": Rule(need=C, obj="sar", kwargs={"fmt": "json"}),
    # FHIR bundles to download (signed-in staff)
    "fhir_bundles:participant": Rule(need=Can.EXPORT_IDENTIFIABLE, obj="participant"),
    "fhir_bundles:cohort_research": Rule(need=Can.EXPORT_RESEARCH, obj="cohort"),
    # FHIR API (tokens only; a signed-in session is no token)
    "fhir_api:metadata": Rule(kind="fhir"),
    "fhir_api:observation_search": Rule(kind="fhir", ok=401),
    "fhir_api:response_search": Rule(kind="fhir", ok=401),
    "fhir_api:questionnaire_read": Rule(kind="fhir", ok=401, kwargs={"qid": "phq9-1"}),
    "fhir_api:not_supported": Rule(kind="fhir", ok=404),
    # The token endpoints want client credentials, which no browser role has: an empty
    # POST is a bad request (OAuth 2's invalid_request / unsupported_grant_type).
    "fhir_oauth:token": Rule(kind="fhir", method="POST", ok=400),
    "fhir_oauth:revoke_token": Rule(kind="fhir", method="POST", ok=400),
}


@dataclass(frozen=True)
class FhirRule:
    """What each kind of bearer token gets at a FHIR API address, for a patient of the
    client's own service and of the other service (`patient`: the address takes one)."""

    patient: bool = False
    public: bool = False
    ok: int = 200


# Token kinds: own (a client of the patient's service), other (a client of the other
# service), none, revoked (own, revoked). Outside its service a patient does not exist.
FHIR_TOKENS: dict[str, FhirRule] = {
    "fhir_api:metadata": FhirRule(public=True),
    "fhir_api:observation_search": FhirRule(patient=True),
    "fhir_api:response_search": FhirRule(patient=True),
    "fhir_api:questionnaire_read": FhirRule(),
    "fhir_api:not_supported": FhirRule(public=True, ok=404),
}

# allauth pages anyone may open without signing in. Every other allauth page needs a
# signed-in user.
ALLAUTH_PUBLIC = {
    "account_login",
    "account_logout",
    "account_signup",
    "account_inactive",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_confirm_login_code",
    "mfa_authenticate",
}
