"""The participant's questionnaire page: each question as a fieldset of radio buttons.

The questions of a page are most of what the page renders (a PHQ-9 page has 10 items and 60
answers), so they are written here in one pass instead of through the template engine tag
by tag. The markup is the same as the page's template wrote: a fieldset per item, labelled
by a legend with the question's number and text and described by its error when it has
one; one labelled radio per answer, its id made from the item's number and the answer's
value, the chosen one checked, "I'd rather not answer" marked as the skip option; a
labelled number box for a count; and the calm warning before the first sensitive item.
"""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from measures.forms import LARGEST_COUNT, SKIPPED

register = template.Library()

SENSITIVE_WARNING = (
    '  <div class="q-sensitive" id="sensitive-warning">\n'
    "    <p>The next question is about something hard, such as thoughts of harming yourself."
    " Many people have thoughts like these. You can skip it if you would rather not"
    " answer.</p>\n"
    "  </div>\n"
)
OPTION = (
    '      <div class="q-option{extra}">\n'
    '        <input class="q-radio" type="radio" name="item_{number}" id="item-{number}-{value}"'
    ' value="{value}"{checked}>\n'
    '        <label for="item-{number}-{value}">{label}</label>\n'
    "      </div>\n"
)
COUNT = (
    '      <label for="item-{number}-input" class="q-count-label">Number</label>\n'
    '      <input type="number" inputmode="numeric" min="0" max="{largest}" name="item_{number}"'
    ' id="item-{number}-input" value="{value}" class="form-control q-count">\n'
)


def _options(number: str, question: dict) -> str:
    return "".join(
        OPTION.format(
            extra=" q-option-skip" if option["value"] == SKIPPED else "",
            number=number,
            value=conditional_escape(option["value"]),
            checked=" checked" if option["checked"] else "",
            label=conditional_escape(option["label"]),
        )
        for option in question["options"]
    )


def _question(question: dict) -> str:
    number = conditional_escape(question["number"])
    error = question["error"]
    parts = [SENSITIVE_WARNING] if question["sensitive_warning"] else []
    if question["preamble"]:
        parts.append(f'  <p class="q-preamble">{conditional_escape(question["preamble"])}</p>\n')
    described = f' aria-describedby="item-{number}-error"' if error else ""
    parts.append(
        f'  <fieldset class="q-item{" q-item-error" if error else ""}" id="item-{number}"'
        f"{described}>\n"
        f'    <legend class="q-legend"><span class="q-qnum">Question {number}</span>'
        f" {conditional_escape(question['text'])}</legend>\n"
    )
    if error:
        parts.append(
            f'    <p class="q-error" id="item-{number}-error"><span class="visually-hidden">'
            f"Error:</span> {conditional_escape(error)}</p>\n"
        )
    if question["count"]:
        parts.append(
            COUNT.format(
                number=number, largest=LARGEST_COUNT, value=conditional_escape(question["value"])
            )
        )
    else:
        parts.append(_options(number, question))
    parts.append("  </fieldset>\n")
    return "".join(parts)


@register.simple_tag
def page_questions(questions: list[dict]) -> str:
    """Every question of a page, from QuestionnairePageForm.questions()."""
    return mark_safe("".join(_question(q) for q in questions))  # noqa: S308 (escaped above)
