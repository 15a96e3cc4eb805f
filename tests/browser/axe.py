"""Run axe-core (vendored, tests/browser/vendor/axe.min.js) on a page: WCAG 2.2 A and AA."""

import json
from pathlib import Path

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "accessibility.jsonl"


def axe_violations(page, include: str | None = None) -> list[dict]:
    """The WCAG 2.2 A/AA violations on the page, or only within the `include` selector."""
    # evaluate() goes through the DevTools protocol, so the page's strict CSP does not
    # have to be loosened to inject the checker.
    page.evaluate(AXE_SOURCE + "\n;0")
    result = page.evaluate(
        "async ([tags, include]) => await axe.run(include ? {include: [include]} : document,"
        " {runOnly: {type: 'tag', values: tags}})",
        [WCAG_TAGS, include],
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as report:
        report.write(
            json.dumps(
                {
                    "url": page.url.split("?")[0],
                    "rules_run": len(result["passes"])
                    + len(result["violations"])
                    + len(result["incomplete"])
                    + len(result["inapplicable"]),
                    "violations": len(result["violations"]),
                }
            )
            + "\n"
        )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [node["target"] for node in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


def assert_accessible(page, include: str | None = None) -> None:
    violations = axe_violations(page, include)
    where = f"{page.url} ({include})" if include else page.url
    assert violations == [], f"WCAG 2.2 A/AA violations on {where}: {violations}"
