"""The service dashboard's stored per-cohort figures: kept exact, never stale, pooled exactly."""

import datetime
import statistics

import pytest
import time_machine
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboards import figures, freshness, pages, selectors, tasks, warm
from dashboards.models import CohortFigures
from measures.models import Administration, Score
from measures.services import administration_enter, administrations_expire
from programmes.models import Cohort, Enrolment, GroupSession
from programmes.services import attendance_record, enrolment_end, session_cancel
from tests.dashboards.builders import enrol, make_cohort, mark, populate, score
from tests.dashboards.test_cohort_dashboard import worked_cohort  # noqa: F401 (fixture)

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db


def _figures_html(response) -> str:
    html = response.content.decode()
    return html[html.index("Figures worked out") : html.index("</main>")]


def _row(cohort) -> CohortFigures:
    return CohortFigures.objects.get(cohort=cohort)


def _computed(*cohorts):
    """Work the cohorts' figures out now, as a dashboard would, and return their rows."""
    figures.current_figures(type(cohorts[0]).objects.filter(pk__in=[c.pk for c in cohorts]))
    rows = [_row(c) for c in cohorts]
    assert all(row.is_current for row in rows)
    return rows


@time_machine.travel(TODAY, tick=False)
def test_taking_a_register_makes_only_that_cohorts_figures_stale(service, clinician):
    cohort, other = make_cohort(service, sessions=6), make_cohort(service, sessions=6)
    people = [enrol(cohort) for _ in range(3)]
    enrol(other)
    _computed(cohort, other)
    session = GroupSession.objects.get(cohort=cohort, number=1)

    attendance_record(
        session=session,
        statuses={e.pk: "present" for e in people},
        group_note="",
        by=clinician,
    )

    assert not _row(cohort).is_current
    assert _row(other).is_current
    stored = figures.current_figures(type(cohort).objects.filter(pk=cohort.pk))[cohort.pk]
    assert stored["attendance"] == [3, 3]  # recorded, attended
    assert _row(cohort).is_current


@time_machine.travel(TODAY, tick=False)
def test_ending_an_enrolment_and_expiring_questionnaires_make_figures_stale(service):
    cohort = make_cohort(service, sessions=6)
    person = enrol(cohort)
    live = score(person, "week12", "core10", {}, status=Administration.Status.OPEN)
    live.closes_on = datetime.date(2025, 5, 1)
    live.save(update_fields=["closes_on"])
    (before,) = _computed(cohort)

    assert administrations_expire(today=datetime.date(2025, 6, 2)) == 1  # a bulk update
    after_expiry = _row(cohort)
    assert not after_expiry.is_current
    assert figures.current_figures(type(cohort).objects.filter(pk=cohort.pk))[cohort.pk][
        "completion"
    ] == [0, 1]  # completed, closed

    enrolment_end(
        enrolment=person,
        status=Enrolment.Status.WITHDRAWN,
        ended_on=datetime.date(2025, 6, 1),
        reason="Moved away",
    )
    assert _row(cohort).version not in (before.version, after_expiry.version)
    assert not _row(cohort).is_current


@time_machine.travel(TODAY, tick=False)
def test_a_questionnaire_entered_from_paper_reaches_the_service_dashboard_at_once(
    service, clinician, manager, persona_client
):
    """The page is cached, yet a new score shows on the very next view."""
    cohort = make_cohort(service, sessions=6)
    people = [enrol(cohort) for _ in range(5)]
    for i, person in enumerate(people):
        score(person, "baseline", "core10", {"total": 20 + i})
    for person in people[:4]:
        score(person, "week52", "core10", {"total": 10})
    pending = score(people[4], "week52", "core10", {}, status=Administration.Status.OPEN)
    client = persona_client(manager)
    url = reverse("dashboards:service", args=[service.pk])
    first = _figures_html(client.get(url))
    assert "not enough data" in first  # four pairs: below the minimum of five
    with CaptureQueriesContext(connection) as cached:
        assert _figures_html(client.get(url)) == first
    assert not any("measures_score" in q["sql"] for q in cached.captured_queries)

    administration_enter(
        administration=pending,
        answers=dict.fromkeys(range(1, 11), 1),
        entered_by=clinician,
        completed_at=TODAY,
        outside_window_reason="Returned late",
    )

    assert not _row(cohort).is_current
    after = _figures_html(client.get(url))
    assert after != first
    result = selectors.service_dashboard(service.pk)["comparison"][0]["programmes"][0]["result"]
    assert (result.code, result.n) == ("core10", 5)
    # Every item answered 1 scores 14 (two positively worded items are reversed).
    assert Score.objects.filter(administration=pending, scale="total").get().value == 14
    # Four people from 20, 21, 22, 23 to 10 and one from 24 to 14: changes -10, -11, -12,
    # -13, -10, mean -11.2.
    assert result.mean_change == pytest.approx(-11.2)


