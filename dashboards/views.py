from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """Landing page: the user's cohorts with their next session and today's register."""
    from django.utils import timezone

    from accounts.scope import Can, service_ids
    from programmes.selectors import home_cohorts

    cohorts = []
    if service_ids(request.user, Can.VIEW_CLINICAL):
        cohorts = list(home_cohorts(request.user))
    return render(request, "home.html", {"cohorts": cohorts, "today": timezone.localdate()})
