"""Per-cohort figures kept for the service dashboard, and how fresh they are.

Every write of a cohort's clinical data (registers, enrolments, questionnaires, scores)
gives the cohort's row a new random `version` in the same transaction
(dashboards.freshness). A row whose `computed_from` differs from its `version` is stale, and
the next reader recomputes it (dashboards.figures) before using it, as it does a row
worked out on an earlier day (what counts as held moves with the date). So the service
dashboard never reads figures older than the data or the day.
"""

from django.db import models

from accounts.models import Service
from programmes.models import Cohort


class CohortFigures(models.Model):
    cohort = models.OneToOneField(
        Cohort, primary_key=True, on_delete=models.CASCADE, related_name="figures"
    )
    # A fresh random value on every change of the cohort's data; never read for its size.
    version = models.BigIntegerField()
    # The `version` the stored figures were worked out from.
    computed_from = models.BigIntegerField(null=True)
    computed_at = models.DateTimeField(null=True)
    # dashboards.figures.FIGURES_SCHEMA the figures were worked out under.
    schema = models.PositiveIntegerField(null=True)
    # Counts, sums and distinct (before, after, count) pairs: no names, no identifiers.
    figures = models.JSONField(default=dict)
    # The figures as they were pooled into the service's ServiceFigures, and the
    # `computed_from` they had then: what is taken out of the pool when they change.
    pooled = models.JSONField(null=True)
    pooled_from = models.BigIntegerField(null=True)

    class Meta:
        verbose_name_plural = "cohort figures"

    def __str__(self):
        return f"Figures for cohort {self.cohort_id}"

    @property
    def is_current(self) -> bool:
        return self.computed_from == self.version


class ServiceFigures(models.Model):
    """The unfiltered service dashboard's figures pooled across all the service's cohorts.

    Kept up to date one cohort at a time (dashboards.figures.service_pool): when cohorts'
    figures change, each one's previous contribution (CohortFigures.pooled) is taken out
    and its new one put in, so a change to one cohort reads that cohort, not all of them.
    """

    service = models.OneToOneField(
        Service, primary_key=True, on_delete=models.CASCADE, related_name="pooled_figures"
    )
    # dashboards.figures.POOL_SCHEMA when pooled: another value means pool again from scratch.
    schema = models.PositiveIntegerField(default=0)
    # {cohort id: the `computed_from` of the figures pooled here}
    versions = models.JSONField(default=dict)
    # {"programmes": {programme key: sums}, "cohorts": {cohort id: its row's figures}}:
    # counts, sums and counted score pairs, no names, no identifiers.
    pooled = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "service figures"

    def __str__(self):
        return f"Pooled figures for service {self.service_id}"