def test_a_change_made_while_figures_are_worked_out_leaves_them_stale(service, monkeypatch):
    cohort = make_cohort(service, sessions=2)
    enrol(cohort)
    real = figures.compute

    def compute_while_someone_writes(ids):
        result = real(ids)
        freshness.mark_changed(ids)  # another request commits a change mid-computation
        return result

    monkeypatch.setattr(figures, "compute", compute_while_someone_writes)
    figures.current_figures(type(cohort).objects.filter(pk=cohort.pk))
    assert not _row(cohort).is_current  # so the next reader works them out again

    monkeypatch.setattr(figures, "compute", real)
    figures.current_figures(type(cohort).objects.filter(pk=cohort.pk))
    assert _row(cohort).is_current


def test_deleting_a_cohort_takes_its_figures_with_it(service):
    cohort = make_cohort(service, sessions=3)
    _computed(cohort)
    cohort.delete()  # its sessions go first, each marking the figures stale on the way
    assert not CohortFigures.objects.filter(cohort_id=cohort.pk).exists()


def test_pooled_baseline_sd_equals_the_sd_of_every_baseline_score(service, other_service):
    for seed in range(3):
        populate(make_cohort(service, sessions=2), 4, seed=seed)
    populate(make_cohort(other_service, sessions=2), 4, seed=9)  # another service: not pooled
    values = list(
        Score.objects.filter(
            administration__enrolment__cohort__service=service,
            administration__timepoint__key="baseline",
            administration__instrument_code="fscrs",
            scale="inadequate_self",
        ).values_list("value", flat=True)
    )
    assert len(values) == 12
    sds = figures.service_baseline_sds(service.pk)
    sd, n = sds[("fscrs", "inadequate_self")]
    assert (sd, n) == (pytest.approx(statistics.stdev(values)), 12)
    assert ("core10", "total") not in sds  # CORE-10's RCI is fixed, not computed


