"""Domain events the participants layer announces to the layers above it.

Sent explicitly by participants.services functions inside the same transaction.
"""

from django.dispatch import Signal

# participant: the Participant whose opt-out, preferred channel, mobile or e-mail has just
# changed. Reminders re-plans the messages of their open questionnaires.
contact_preferences_changed = Signal()
