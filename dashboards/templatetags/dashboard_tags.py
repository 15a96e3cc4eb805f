from django import template

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
    if isinstance(value, str):  # the suppression marker
        return value
    return f"{value * 100:.0f}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def left_out_text(left_out):
    if not left_out:
        return "none"
    return "; ".join(f"{count} {reason}" for reason, count in sorted(left_out.items()))
