"""What staff are told before a paper questionnaire with blank items is saved.

The instrument's own missing-item rule decides (measures.scoring): each scale is either
scored from the answered items (prorated, or the mean of the rest) or not scored. This
module only puts that decision into words, before anything is saved.
"""

from dataclasses import dataclass, field

from measures.definitions import Instrument
from measures.scoring import score


@dataclass(frozen=True)
class MissingItems:
    items: tuple[int, ...]
    # One line per scale that has a blank item: what the rule then does with it.
    consequences: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def items_phrase(self) -> str:
        numbers = [str(n) for n in self.items]
        if len(numbers) == 1:
            return f"Item {numbers[0]} is"
        return f"Items {', '.join(numbers[:-1])} and {numbers[-1]} are"


def missing_items(instrument: Instrument, answers: dict[int, object]) -> MissingItems:
    """The blank items of `answers` and, scale by scale, what scoring will do about them."""
    blank = tuple(
        item.number for item in instrument.items if answers.get(item.number) in (None, "")
    )
    if not blank:
        return MissingItems(items=())
    result = score(instrument, answers)
    single = len(instrument.scales) == 1
    lines = []
    for scale in instrument.scales:
        if not set(scale.items) & set(blank):
            continue
        name = instrument.name if single else f"{instrument.name} {scale.label}"
        if result.scales.get(scale.key) is None:
            lines.append(f"{name}: not scored ({result.not_scored.get(scale.key, '')}).")
        elif scale.key in result.prorated:
            lines.append(
                f"{name}: scored as {result.scales[scale.key]}, prorated ("
                f"{result.notes.get(scale.key, '')})."
            )
        else:
            lines.append(f"{name}: scored as {result.scales[scale.key]} from the items answered.")
    return MissingItems(items=blank, consequences=tuple(lines))
