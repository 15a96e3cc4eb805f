"""Control characters are taken out of every query parameter, form field and cookie on arrival.

PostgreSQL refuses NUL in text, so a NUL that reached a query was a server error, and the
other C0 controls (escape sequences, bells, backspaces) have no place in anything typed into
Safeground: they only confuse logs, exports and the terminals they are shown in. Removing them
here, before any view, form (allauth's included) or the participant pages read the request,
covers every field at once. Tab, line feed and carriage return stay in form fields, where
notes span lines; a query parameter is never multi-line, so there they go too. Cookies are
cleaned as well: a quoted cookie may spell a NUL as an octal escape, and the session key is
looked up in the database.
"""

import contextlib
import re

from django.http import QueryDict, UnreadablePostError

QUERY_CONTROLS = re.compile(r"[\x00-\x1f]")
FORM_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def without_controls(params: QueryDict, controls: re.Pattern) -> QueryDict:
    """The same parameters with `controls` removed from names and values; `params` itself
    when there is nothing to remove, which is nearly always."""
    if not any(
        controls.search(name) or any(controls.search(value) for value in values)
        for name, values in params.lists()
    ):
        return params
    cleaned = QueryDict(mutable=True, encoding=params.encoding)
    for name, values in params.lists():
        cleaned.setlist(controls.sub("", name), [controls.sub("", value) for value in values])
    cleaned._mutable = False
    return cleaned


class ControlCharacterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.GET = without_controls(request.GET, QUERY_CONTROLS)
        if any(QUERY_CONTROLS.search(name + value) for name, value in request.COOKIES.items()):
            request.COOKIES = {
                QUERY_CONTROLS.sub("", name): QUERY_CONTROLS.sub("", value)
                for name, value in request.COOKIES.items()
            }
        if request.method == "POST":
            # A client that went away mid-body: the CSRF check refuses the request.
            with contextlib.suppress(UnreadablePostError):
                request.POST = without_controls(request.POST, FORM_CONTROLS)
        return self.get_response(request)
