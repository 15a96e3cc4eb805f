"""Contact-detail rules shared by participant forms and services."""

import phonenumbers
from django.core.exceptions import ValidationError
from phonenumber_field.phonenumber import PhoneNumber

# Ofcom keeps 07700 900000-900999 for drama and examples: never a real phone, so demo and
# test data use it. libphonenumber calls these numbers invalid, hence the explicit range.
OFCOM_DRAMA_PREFIX = "+447700900"

NOT_A_NUMBER = "Enter a UK mobile number, for example 07700 900123 or +44 7700 900123."
NOT_MOBILE = (
    "This is not a UK mobile number (it may be a landline). Enter a number that starts "
    "with 07 or +44 7, so text messages can reach it."
)


def parse_uk_mobile(raw) -> PhoneNumber:
    """Parse and check a UK mobile number; raise ValidationError with a clear message."""
    if isinstance(raw, PhoneNumber):
        raw = raw.as_e164
    text = str(raw or "").strip()
    try:
        number = PhoneNumber.from_string(text, region="GB")
    except phonenumbers.NumberParseException:
        raise ValidationError(NOT_A_NUMBER, code="invalid_mobile") from None
    e164 = number.as_e164
    if e164.startswith(OFCOM_DRAMA_PREFIX) and len(e164) == 13:
        return number
    if not number.is_valid():
        raise ValidationError(NOT_A_NUMBER, code="invalid_mobile")
    if number.country_code != 44 or phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValidationError(NOT_MOBILE, code="not_uk_mobile")
    return number
