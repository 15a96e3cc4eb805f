"""Strict helpers for reading settings from the environment.

Each helper fails loudly with the variable's name rather than guessing, so a typo in a
deployment shows up at start-up instead of as odd behaviour later.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default=_MISSING) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    """Unset means `default`; set but empty is refused, since `SECURE_SSL_REDIRECT=` reads
    as a switch turned off by mistake as easily as one turned off on purpose."""
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if not lowered:
        raise ImproperlyConfigured(
            f"{name} is set but empty: set it to true or false, or unset it for the default."
        )
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of true/false/1/0/yes/no/on/off, not {value!r}."
    )


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [part.strip() for part in value.split(",") if part.strip()]
