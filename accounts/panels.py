"""Pages that gather sections from several apps, without the lower app importing the higher.

A page owned by a lower layer (the participant page, the cohort page) declares a
`PanelRegistry`; a higher app registers its section in its AppConfig.ready(). The page's
view calls `render_context(request, obj)` and the template loops over the result with
`{% include panel.template %}`. Each panel's context function must run a fixed number of
queries, whatever the size of the object, so the page's query count stays pinned.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable  # (request, obj) -> dict, or None to hide the panel
    order: int = 100


class PanelRegistry:
    def __init__(self, name: str):
        self.name = name
        self._panels: dict[str, Panel] = {}

    def register(self, panel: Panel) -> None:
        self._panels[panel.key] = panel

    def render_context(self, request, obj) -> list[dict]:
        rendered = []
        for panel in sorted(self._panels.values(), key=lambda p: (p.order, p.key)):
            context = panel.context(request, obj)
            if context is not None:
                rendered.append({"panel": panel, **context})
        return rendered
