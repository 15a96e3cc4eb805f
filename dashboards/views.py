from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """Landing page: the user's cohorts with their next session and today's register."""
    from django.utils import timezone

    from accounts.scope import Can, service_ids
    from programmes.selectors import cohorts_for

    cohorts = []
    if service_ids(request.user, Can.VIEW_CLINICAL):
        cohorts = [c for c in cohorts_for(request.user) if c.next_session_date or c.open_enrolments]
    return render(request, "home.html", {"cohorts": cohorts, "today": timezone.localdate()})
