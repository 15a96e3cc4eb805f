"""Table cells as display text, prepared in Python.

The dashboards' biggest tables (the register grid, paired change) have thousands of cells;
formatting them here instead of through nested template includes and filters keeps page
rendering fast. Cells are plain text the template escapes, except the register grid, built
here with format_html.
"""

import functools
from html import escape

from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dashboards import stats
from dashboards.mixed_model import VIEW_ORDER
from dashboards.templatetags.dashboard_tags import num, pct


def number(value, places: int = 2) -> str:
    return "–" if value is None else f"{value:.{places}f}"


def _plain(_field, value):
    return value


def left_out(reasons: dict, show=_plain) -> str:
    if not reasons:
        return "none"
    if show is _plain:
        return "; ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
    return "; ".join(f"{show(('lo', why), n)}: {why}" for why, n in sorted(reasons.items()))


def change_cells(result: stats.PairedChange, *, min_n: int, show=_plain) -> list[tuple]:
    """(text, colspan) for the columns of _change_head.html.

    `show(field, value)` gives each count as the page shows it: on the service page, the
    number or the suppression marker (dashboards.suppression); fields are "n", the
    categories' keys, "recovered", "reliable_recovery" and ("lo", reason).
    """
    n = show("n", result.n)
    if not result.enough or n != result.n:
        why = (
            f"not enough data (fewer than {min_n} people with both scores)"
            if not result.enough
            else "not shown: the number of people is suppressed"
        )
        return [(n, 1), (why, 8), (left_out(result.left_out, show), 1)]
    cells = [
        (n, 1),
        (
            f"{number(result.mean_change)} ({number(result.ci_low)} to {number(result.ci_high)})",
            1,
        ),
        (number(result.sd_change), 1),
        (
            f"{number(result.d)} ({number(result.d_low)} to {number(result.d_high)})"
            if result.d is not None
            else "–",
            1,
        ),
    ]
    recovered = "no cut-off" if result.recovered is None else show("recovered", result.recovered)
    if result.rci_missing:
        cells += [
            ("no reliable change index (see the table of indices)", 3),
            (recovered, 1),
            ("no reliable change index", 1),
        ]
    else:
        cells += [
            (show(key, result.categories[key]), 1)
            for key in (
                stats.RELIABLE_IMPROVEMENT,
                stats.NO_RELIABLE_CHANGE,
                stats.RELIABLE_DETERIORATION,
            )
        ]
        cells += [
            (recovered, 1),
            (
                "no cut-off"
                if result.reliable_recovery is None
                else show("reliable_recovery", result.reliable_recovery),
                1,
            ),
        ]
    cells.append((left_out(result.left_out, show), 1))
    return cells


@functools.cache
def _grid_cell(code: str, meaning: str) -> str:
    if not code:
        return format_html('<td title="{}"></td>', meaning)
    return format_html(
        '<td title="{}">{}<span class="visually-hidden"> ({})</span></td>', meaning, code, meaning
    )


def grid_cells(cells: list[tuple[str, str]]) -> str:
    """One register row's <td>s: the code, its meaning as a tooltip and for screen readers.

    A handful of distinct cells repeat across the grid, so each is built once.
    """
    return mark_safe("".join(_grid_cell(code, meaning) for code, meaning in cells))  # noqa: S308


def _td(text, span: int = 1) -> str:
    attr = f' colspan="{span}"' if span > 1 else ""
    return f"<td{attr}>{escape(str(text))}</td>"


