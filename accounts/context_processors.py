from accounts.scope import CAPABILITIES, Can, roles_by_service


def memberships(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_by_service(user)
    held = set().union(*(CAPABILITIES[role] for role in roles.values())) if roles else set()
    return {
        "can_view_clinical": Can.VIEW_CLINICAL in held,
        "can_change_clinical": Can.CHANGE_CLINICAL in held,
        "can_view_dashboard": Can.VIEW_DASHBOARD in held,
        "can_manage_service": Can.MANAGE_SERVICE in held,
    }
