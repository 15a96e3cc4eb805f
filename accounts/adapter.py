from allauth.account.adapter import DefaultAccountAdapter


class StaffAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators only: no public sign-up."""

    def is_open_for_signup(self, request):
        return False