def change_rows(changes: list[dict]) -> str:
    """The <tr>s of the cohort's paired-change table (measure, timepoint, direction, cells)."""
    rows = []
    for c in changes:
        better = "lower" if c["higher_is"] == "worse" else "higher"
        rows.append(
            f'<tr><th scope="row">{escape(c["label"])}</th>'
            f"{_td(c['timepoint']['name'])}{_td(better)}"
            + "".join(_td(text, span) for text, span in c["cells"])
            + "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped above)


def mean_rows(cells: list) -> str:
    """The <tr>s of one scale's table of means by timepoint."""
    rows = []
    for cell in cells:
        if not cell:
            continue
        summary = cell["summary"]
        mean = (
            f"{number(summary.mean)} ({number(summary.low)} to {number(summary.high)})"
            if summary.enough
            else "not enough data"
        )
        rows.append(
            f'<tr><th scope="row">{escape(cell["timepoint"]["name"])}</th>'
            f"{_td(cell['n'])}{_td(mean)}{_td(number(summary.sd))}"
            + _td(
                f"{cell['missing']} no score; {cell['not_scored']} not scored "
                "(too many items missing)"
            )
            + "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped above)


def session_head(sessions: list[dict]) -> str:
    """The register grid's column headers: each session's number, its date as a tooltip."""
    return mark_safe(  # noqa: S308 (every value is escaped here)
        "".join(
            f'<th scope="col"><abbr title="{escape(s["label"])}">{s["number"]}</abbr></th>'
            for s in sessions
        )
    )


def retention_rows(weeks: list[dict]) -> str:
    """The <tr>s of the still-enrolled-by-week table."""
    return mark_safe(  # noqa: S308 (every value is escaped here)
        "".join(
            f'<tr><th scope="row">{w["week"]}</th>{_td(w["date"])}{_td(w["enrolled"])}</tr>'
            for w in weeks
        )
    )


def scale_view_rows(views: dict, *, min_n: int, show=_plain) -> list[dict]:
    """One row per timepoint of one scale: for each of mixed_model's views (in VIEW_ORDER),
    its n, estimated mean (95% CI) and change from baseline (95% CI) as text.

    `show(field, value)` gives each count as the page shows it (the fields are the view's
    kind and the timepoint's key). A count below the suppression threshold has no estimate
    beside it (fewer than `min_n` people); one hidden only as a complement keeps its
    estimate, which rests on enough people and gives no count away.
    """
    ordered = [views[kind] for kind in VIEW_ORDER]
    longest = max(ordered, key=lambda v: len(v.estimates))
    rows = []
    for index, shown_at in enumerate(longest.estimates):
        cells = []
        for view in ordered:
            estimate = view.at(shown_at.timepoint)
            if estimate is None:
                cells += ["–", "not estimable", "–"]
                continue
            n = show((view.kind, estimate.timepoint), estimate.n)
            if not estimate.enough:
                why = "not estimable" if not view.estimable else f"fewer than {min_n} people"
                cells += [n, why, "–" if not index else why]
            else:
                low, high = number(estimate.low), number(estimate.high)
                mean = f"{number(estimate.mean)} ({low} to {high})"
                change = (
                    f"{number(estimate.change)} ({number(estimate.change_low)} to "
                    f"{number(estimate.change_high)})"
                    if index
                    else "– (baseline)"
                )
                cells += [n, mean, change]
        rows.append({"name": shown_at.name, "cells": cells})
    return rows


def service_cohort_rows(cohorts: list[dict], cohort_url) -> str:
    """The <tr>s of the service page's cohort table: one per cohort, a thousand on a large
    service, so built here rather than through the template's loop and filters (about ten
    times as fast). `cohort_url` gives a cohort's dashboard address from its id."""
    rows = []
    for c in cohorts:
        shown = c["shown"]
        if c["rates_hidden"]:
            rates = "<td>suppressed</td><td>suppressed</td>"
        else:
            rates = _td(pct(c["attendance_rate"])) + _td(pct(c["completion_rate"]))
        headline = c["headline"]
        if c["headline_hidden"]:
            change = "suppressed"
        elif headline.enough:
            change = (
                f"{num(headline.mean_change)} ({num(headline.ci_low)} to {num(headline.ci_high)})"
            )
        else:
            change = "not enough data"
        rows.append(
            f'<tr><th scope="row"><a href="{escape(cohort_url(c["id"]))}">'
            f"{escape(c['name'])}</a></th>"
            f"{_td(c['programme__name'])}{_td(f'{c["start_date"]:%b %Y}')}{_td(c['status'])}"
            + "".join(_td(shown[f]) for f in ("started", "active", "completed", "left"))
            + rates
            + _td(shown["n"])
            + _td(change)
            + "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped above)
