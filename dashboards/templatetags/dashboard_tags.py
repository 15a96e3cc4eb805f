from django import template

from dashboards import stats

register = template.Library()


@register.filter
def num(value, places=1):
    """A number to `places` decimals; an em dash for none."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        return value
    return f"{value:.{int(places)}f}"


@register.filter
def pct(value):
    if value is None:
        return "–"
    return f"{value * 100:.0f}%"


@register.filter
def small(value):
    """A count on a service-level view: below 5 it reads "fewer than 5"."""
    return stats.suppress(value)


@register.filter
def small_pct(count, total):
    """A percentage on a service-level view, hidden when either count is below 5."""
    if total is None or total < stats.SUPPRESS_BELOW or (count or 0) < stats.SUPPRESS_BELOW:
        return stats.FEWER_THAN_5 if total else "–"
    return f"{count / total * 100:.0f}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def left_out_text(left_out):
    if not left_out:
        return "none"
    return "; ".join(f"{count} {reason}" for reason, count in sorted(left_out.items()))


@register.filter
def left_out_small(left_out):
    """left_out_text with each count below 5 shown as "fewer than 5"."""
    if not left_out:
        return "none"
    return "; ".join(
        f"{stats.suppress(count)}: {reason}" for reason, count in sorted(left_out.items())
    )