@time_machine.travel(TODAY, tick=False)
def test_two_cohorts_pool_exactly_into_the_programme_comparison(service, worked_cohort):  # noqa: F811
    """Two copies of the hand-worked cohort: twice the counts, the same mean change.

    Changes per copy: -8, -4, -10, -9, +6, -11 (mean -6.0, deviations -2, 2, -4, -3, 12,
    -5, squares summing to 202). Pooled: n 12, mean -6.0, SD sqrt(404 / 11) = 6.0603.
    Left out per copy: 2 with no usable baseline (P7 none, P8 not scored), 1 with no
    end-of-programme score (P9); pooled 4 and 2, shown as "fewer than 5".
    """
    cohort, _people = worked_cohort
    copy = make_cohort(service, sessions=12)
    pairs = {1: (20, 12), 2: (12, 8), 3: (25, 15), 4: (19, 10), 5: (14, 20), 6: (20, 9)}
    for before, after in pairs.values():
        e = enrol(copy)
        score(e, "baseline", "core10", {"total": before})
        score(e, "week52", "core10", {"total": after})
    score(enrol(copy), "week52", "core10", {"total": 11})
    e = enrol(copy)
    score(e, "baseline", "core10", {"total": None})
    score(e, "week52", "core10", {"total": 14})
    e = enrol(copy, status=Enrolment.Status.WITHDRAWN, ended_on=copy.week_date(20))
    score(e, "baseline", "core10", {"total": 16})
    mark(copy, e, ["present"])

    data = selectors.service_dashboard(service.pk)
    row = next(
        r
        for r in data["comparison"]
        if (r["code"], r["scale"], r["timepoint"]) == ("core10", "total", "week52")
    )
    pooled = row["programmes"][0]["result"]
    assert pooled.n == 12
    assert pooled.mean_change == pytest.approx(-6.0)
    assert pooled.sd_change == pytest.approx((404 / 11) ** 0.5)
    assert pooled.left_out == {"no baseline score": 4, "no end-of-programme score": 2}
    single = pages.cohort_dashboard(cohort, show_names=False)
    one = next(
        c["result"]
        for c in single["changes"]
        if (c["code"], c["scale"], c["timepoint"]["key"]) == ("core10", "total", "week52")
    )
    assert pooled.categories == {k: 2 * v for k, v in one.categories.items()}
    assert pooled.recovered == 2 * one.recovered
    assert [c["started"] for c in data["cohorts"]] == [9, 9]
    summary = {item["label"]: item["value"] for item in data["summary"]}
    assert summary["People who started"] == 18
    # 16 of 18 would show that the two who left (one per cohort, each hidden) add up to 2,
    # so 1 each: the 16 is suppressed with them.
    assert summary["Still taking part or completed"] == "suppressed"
    # Pooled CORE-10 to week 52: 8 reliable improvements, 2 with no reliable change and 2
    # deteriorations, of 12. The two 2s would be known to add up to 4 (so each 1-3) beside
    # the 8 and the 12, so the 8 is hidden too.
    primary = next(v for k, v in summary.items() if k.startswith("Reliable change on CORE-10"))
    assert primary == "suppressed of 12 improved reliably; suppressed deteriorated reliably"


class _RecordingCache:
    """The real cache, with a note of everything stored in it."""

    def __init__(self, real):
        self.real, self.stored = real, []

    def get(self, key, default=None):
        return self.real.get(key, default)

    def set(self, key, value, timeout=None):
        self.stored.append((key, value))
        return self.real.set(key, value, timeout)


@time_machine.travel(TODAY, tick=False)
def test_the_cohort_dashboard_shows_a_new_score_at_once_and_caches_no_names(
    worked_cohort,  # noqa: F811
    clinician,
    persona_client,
    monkeypatch,
):
    cohort, people = worked_cohort
    recording = _RecordingCache(pages.cache)
    monkeypatch.setattr(pages, "cache", recording)
    client = persona_client(clinician)
    url = reverse("dashboards:cohort", args=[cohort.pk])

    def week52_core10(response):
        return next(
            c["result"]
            for c in response.context["d"]["changes"]
            if (c["code"], c["timepoint"]["key"]) == ("core10", "week52")
        )

    first = client.get(url)
    assert "Person1 Example" in first.content.decode()  # a clinician sees names on the page
    assert week52_core10(first).n == 6
    assert week52_core10(client.get(url)).n == 6  # the second view comes from the cache

    pending = score(people[9], "week52", "core10", {}, status=Administration.Status.OPEN)
    administration_enter(
        administration=pending,
        answers=dict.fromkeys(range(1, 11), 1),
        entered_by=clinician,
        completed_at=TODAY,
        outside_window_reason="Returned late",
    )
    after = week52_core10(client.get(url))
    assert after.n == 7  # P9 now has both scores: 16 at baseline, 14 at week 52
    assert after.mean_change == pytest.approx((-36 - 2) / 7)

    outcomes = [value for key, value in recording.stored if key.startswith("dashboards:cohort")]
    assert len(outcomes) == 2  # worked out once per version of the data
    registers = [key for key, _value in recording.stored if key.startswith("dashboards:register")]
    assert len(registers) == 2
    for _key, value in recording.stored:  # the register and the outcomes alike: no names
        assert "Example" not in repr(value) and "Person" not in repr(value)


