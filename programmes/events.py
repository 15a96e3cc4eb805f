"""Domain events the programmes layer announces to the layers above it.

They are sent explicitly by programmes.services functions, inside the same transaction,
so a receiver's writes commit or roll back with the change that caused them. Receivers
live in higher apps (measures lays out and moves questionnaires) and must only call
service functions of their own app.
"""

from django.dispatch import Signal

# enrolment: the Enrolment that has just become active.
enrolment_started = Signal()
# enrolment: the Enrolment that has just been withdrawn, discharged or completed.
enrolment_ended = Signal()
# cohort: the Cohort whose start date (and so every later date) has just moved.
cohort_rescheduled = Signal()
# programme: the new current version; previous: the version it replaces. Programmes cannot
# import measures, so receivers copy what they attach to a programme (timepoints) across.
programme_revised = Signal()
# programme: a service's new programme; source: the shared programme version it was copied
# from. Receivers copy what they attach to `source` across, as for programme_revised.
programme_copied = Signal()
