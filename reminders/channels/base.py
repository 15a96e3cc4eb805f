from abc import ABC, abstractmethod


class TransientSendError(Exception):
    """The provider may accept the message if asked again later (timeouts, 429, 5xx)."""


class PermanentSendError(Exception):
    """Asking again will not help (a refused number, a bad key, a rejected template)."""


class SmsBackend(ABC):
    @abstractmethod
    def send(self, *, to: str, body: str, reference: str) -> str:
        """Send one text and return the provider's reference for it.

        `reference` is the message row's unique reference. A backend that supports it uses
        it as an idempotency key, so a second call with the same reference sends nothing new
        and returns the first call's provider reference.
        """
