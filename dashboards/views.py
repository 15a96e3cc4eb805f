from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """Landing page: the user's cohorts with their next session, the state of today's
    register, and the huddle's counts for that session (a fixed number of queries)."""
    from django.utils import timezone

    from accounts.scope import Can, service_ids
    from measures.huddle import session_huddles
    from programmes.models import GroupSession
    from programmes.selectors import home_cohorts

    cohorts = []
    if service_ids(request.user, Can.VIEW_CLINICAL):
        cohorts = list(home_cohorts(request.user))
        sessions = list(
            GroupSession.objects.filter(
                pk__in=[c.next_session_id for c in cohorts if c.next_session_id]
            )
        )
        huddles = session_huddles(sessions) if sessions else {}
        for cohort in cohorts:
            huddle = huddles.get(cohort.next_session_id)
            cohort.huddle_counts = huddle.counts if huddle else None
    return render(request, "home.html", {"cohorts": cohorts, "today": timezone.localdate()})
