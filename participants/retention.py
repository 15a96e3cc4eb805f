"""Who has finished with the service long enough ago for their contact details to go.

When a participant's last enrolment ended is the programmes layer's knowledge, and
participants never imports the layers above it. So a higher app registers a provider here
in its AppConfig.ready() (the same pattern as accounts.panels), and the retention service
(participants.services.participant_contacts_blank) asks every provider.
"""

import datetime
from collections.abc import Callable

from django.db.models import QuerySet

# (cutoff) -> a queryset of the participant ids that provider counts as finished before
# `cutoff`. It runs as a subquery of the retention service's one locking query.
FinishedBefore = Callable[[datetime.date], QuerySet]


class FinishedRegistry:
    def __init__(self):
        self._providers: dict[str, FinishedBefore] = {}

    def register(self, key: str, provider: FinishedBefore) -> None:
        self._providers[key] = provider

    def keys(self) -> list[str]:
        return sorted(self._providers)

    def finished_before(self, queryset: QuerySet, cutoff: datetime.date) -> QuerySet:
        """`queryset` narrowed to the participants every provider counts as finished.

        With no provider registered nobody is known to have finished, so nobody qualifies:
        contact details are never removed on a guess.
        """
        if not self._providers:
            return queryset.none()
        for key in self.keys():
            queryset = queryset.filter(pk__in=self._providers[key](cutoff))
        return queryset


finished = FinishedRegistry()