@time_machine.travel(TODAY, tick=False)
def test_the_background_refresh_readies_the_service_page_after_a_change(
    service, other_service, clinician, manager, persona_client
):
    cohort = make_cohort(service, sessions=6)
    people = [enrol(cohort) for _ in range(5)]  # five, so the rate is shown, not suppressed
    untouched = make_cohort(other_service, sessions=2)
    client = persona_client(manager)
    url = reverse("dashboards:service", args=[service.pk])
    client.get(url)
    assert warm.refresh_stale() == {"services": 1, "cohorts": 1}  # the other service's cohort
    assert _row(untouched).is_current

    attendance_record(
        session=GroupSession.objects.get(cohort=cohort, number=1),
        statuses={e.pk: "present" for e in people},
        group_note="",
        by=clinician,
    )
    assert list(warm.stale_cohorts()) == [cohort]
    assert tasks.refresh_stale_figures() == {"services": 1, "cohorts": 1}
    assert not warm.stale_cohorts().exists()

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    assert "100%" in page  # the register just taken: everyone present
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "programmes_attendance" not in sql  # nothing left to work out on the page itself


@pytest.mark.django_db(transaction=True)  # real commits, so on_commit runs as in production
@time_machine.travel(TODAY, tick=False)
def test_a_register_taken_has_a_worker_ready_both_dashboards_once_it_commits(
    service, clinician, manager, persona_client, settings, monkeypatch
):
    settings.DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS = 3
    queued, after_commit = [], []
    monkeypatch.setattr(
        tasks.refresh_changed_figures, "apply_async", lambda **kw: queued.append(kw)
    )
    queue_refresh = warm.queue_refresh

    def counted():
        after_commit.append(1)
        queue_refresh()

    monkeypatch.setattr(warm, "queue_refresh", counted)
    cohort = make_cohort(service, sessions=6)
    people = [enrol(cohort) for _ in range(5)]
    client = persona_client(manager)
    service_url = reverse("dashboards:service", args=[service.pk])
    cohort_url = reverse("dashboards:cohort", args=[cohort.pk])
    client.get(service_url)
    client.get(cohort_url)
    with CaptureQueriesContext(connection) as unchanged:
        client.get(service_url)
    caches["dashboards"].delete(warm.QUEUED_KEY)
    queued.clear()
    after_commit.clear()

    def take_register(number, status):
        attendance_record(
            session=GroupSession.objects.get(cohort=cohort, number=number),
            statuses={e.pk: status for e in people},
            group_note="",
            by=clinician,
        )

    # One register writes five rows, each marking the cohort changed: one refresh queued,
    # once the register has committed, a few seconds on.
    take_register(1, "present")
    assert len(after_commit) == 1
    assert queued == [{"countdown": 3}]
    # Another change before the worker has started is covered by the refresh queued.
    take_register(2, "present")
    assert len(after_commit) == 2 and len(queued) == 1

    assert tasks.refresh_changed_figures() == {"services": 1, "cohorts": 1}
    assert not warm.stale_cohorts().exists()
    with CaptureQueriesContext(connection) as after:
        page = client.get(service_url).content.decode()
    assert "100%" in page  # both registers: everyone present
    # Served as if nothing had changed: figures, total and page were all ready.
    assert len(after) == len(unchanged)
    with CaptureQueriesContext(connection) as cohort_queries:
        assert client.get(cohort_url).status_code == 200
    sql = " ".join(q["sql"] for q in cohort_queries.captured_queries)
    assert "programmes_attendance" not in sql and "measures_score" not in sql

    # A change after the worker started queues the next refresh.
    take_register(3, "dna")
    assert len(queued) == 2


def test_a_change_rolled_back_queues_no_refresh(service, settings, monkeypatch):
    settings.DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS = 3
    queued = []
    monkeypatch.setattr(
        tasks.refresh_changed_figures, "apply_async", lambda **kw: queued.append(kw)
    )
    cohort = make_cohort(service, sessions=2)
    caches["dashboards"].delete(warm.QUEUED_KEY)
    from django.db import transaction

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            freshness.mark_changed([cohort.pk])
            raise RuntimeError
        assert not connection.run_on_commit
        freshness.mark_changed([cohort.pk])
        assert len(connection.run_on_commit) == 1


