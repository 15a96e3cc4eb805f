"""A FHIR Questionnaire for each instrument version, from its definition in measures/.

Item wording goes out only where the instrument's licence lets Safeground ship it, the
rule the participant pages follow (measures.catalogue): a service's own licensed wording
is for its use, not for passing on, so an instrument without shipped wording leaves as its
structure, answer values and scores only. Each answer option carries the score it counts
for in the ordinalValue extension: a reversed item's "4" counts 0.
"""

from measures.definitions import NOT_APPLICABLE, Instrument, Item, get_instrument

from . import r4
from .identity import questionnaire_id, questionnaire_url


def option_score(instrument: Instrument, number: int, value: int) -> int:
    """What an answer counts for in the instrument's scales, after any reversal."""
    for scale in instrument.scales:
        if scale.reversed and number in scale.reversed.items:
            return scale.reversed.apply(number, value)
    return value


def _name(instrument: Instrument) -> str:
    # A computable name: a capital, then letters, digits and underscores.
    return "Safeground_" + instrument.code


def _item(instrument: Instrument, item: Item) -> r4.QuestionnaireItem:
    text = item.text if instrument.ships_wording else None
    if item.count:
        return r4.QuestionnaireItem(
            linkId=str(item.number), prefix=str(item.number), text=text, type="integer"
        )
    options = [
        r4.QuestionnaireItemAnswerOption(
            valueCoding=r4.Coding(
                code=str(option.value),
                display=option.label if instrument.ships_wording else None,
            ),
            extension=[
                r4.Extension(
                    url=r4.ORDINAL_VALUE,
                    valueDecimal=option_score(instrument, item.number, option.value),
                )
            ],
        )
        for option in item.options
    ]
    if item.allows_na:
        options.append(
            r4.QuestionnaireItemAnswerOption(
                valueCoding=r4.Coding(code=NOT_APPLICABLE, display="Not applicable")
            )
        )
    return r4.QuestionnaireItem(
        linkId=str(item.number),
        prefix=str(item.number),
        text=text,
        type="choice",
        answerOption=options,
    )


def questionnaire(code: str, version: str | None = None) -> r4.Questionnaire:
    """The instrument's Questionnaire. Only the shipped version exists (ValueError else)."""
    instrument = get_instrument(code)
    if version is not None and version != instrument.version:
        raise ValueError(f"{code}: version {version!r} is not the shipped {instrument.version!r}")
    licence = instrument.licence
    copyright_text = " ".join(part for part in (licence.name, licence.attribution) if part)
    return r4.Questionnaire(
        id=questionnaire_id(code, instrument.version),
        url=questionnaire_url(code, instrument.version),
        version=instrument.version,
        name=_name(instrument),
        title=instrument.full_name,
        status="active",
        subjectType=["Patient"],
        copyright=copyright_text or None,
        item=[_item(instrument, item) for item in instrument.items],
    )
