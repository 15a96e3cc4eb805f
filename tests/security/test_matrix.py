"""The authorisation matrix: every URL pattern x every role x own- and other-service objects.

Expectations come from tests/security/matrix_table.py (one line per URL name) and, for
Django admin and allauth, from the group rules below. Each cell runs inside a savepoint
that is rolled back, so a POST in one cell changes nothing for the next.
"""

from dataclasses import dataclass
from http.cookies import SimpleCookie

import pytest
import time_machine
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.scope import CAPABILITIES, Role
from tests.security.matrix_table import ALLAUTH_PUBLIC, FHIR_TOKENS, TABLE, FhirRule, Rule
from tests.security.matrix_world import NOW, OBJECTS, ROLES, SHARED_OBJECTS

MEMBER_ROLE = {
    "clinician": (Role.CLINICIAN, "own"),
    "other_clinician": (Role.CLINICIAN, "other"),
    "manager": (Role.MANAGER, "own"),
    "admin": (Role.ADMIN, "own"),
}
LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Pattern:
    name: str  # "namespace:name", or the route for an unnamed pattern
    route: str
    namespace: str
    module: str
    url_name: str | None
    converters: tuple[str, ...]


def all_patterns() -> list[Pattern]:
    found = []

    def walk(patterns, prefix="", namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                full = f"{namespace}:{entry.name}" if namespace else entry.name
                callback = entry.callback
                module = getattr(callback, "__module__", "") or ""
                if hasattr(callback, "view_class"):
                    module = callback.view_class.__module__
                found.append(
                    Pattern(
                        name=full if entry.name else route,
                        route=route,
                        namespace=namespace,
                        module=module,
                        url_name=full if entry.name else None,
                        converters=tuple(entry.pattern.converters)
                        if hasattr(entry.pattern, "converters")
                        else (),
                    )
                )

    walk(get_resolver().url_patterns)
    return found


def group_of(pattern: Pattern) -> str:
    if pattern.namespace == "admin":
        return "admin"
    if pattern.module.startswith("allauth."):
        return "allauth"
    return "table"


PATTERNS = all_patterns()


# Completeness -------------------------------------------------------------------------


def test_every_url_pattern_is_in_the_matrix():
    missing = [p.name for p in PATTERNS if group_of(p) == "table" and p.name not in TABLE]
    assert missing == [], "Add these URL names to tests/security/matrix_table.py"


def test_the_table_names_only_urls_that_exist():
    names = {p.name for p in PATTERNS}
    assert sorted(set(TABLE) - names) == []


def test_every_object_kind_in_the_table_has_a_factory():
    assert {r.obj for r in TABLE.values() if r.obj} <= set(OBJECTS)


# Expectations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    status: int
    location: str | None = None  # the redirect target's start, for 302s
    template: str | None = None  # a template the response must have used

    def __str__(self):
        return f"{self.status}{' -> ' + self.location if self.location else ''}" + (
            f" [{self.template}]" if self.template else ""
        )


def expect_staff(rule: Rule, role: str, scope: str) -> Expect:
    ok = Expect(rule.ok)
    if role in ("anonymous", "participant"):
        return Expect(302, LOGIN)
    if role == "superuser":  # no membership in any service
        if rule.need is None and not rule.any_member:
            return ok
        scoped = rule.obj and rule.obj not in SHARED_OBJECTS
        return Expect(404 if scoped else 403)
    member_role, home = MEMBER_ROLE[role]
    caps = CAPABILITIES[member_role]
    if rule.obj and rule.obj not in SHARED_OBJECTS and scope != home:
        return Expect(404)
    if rule.need is None or rule.need in caps:
        return ok
    return Expect(403)


def expect_questionnaire(rule: Rule, role: str, scope: str) -> Expect:
    if rule.kind == "questionnaire_public":
        if rule.obj == "token":
            # A live link opens its start page for whoever holds it; it is the token, not a
            # sign-in, that grants access, and it stays usable until its window closes.
            return Expect(200, template="questionnaire/start.html")
        return Expect(rule.ok, template="questionnaire/unavailable.html")
    if role != "participant":
        return Expect(200, template="questionnaire/session_ended.html")
    if rule.obj and scope == "other":
        return Expect(404)
    return Expect(rule.ok)


def expect_admin(pattern: Pattern, role: str, world) -> Expect:
    if pattern.url_name == "admin:login":
        if role in ("anonymous", "participant"):
            return Expect(302, LOGIN)
        return Expect(302, "/admin/") if role == "superuser" else Expect(403)
    if pattern.url_name == "admin:logout":
        # POST only; a GET by anyone who is not admin staff is sent back to the admin.
        return Expect(405) if role == "superuser" else Expect(302, "/admin/")
    if role != "superuser":
        return Expect(302, "/admin/login/")
    return Expect(admin_ok_status(pattern, world))


def admin_ok_status(pattern: Pattern, world) -> int:
    """What a superuser gets: Django admin's own behaviour for each kind of admin URL."""
    name = pattern.url_name or ""
    if name in ("admin:view_on_site", "admin:autocomplete"):
        return 404 if name == "admin:view_on_site" else 403
    if pattern.url_name is None:
        # "<object_id>/" redirects to its change page; the catch-all finds nothing.
        return 302 if "object_id" in pattern.route else 404
    model = admin_model(pattern)
    if model is None:
        return 200
    from django.contrib import admin

    model_admin = admin.site._registry[model]
    action = name.rsplit("_", 1)[-1]
    request = _superuser_request(world)
    if "object_id" in pattern.route and not model._default_manager.exists():
        if action == "delete" and not model_admin.has_delete_permission(request):
            return 403  # the delete view asks for the permission before the object
        return 302  # the admin sends a missing object back to the index with a message
    allowed = {
        "changelist": model_admin.has_view_or_change_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_view_or_change_permission(request),
        "history": model_admin.has_view_or_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
    }.get(action, True)
    return 200 if allowed else 403


def _superuser_request(world):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = world.personas["superuser"]
    return request


def admin_model(pattern: Pattern):
    from django.contrib import admin

    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if (pattern.url_name or "").startswith(prefix):
            return model
    return None


def expect_allauth(pattern: Pattern, role: str) -> Expect | tuple:
    name = pattern.url_name
    signed_in = role not in ("anonymous", "participant")
    if name in ALLAUTH_PUBLIC:
        return ALLAUTH_PUBLIC_EXPECT[name][signed_in]
    if not signed_in:
        return Expect(302, LOGIN)
    return ALLAUTH_SIGNED_IN_EXPECT.get(name, Expect(200))


# What allauth does with each public page, anonymous and signed in (signup is closed,
# e-mail verification is off, login codes are off; keys in these URLs are bogus).
ALLAUTH_PUBLIC_EXPECT = {
    "account_login": (Expect(200), Expect(302, "/")),
    "account_logout": (Expect(302, "/"), Expect(200)),
    "account_signup": (Expect(200, template="account/signup_closed.html"), Expect(302, "/")),
    "account_inactive": (Expect(200), Expect(200)),
    "account_reset_password": (Expect(200), Expect(200)),
    "account_reset_password_done": (Expect(200), Expect(200)),
    "account_reset_password_from_key": (Expect(200), Expect(200)),
    "account_reset_password_from_key_done": (Expect(200), Expect(200)),
    "account_email_verification_sent": (Expect(200), Expect(200)),
    "account_confirm_email": (
        Expect(200, template="account/email_confirm.html"),
        Expect(200, template="account/email_confirm.html"),
    ),
    "account_confirm_login_code": (Expect(302, LOGIN), Expect(302, "/")),
    "mfa_authenticate": (Expect(302, LOGIN), Expect(302, "/")),
}
# Signed-in allauth pages that are not a plain 200: those that first ask for the password
# again (allauth's reauthentication), and the ones for features turned off here.
REAUTH = Expect(302, "/accounts/reauthenticate/")
ALLAUTH_SIGNED_IN_EXPECT = {
    "mfa_activate_totp": REAUTH,
    "mfa_reauthenticate": REAUTH,  # personas have no authenticator: the password it is
    "mfa_deactivate_totp": Expect(404),
    "mfa_view_recovery_codes": Expect(404),
    "mfa_generate_recovery_codes": REAUTH,
    "mfa_download_recovery_codes": Expect(404),
    # Reauthentication by an e-mailed code (allauth 65.22+) is off here: the password it is.
    "account_request_reauthentication_code": REAUTH,
    "account_confirm_reauthentication_code": REAUTH,
    "account_set_password": Expect(302, "/accounts/password/change/"),
    "account_email": Expect(200),
}

# Requests ------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def run_cell(client: Client, method: str, url: str):
    saved = SimpleCookie()
    saved.load(client.cookies.output(header="", sep=";"))
    try:
        with transaction.atomic():
            response = getattr(client, method.lower())(url)
            raise _Rollback(response)
    except _Rollback as rollback:
        response = rollback.args[0]
    client.cookies = saved
    return response


def outcome_matches(response, expect: Expect) -> bool:
    if response.status_code != expect.status:
        return False
    if expect.location and not response.get("Location", "").startswith(expect.location):
        return False
    if expect.template:
        used = {t.name for t in getattr(response, "templates", []) or []}
        if expect.template not in used:
            return False
    return True


def describe(response) -> str:
    location = response.get("Location")
    return f"{response.status_code}{' -> ' + location if location else ''}"


GROUPS = sorted({p.namespace.split(":")[0] or "root" for p in PATTERNS if group_of(p) == "table"})


def cells_for(patterns, world):
    """(pattern, role, scope, method, url, expect) for every cell of these patterns."""
    for pattern in patterns:
        group = group_of(pattern)
        rule = TABLE.get(pattern.name) if group == "table" else None
        scopes = (
            ("own", "other")
            if rule is not None and rule.obj and rule.obj not in SHARED_OBJECTS
            else ("own",)
        )
        for role in ROLES:
            for scope in scopes:
                if group == "admin":
                    url, method = admin_url(pattern, world), "GET"
                    expect = expect_admin(pattern, role, world)
                elif group == "allauth":
                    url, method = allauth_url(pattern), "GET"
                    expect = expect_allauth(pattern, role)
                else:
                    url, method = table_url(pattern, rule, world, scope), rule.method
                    if rule.kind == "staff":
                        expect = expect_staff(rule, role, scope)
                    elif rule.kind == "fhir":
                        expect = Expect(rule.ok)
                    else:
                        expect = expect_questionnaire(rule, role, scope)
                yield pattern, role, scope, method, url, expect


def table_url(pattern, rule, world, scope) -> str:
    kwargs = dict(rule.kwargs)
    if rule.obj:
        kwargs.update(OBJECTS[rule.obj](world, scope))
    return reverse(pattern.url_name, kwargs=kwargs or None)


ALLAUTH_KWARGS = {"key": "not-a-real-key", "uidb36": "zz"}


def allauth_url(pattern) -> str:
    kwargs = {name: ALLAUTH_KWARGS[name] for name in pattern.converters if name in ALLAUTH_KWARGS}
    if "(?P<key>" in pattern.route:
        kwargs["key"] = ALLAUTH_KWARGS["key"]
    if "(?P<uidb36>" in pattern.route:
        kwargs["uidb36"] = ALLAUTH_KWARGS["uidb36"]
    return reverse(pattern.url_name, kwargs=kwargs or None)


def admin_url(pattern, world) -> str:
    if pattern.url_name is None:
        # Unnamed: "<model>/<object_id>/" (a redirect to the change page) or the catch-all.
        route = pattern.route.replace("admin/", "/admin/", 1)
        if "<path:object_id>" in route:
            model_path = route.split("<path:object_id>")[0]
            return model_path + f"{_any_pk(model_path)}/"
        return "/admin/no-such-page/"
    if pattern.url_name == "admin:app_list":
        return reverse(pattern.url_name, kwargs={"app_label": "accounts"})
    if pattern.url_name == "admin:view_on_site":
        return reverse(pattern.url_name, kwargs={"content_type_id": 0, "object_id": 0})
    if pattern.url_name == "admin:auth_user_password_change":
        # UserAdmin's "set password" page, named after auth's User whatever the model.
        return reverse(pattern.url_name, kwargs={"id": world.personas["clinician"].pk})
    model = admin_model(pattern)
    if "object_id" in pattern.route:
        pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        return reverse(pattern.url_name, kwargs={"object_id": pk})
    return reverse(pattern.url_name)


def _any_pk(model_path: str):
    app_label, model_name = model_path.strip("/").split("/")[-2:]
    model = apps.get_model(app_label, model_name)
    return model._default_manager.order_by("pk").values_list("pk", flat=True).first()


def _patterns_in(group: str) -> list[Pattern]:
    if group in ("admin", "allauth"):
        return [p for p in PATTERNS if group_of(p) == group]
    return [
        p
        for p in PATTERNS
        if group_of(p) == "table" and (p.namespace.split(":")[0] or "root") == group
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("group", [*GROUPS, "admin", "allauth"])
def test_authorisation_matrix(world, group):
    failures = []
    count = 0
    with time_machine.travel(NOW, tick=True):
        for pattern, role, scope, method, url, expect in cells_for(_patterns_in(group), world):
            count += 1
            response = run_cell(world.clients[role], method, url)
            if response.status_code >= 500 or not outcome_matches(response, expect):
                failures.append(
                    f"{pattern.name:45} {role:16} {scope:5} {method:4} expected {expect}, "
                    f"got {describe(response)}"
                )
    print(f"\nauthorisation matrix, {group}: {count} cells")
    assert count > 0
    assert failures == [], "\n" + "\n".join(failures)


def run_post(client: Client, url: str, data: dict):
    """As run_cell, with a body: rolled back, and the client's cookies put back after."""
    saved = SimpleCookie()
    saved.load(client.cookies.output(header="", sep=";"))
    try:
        with transaction.atomic():
            raise _Rollback(client.post(url, data))
    except _Rollback as rollback:
        response = rollback.args[0]
    client.cookies = saved
    return response


# The questionnaire page's other posts: saving as answers are chosen (the page's script),
# "take a break", and "send as it is" from the check page. The same rule as the page:
# only the participant whose session it is, and only their own questionnaire.
PAGE_POSTS = {
    "autosave": ("questionnaire:page", {"item_1": "1", "autosave": "1"}, Expect(204)),
    "break": (
        "questionnaire:page",
        {"item_1": "1", "action": "break"},
        Expect(200, template="questionnaire/break.html"),
    ),
    "check_break": (
        "questionnaire:submit",
        {"action": "break"},
        Expect(200, template="questionnaire/break.html"),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("post", sorted(PAGE_POSTS))
def test_authorisation_matrix_for_the_questionnaire_page_posts(world, post):
    name, data, own = PAGE_POSTS[post]
    failures = []
    with time_machine.travel(NOW, tick=True):
        for role in ROLES:
            for scope in ("own", "other"):
                kwargs = OBJECTS["questionnaire_page"](world, scope)
                if name == "questionnaire:submit":
                    kwargs = {"pk": kwargs["pk"]}
                if role != "participant":
                    expect = Expect(200, template="questionnaire/session_ended.html")
                else:
                    expect = own if scope == "own" else Expect(404)
                response = run_post(world.clients[role], reverse(name, kwargs=kwargs), data)
                if not outcome_matches(response, expect):
                    failures.append(
                        f"{post} {role} {scope}: expected {expect}, got {describe(response)}"
                    )
    assert failures == [], "\n" + "\n".join(failures)


# The FHIR API by bearer token ---------------------------------------------------------

TOKEN_KINDS = ("own", "other", "none", "revoked")


def test_every_fhir_api_address_is_in_the_token_table():
    names = {p.name for p in PATTERNS if p.namespace == "fhir_api"}
    assert names == set(FHIR_TOKENS)


def expect_fhir_token(rule: FhirRule, token: str, scope: str) -> int:
    if rule.public:
        return rule.ok
    if token in ("none", "revoked"):
        return 401
    if rule.patient and token != scope:
        return 404  # a patient of another service does not exist for this client
    return rule.ok


@pytest.mark.django_db
def test_fhir_api_matrix_by_token(world):
    from tests.fhir.clients import fetch_token, make_client

    http = Client()
    tokens = {"none": None}
    for kind in ("own", "other", "revoked"):
        side = world.side("other" if kind == "other" else "own")
        _, client_id, secret = make_client(side.service, name=f"{kind} client")
        tokens[kind] = fetch_token(http, client_id, secret)
    from oauth2_provider.models import AccessToken

    AccessToken.objects.get(application__name="revoked client").revoke()
    failures = []
    count = 0
    for name, rule in FHIR_TOKENS.items():
        kwargs = dict(TABLE[name].kwargs)
        for token in TOKEN_KINDS:
            for scope in ("own", "other") if rule.patient else ("own",):
                url = reverse(name, kwargs=kwargs or None)
                if rule.patient:
                    url += f"?patient={world.side(scope).participant.pk}"
                headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[token]}"} if tokens[token] else {}
                response = http.get(url, **headers)
                count += 1
                expected = expect_fhir_token(rule, token, scope)
                if (
                    response.status_code != expected
                    or response["Content-Type"] != "application/fhir+json"
                ):
                    failures.append(
                        f"{name:32} {token:8} {scope:5} expected {expected}, got "
                        f"{response.status_code} {response['Content-Type']}"
                    )
    print(f"\nFHIR token matrix: {count} cells")
    assert failures == [], "\n" + "\n".join(failures)
