"""Reactions to programmes' domain events; each calls one measures service."""

from measures import services
from programmes.models import Enrolment

# Follow-up questionnaires continue after a participant completes the programme; only
# leaving it early stops them.
CANCELLING_ENDS = (Enrolment.Status.WITHDRAWN, Enrolment.Status.DISCHARGED)


def on_enrolment_started(sender, enrolment, **kwargs):
    services.administrations_lay_out(enrolment=enrolment)


def on_enrolment_ended(sender, enrolment, **kwargs):
    if enrolment.status == Enrolment.Status.ENTERED_IN_ERROR:
        services.administrations_cancel_live(enrolment=enrolment)
    elif enrolment.status in CANCELLING_ENDS:
        services.administrations_cancel_future(enrolment=enrolment)


def on_cohort_rescheduled(sender, cohort, **kwargs):
    services.administrations_shift(cohort=cohort)


def on_programme_revised(sender, programme, previous=None, **kwargs):
    if previous is not None:
        services.timepoints_copy(source=previous, target=programme)


def on_programme_copied(sender, programme, source, **kwargs):
    services.timepoints_copy(source=source, target=programme)
