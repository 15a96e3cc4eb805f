"""Per-cohort figures kept for the service dashboard, and how fresh they are.

Every write of a cohort's clinical data (registers, enrolments, questionnaires, scores)
gives the cohort's row a new random `version` in the same transaction
(dashboards.freshness). A row whose `computed_from` differs from its `version` is stale, and
the next reader recomputes it (dashboards.figures) before using it, as it does a row
worked out on an earlier day (what counts as held moves with the date). So the service
dashboard never reads figures older than the data or the day.
"""

from django.db import models

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
    # Counts, sums and distinct (before, after, count) pairs: no names, no identifiers.
    figures = models.JSONField(default=dict)
    # {"code.scale": [n, sum, sum of squares]} of baseline scores, for the service's own
    # baseline SDs; apart from `figures` so pooling them reads a few bytes per cohort.
    baseline_sums = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "cohort figures"

    def __str__(self):
        return f"Figures for cohort {self.cohort_id}"

    @property
    def is_current(self) -> bool:
        return self.computed_from == self.version
