"""The questionnaire page's questions, written by measures.templatetags.questionnaire."""

from measures.forms import SKIPPED
from measures.templatetags.questionnaire import page_questions

HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27;"


def _question(**overrides):
    question = {
        "number": 3,
        "text": "Feeling nervous",
        "preamble": "",
        "count": False,
        "value": "1",
        "options": [
            {"value": "0", "label": "Not at all", "checked": False},
            {"value": "1", "label": "Several days", "checked": True},
            {"value": SKIPPED, "label": "I'd rather not answer", "checked": False},
        ],
        "error": "",
        "anchor": "item-3-0",
        "sensitive_warning": False,
    }
    question.update(overrides)
    return question


def test_every_text_on_the_page_is_escaped_wherever_it_comes_from():
    html = page_questions(
        [
            _question(
                text=HOSTILE,
                preamble=HOSTILE,
                error=HOSTILE,
                options=[{"value": "0", "label": HOSTILE, "checked": False}],
            ),
            _question(number=4, count=True, value=HOSTILE, options=[]),
        ]
    )
    assert "<script>" not in html
    # Legend, preamble, error and label each once, and the count box's value.
    assert html.count(ESCAPED) == 5


def test_each_answer_is_a_labelled_radio_the_chosen_one_checked_and_skip_marked():
    html = page_questions([_question()])
    assert '<fieldset class="q-item" id="item-3">' in html
    assert '<span class="q-qnum">Question 3</span> Feeling nervous</legend>' in html
    for value in ("0", "1", SKIPPED):
        assert f'id="item-3-{value}" value="{value}"' in html
        assert f'<label for="item-3-{value}">' in html
    assert 'id="item-3-1" value="1" checked>' in html
    assert 'id="item-3-0" value="0">' in html
    assert '<div class="q-option q-option-skip">' in html
    assert "sensitive-warning" not in html


def test_an_error_describes_its_question_and_a_sensitive_item_is_warned_before():
    html = page_questions([_question(error="Choose an answer", sensitive_warning=True)])
    assert html.index('id="sensitive-warning"') < html.index('<fieldset class="q-item q-item')
    assert 'aria-describedby="item-3-error"' in html
    assert '<p class="q-error" id="item-3-error">' in html
    assert "You can skip it" in html
