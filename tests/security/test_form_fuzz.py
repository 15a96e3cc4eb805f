"""Every form in the project, fed at least 200 generated inputs each (valid-looking,
invalid and hostile): validation may refuse them but must never raise.

Forms are discovered by importing every module of the project's apps, so a new form is
fuzzed as soon as it exists. A form whose constructor needs an argument not listed in
CONSTRUCTOR_ARGUMENTS fails `test_every_form_can_be_built`: add a provider there.
"""

import datetime as dt
import importlib
import inspect
import pkgutil

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership, Service, User
from tests.factories import CohortFactory, EnrolmentFactory, MembershipFactory, default_programme

APPS = ("accounts", "participants", "programmes", "measures", "reminders", "dashboards")
SKIP_MODULE_PARTS = {"migrations", "management", "tests"}
EXAMPLES = 200

HOSTILE = [
    "' OR '1'='1",
    "1; DROP TABLE participants_participant; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ request }}{% debug %}",
    "../../../../etc/passwd",
    "\x00",
    "abc\x00def",
    # Every other C0 control, alone, inside text and as a terminal escape sequence.
    "".join(chr(c) for c in range(1, 32)),
    "Canary\x07zzyzx\x08\x0b\x0c\x1f",
    "\x1b[2J\x1b[31mred\x1b[0m",
    "line one\r\nline two\ttabbed\x00",
    "\u202egnp.exe",
    "𝕮𝖆𝖓𝖆𝖗𝖞 \U0001f600 ﷽ Zalgơ̶̢",
    "x" * 100_000,
    "9" * 400,
    "-1",
    "0",
    "-0",
    "1e309",
    "NaN",
    "inf",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "31/12/2026",
    "",
    " ",
    "\r\n\t",
    "%s%n%x",
    "null",
    "[]",
    "{}",
    "true",
    "on",
    "07700 900123",
    "+44 7700 900123",
    "9434765919",
    "canary.zzyzx@example.com",
]


def discover_forms() -> list[type[forms.BaseForm]]:
    found = {}
    for app in APPS:
        package = importlib.import_module(app)
        modules = [package.__name__]
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if SKIP_MODULE_PARTS & set(info.name.split(".")):
                continue
            modules.append(info.name)
        for name in modules:
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, forms.BaseForm)
                    and obj.__module__ == module.__name__
                ):
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


FORMS = discover_forms()


@pytest.fixture
def context(db, service, clinician):
    admin = MembershipFactory(service=service, role=Membership.Role.ADMIN).user
    cohort = CohortFactory(service=service)
    cohort.facilitators.add(clinician)
    enrolments = EnrolmentFactory.create_batch(2, cohort=cohort)
    return {
        "service": service,
        "clinician": clinician,
        "admin": admin,
        "cohort": cohort,
        "enrolments": enrolments,
    }


def _instrument():
    from measures.definitions import all_instruments

    return next(i for i in all_instruments() if i.items)


def _start_move_preview(c):
    """A start move with a decision needed (session 18, cancelled for May Day) and proposed
    ones (sessions landing on bank holidays), built once per test."""
    if "start_move_preview" not in c:
        from programmes.calendar import cohort_start_move_preview
        from programmes.services import cohort_create, session_cancel

        cohort = cohort_create(
            service=c["service"],
            programme=default_programme(),
            name="Monday group 2027",
            start_date=dt.date(2027, 1, 4),
            start_time=dt.time(10, 0),
            venue="Room 1",
            capacity=8,
        )
        session_cancel(session=cohort.sessions.get(number=18), reason="May Day")
        c["start_move_preview"] = cohort_start_move_preview(
            cohort=cohort, new_start_date=dt.date(2027, 1, 11), today=dt.date(2026, 12, 1)
        )
    return c["start_move_preview"]


