"""Domain events the measures layer announces to the layers above it.

Sent explicitly by measures.services functions inside the same transaction, so a receiver's
writes commit or roll back with the change that caused them.
"""

from django.dispatch import Signal

# enrolment_ids: enrolments some of whose questionnaire windows have just been laid out,
# moved, opened, closed, completed or cancelled. Reminders re-plans their messages.
windows_changed = Signal()
