"""The participant's questionnaire page: each item's answers as radio buttons.

The options of a page's items are most of what the page renders (a PHQ-9 page has 60), so
they are written here in one pass instead of through the template engine option by option.
The markup is the same as the template wrote: one labelled radio per answer, its id made
from the item's number and the answer's value, the chosen one checked, and "I'd rather not
answer" marked as the skip option.
"""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from measures.forms import SKIPPED

register = template.Library()

OPTION = (
    '      <div class="q-option{extra}">\n'
    '        <input class="q-radio" type="radio" name="item_{number}" id="item-{number}-{value}"'
    ' value="{value}"{checked}>\n'
    '        <label for="item-{number}-{value}">{label}</label>\n'
    "      </div>\n"
)


@register.simple_tag
def item_options(question: dict) -> str:
    """The radio buttons of one question from QuestionnairePageForm.questions()."""
    number = conditional_escape(question["number"])
    parts = []
    for option in question["options"]:
        value = conditional_escape(option["value"])
        parts.append(
            OPTION.format(
                extra=" q-option-skip" if option["value"] == SKIPPED else "",
                number=number,
                value=value,
                checked=" checked" if option["checked"] else "",
                label=conditional_escape(option["label"]),
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 (every value is escaped above)