# How to build each keyword argument a form's constructor asks for, by its name.
CONSTRUCTOR_ARGUMENTS = {
    "users": lambda c: User.objects.all(),
    "services": lambda c: Service.objects.all(),
    "programmes": lambda c: type(default_programme()).objects.filter(is_current=True),
    "programme": lambda c: default_programme(),
    "cohort": lambda c: c["cohort"],
    "rows": lambda c: [(e, None) for e in c["enrolments"]],
    "enrolment_ids": lambda c: [e.pk for e in c["enrolments"]],
    "instrument": lambda c: _instrument(),
    "items": lambda c: _instrument().items,
    "answers": lambda c: {},
    "kind": lambda c: "invitation",
    "channel": lambda c: "sms",
    "choices": lambda c: {"programmes": [("cfgp-52", "Default")], "years": [2026]},
    "preview": _start_move_preview,
}
STANDARD = {
    "self",
    "args",
    "kwargs",
    "data",
    "files",
    "auto_id",
    "prefix",
    "initial",
    "error_class",
    "label_suffix",
    "empty_permitted",
    "instance",
    "field_order",
    "use_required_attribute",
    "renderer",
    "bound_field_class",
}


def constructor_kwargs(form_class, context) -> dict:
    params = inspect.signature(form_class.__init__).parameters
    extra = [n for n in params if n not in STANDARD]
    missing = [n for n in extra if n not in CONSTRUCTOR_ARGUMENTS]
    assert not missing, f"{form_class.__name__} needs {missing}: add to CONSTRUCTOR_ARGUMENTS"
    return {n: CONSTRUCTOR_ARGUMENTS[n](context) for n in extra}


def plausible(field: forms.Field):
    """Values of the right shape for the field, so validation reaches its deeper checks."""
    if isinstance(field, forms.ModelChoiceField):
        pks = [str(pk) for pk in field.queryset.values_list("pk", flat=True)[:5]] or ["1"]
        return st.sampled_from(pks)
    if isinstance(field, forms.ChoiceField):
        values = [str(k) for k, _ in field.choices if not isinstance(_, list | tuple)] or [""]
        return st.sampled_from(values)
    if isinstance(field, forms.DateField):
        return st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
    if isinstance(field, forms.TimeField):
        return st.times().map(lambda t: t.strftime("%H:%M"))
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        return st.integers(-(2**70), 2**70).map(str)
    if isinstance(field, forms.BooleanField):
        return st.sampled_from(["on", "true", "false", ""])
    if isinstance(field, forms.EmailField):
        return st.emails()
    return st.text(max_size=200)


def value_for(field):
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=300),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        plausible(field),
    )


def payload(form):
    """A data dict (some fields missing, some repeated) and a files dict."""
    names = list(form.fields)
    field_values = {
        name: st.one_of(
            st.none(),
            value_for(form.fields[name]).map(lambda v: [v]),
            st.lists(value_for(form.fields[name]), min_size=2, max_size=3),
        )
        for name in names
    }
    data = st.fixed_dictionaries(field_values).map(
        lambda d: MultiValueDict({k: v for k, v in d.items() if v is not None})
    )
    file_fields = [n for n, f in form.fields.items() if isinstance(f, forms.FileField)]
    files = st.fixed_dictionaries({n: st.binary(max_size=2000) for n in file_fields}).map(
        lambda d: MultiValueDict(
            {n: [SimpleUploadedFile(f"{n}.txt", content)] for n, content in d.items()}
        )
    )
    return st.tuples(data, files)


def test_forms_are_discovered():
    names = {f.__name__ for f in FORMS}
    assert {"ParticipantForm", "SubjectAccessRequestForm"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_form_can_be_built(form_class, context):
    form_class(**constructor_kwargs(form_class, context))


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_form_survives_generated_and_hostile_input(form_class, context):
    kwargs = constructor_kwargs(form_class, context)
    template = form_class(**kwargs)
    tried = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same inputs every run, so a CI failure reproduces
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload(template))
    def run(example):
        data, files = example
        form = form_class(data=data, files=files, **constructor_kwargs(form_class, context))
        if form.is_valid():
            assert isinstance(form.cleaned_data, dict)
        else:
            assert form.errors
        str(form)  # rendering bound hostile values must not raise either
        tried.append(1)

    run()
    print(f"\nform fuzz: {form_class.__module__}.{form_class.__name__}: {len(tried)} inputs")
    assert len(tried) >= EXAMPLES
