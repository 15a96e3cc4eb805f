"""What a subject access export contains: sections that each app contributes.

participants sits below the apps that hold enrolments, questionnaires and messages, so it
never imports them. Instead:
- a generic section holds the participant's own fields and every row that points at them,
  followed down through foreign keys by model introspection (accounts.records);
- any app may register a curated section (scores with their meaning, for instance) in its
  AppConfig.ready() with `sections.register(Section(...))`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from accounts.records import linked_rows, readable_record_of


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    collect: Callable  # (participant) -> list[dict] of records, each {field label: value}
    order: int = 100
    # Models ("app_label.model") this section presents itself, so the general section of
    # linked rows leaves them out rather than print them a second time, raw.
    covers: tuple[str, ...] = ()


class SectionRegistry:
    def __init__(self):
        self._sections: dict[str, Section] = {}

    def register(self, section: Section) -> None:
        self._sections[section.key] = section

    def covered(self) -> set[str]:
        return {label for section in self._sections.values() for label in section.covers}

    def keys(self) -> list[str]:
        return sorted(self._sections)

    def collect(self, participant) -> list[dict]:
        gathered = []
        for section in sorted(self._sections.values(), key=lambda s: (s.order, s.key)):
            records = section.collect(participant)
            gathered.append({"key": section.key, "title": section.title, "records": records})
        return gathered


sections = SectionRegistry()


def _participant_record(participant) -> list[dict]:
    return [readable_record_of(participant)]


def _linked_records(participant) -> list[dict]:
    covered = sections.covered()
    return [
        {"kind": str(model._meta.verbose_name).capitalize(), **readable_record_of(row)}
        for model, row in linked_rows(participant)
        if model._meta.label_lower not in covered
    ]


sections.register(
    Section(key="participant", title="Your details", collect=_participant_record, order=0)
)
sections.register(
    Section(
        key="linked",
        title="Everything recorded about your care and questionnaires",
        collect=_linked_records,
        order=10,
    )
)


def export(participant) -> dict:
    """The whole export as a JSON-ready dict."""
    return {
        "format": "safeground-subject-access/1",
        "participant_reference": participant.reference,
        "sections": sections.collect(participant),
    }
