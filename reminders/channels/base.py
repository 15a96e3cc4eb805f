from abc import ABC, abstractmethod


class TransientSendError(Exception):
    """The provider may accept the message if asked again later (timeouts, 429, 5xx)."""


class PermanentSendError(Exception):
    """Asking again will not help (a refused number, a bad key, a rejected template)."""


class SmsBackend(ABC):
    """One instance per process (reminders.channels.sms_backend), so a provider client and
    its HTTPS session are made once, not for every text."""

    @abstractmethod
    def send(self, *, to: str, body: str, reference: str) -> str:
        """Send one text and return the provider's reference for it.

        `reference` is the message row's unique reference, given to the provider as its
        client reference. Not every provider treats it as an idempotency key (GOV.UK
        Notify does not), so a message that may already have reached the provider is
        looked up with `find` before it is sent again.
        """

    def find(self, *, reference: str) -> str | None:
        """The provider's reference of a text already accepted under `reference`, or None.

        Backends that cannot look up answer None, and the message is sent again.
        """
        return None