@time_machine.travel(TODAY, tick=False)
def test_the_dashboards_still_open_when_their_cache_is_down(
    service, clinician, manager, persona_client, settings
):
    settings.CACHES = {
        **settings.CACHES,
        "dashboards": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": "redis://127.0.0.1:6399/0",  # nothing listens here
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    caches._settings = None  # re-read CACHES for the override
    try:
        assert type(caches["dashboards"]).__name__ == "FailOpenRedisCache"
        assert caches["dashboards"].get("anything") is None  # unreachable, answered as a miss
        cohort = make_cohort(service, sessions=6)
        populate(cohort, 5)
        cohort_page = persona_client(clinician).get(reverse("dashboards:cohort", args=[cohort.pk]))
        service_page = persona_client(manager).get(reverse("dashboards:service", args=[service.pk]))
    finally:
        caches._settings = None
    assert cohort_page.status_code == 200 and "Paired change" in cohort_page.content.decode()
    assert service_page.status_code == 200 and "Figures worked out" in service_page.content.decode()


@time_machine.travel(TODAY, tick=False)
def test_a_cancelled_session_shows_in_the_cached_register_at_once(
    service, clinician, persona_client
):
    cohort = make_cohort(service, sessions=6)
    enrol(cohort, given_name="Canaryone", family_name="Gridrow")
    client = persona_client(clinician)
    url = reverse("dashboards:cohort", args=[cohort.pk])
    before = client.get(url).content.decode()
    assert 'title="session cancelled"' not in before

    session_cancel(
        session=GroupSession.objects.get(cohort=cohort, number=3), reason="Facilitator unwell"
    )

    after = client.get(url).content.decode()
    assert after.count('title="session cancelled"') == 1  # one row, one cancelled session
    assert "Canaryone Gridrow" in after


@time_machine.travel(TODAY, tick=False)
def test_arms_are_compared_at_the_end_of_preparation_when_nobody_has_reached_week_52(service):
    # Two mid-programme cohorts, one per arm: baseline and week 12 scores only.
    #   CFGP: CORE-10 20->14, 18->12, 22->15, 16->13, 25->16: changes -6 -6 -7 -3 -9, mean -6.2
    #   PEG:  CORE-10 20->18, 18->17, 22->22, 16->15, 25->21: changes -2 -1 0 -1 -4, mean -1.6
    arms = {
        "cfgp-52": [(20, 14), (18, 12), (22, 15), (16, 13), (25, 16)],
        "peg-usual-care": [(20, 18), (18, 17), (22, 22), (16, 15), (25, 21)],
    }
    for key, pairs in arms.items():
        cohort = make_cohort(service, key=key, sessions=2)
        for before, after in pairs:
            e = enrol(cohort)
            score(e, "baseline", "core10", {"total": before})
            score(e, "week12", "core10", {"total": after})
    data = selectors.service_dashboard(service.pk)
    rows = {(r["timepoint"], r["code"]): r for r in data["comparison"] if r["code"] == "core10"}
    assert ("week12", "core10") in rows  # the end of preparation, which the data allows
    week12 = {p["key"]: p["result"] for p in rows[("week12", "core10")]["programmes"]}
    assert week12["cfgp-52"].mean_change == pytest.approx(-6.2)
    assert week12["peg-usual-care"].mean_change == pytest.approx(-1.6)
    assert ("week32", "core10") not in rows  # nobody has a week 32 score
    week52 = {p["key"]: p["result"] for p in rows[("week52", "core10")]["programmes"]}
    assert week52["cfgp-52"].n == 0
    assert week52["cfgp-52"].left_out == {"no end-of-programme score": 5}


def test_the_database_names_a_services_data_as_the_pages_do(service, other_service):
    first, second = make_cohort(service, sessions=2), make_cohort(service, sessions=2)
    make_cohort(other_service, sessions=2)
    cohorts = Cohort.objects.filter(service=service)
    # A cohort with no figures row yet has no version: only current_versions can name it.
    CohortFigures.objects.filter(cohort=second).delete()
    assert figures.service_digest(service.pk) == (None, None)
    versions = figures.current_versions(cohorts)
    assert figures.service_digest(service.pk, first.pk) == (
        figures.digest(versions),
        versions[first.pk],
    )
    freshness.mark_changed([second.pk])
    state, _ = figures.service_digest(service.pk)
    assert state == figures.digest(figures.current_versions(cohorts)) != figures.digest(versions)
