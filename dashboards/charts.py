"""Chart specifications for static/js/dashboards.js, built from the selectors' figures.

Each chart's numbers are also in a table on the page; the specs carry no names unless the
page itself shows them.
"""

from dashboards.selectors import SERVICE_USE_SCALES


def _r(value, places=2):
    return None if value is None else round(value, places)


def cohort_charts(data: dict) -> list[dict]:
    charts = [
        {
            "id": "chart-attendance",
            "type": "bar",
            "title": "Attendance rate by phase (%)",
            "labels": [p["name"] for p in data["attendance"]["phases"]],
            "datasets": [
                {
                    "label": "Sessions attended (%)",
                    "data": [
                        _r(p["rate"] and p["rate"] * 100, 1) for p in data["attendance"]["phases"]
                    ],
                }
            ],
            "y_title": "%",
        },
        {
            "id": "chart-retention",
            "type": "line",
            "title": "Still enrolled by week",
            "labels": [w["week"] for w in data["retention"]["weeks"]],
            "datasets": [
                {
                    "label": "Still enrolled",
                    "data": [w["enrolled"] for w in data["retention"]["weeks"]],
                }
            ],
            "x_title": "Programme week",
            "y_title": "People",
        },
        {
            "id": "chart-completion",
            "type": "bar",
            "title": "Questionnaires completed by timepoint (%)",
            "labels": [r["timepoint"]["name"] for r in data["completion"]],
            "datasets": [
                {
                    "label": "Completed (% of those closed)",
                    "data": [_r(r["rate"] and r["rate"] * 100, 1) for r in data["completion"]],
                }
            ],
            "y_title": "%",
        },
    ]
    labels = [tp["name"] for tp in data["timepoints"]]
    for index, row in enumerate(data["means"]):
        cells = row["cells"]

        def series(attr, cells=cells):
            return [
                _r(getattr(c["summary"], attr)) if c and c["summary"].enough else None
                for c in cells
            ]

        charts.append(
            {
                "id": f"chart-mean-{index}",
                "type": "line",
                "title": f"{row['label']}: mean with 95% CI",
                "labels": labels,
                "datasets": [
                    {"label": "Mean", "data": series("mean")},
                    {"label": "95% CI lower", "data": series("low"), "dashed": True},
                    {"label": "95% CI upper", "data": series("high"), "dashed": True},
                ],
                "y_title": "Score",
            }
        )
    periods = data["service_use"]["periods"]
    charts.append(
        {
            "id": "chart-service-use",
            "type": "bar",
            "title": "Service use per person-year, before, during and after",
            "labels": [label for _key, label in data["service_use"]["scales"]],
            "datasets": [
                {
                    "label": period["label"],
                    "data": [_r(period["rates"][s]["rate"]) for s in SERVICE_USE_SCALES],
                }
                for period in periods
            ],
            "y_title": "Per person-year",
        }
    )
    charts.append(occupation_chart("chart-occupation", data["occupation"]))
    scatter = data["scatter"]
    if scatter.get("points"):
        charts.append(
            {
                "id": "chart-scatter",
                "type": "scatter",
                "title": f"Sessions attended and change on {scatter['label']}",
                "datasets": [
                    {
                        "label": "One person",
                        "data": [
                            {"x": p["attended"], "y": _r(p["change"])} for p in scatter["points"]
                        ],
                    }
                ],
                "x_title": "Sessions attended",
                "y_title": "Change (after minus before)",
            }
        )
    return charts


def occupation_chart(chart_id: str, occupation: dict) -> dict:
    return {
        "id": chart_id,
        "type": "bar",
        "title": "Share in employment, education or training, or volunteering (%)",
        "labels": [label for _key, label in occupation["flags"]],
        "datasets": [
            {
                "label": tp["label"],
                "data": [
                    _r(tp["shares"][f] and tp["shares"][f] * 100, 1)
                    for f, _l in occupation["flags"]
                ],
            }
            for tp in occupation["timepoints"]
        ],
        "y_title": "%",
    }


def service_charts(data: dict) -> list[dict]:
    comparison = [row for row in data["comparison"] if row["timepoint"] == "week52"]
    charts = [
        {
            "id": "chart-compare",
            "type": "bar",
            "title": "Improvement from baseline to week 52 (effect size d_z), by programme",
            "labels": [row["label"] for row in comparison],
            "datasets": [
                {
                    "label": name,
                    # One axis for every measure: above 0 improved, below 0 worsened.
                    "data": [
                        _r(next(p for p in row["programmes"] if p["key"] == key)["improvement_d"])
                        for row in comparison
                    ],
                }
                for key, name in data["programmes"]
            ],
            "y_title": "Improvement, d_z (above 0 improved, below 0 worsened)",
        }
    ]
    for key, name in data["programmes"]:
        programme = next(p for p in data["service_use"] if p["key"] == key)
        charts.append(
            {
                "id": f"chart-service-use-{key}",
                "type": "bar",
                "title": f"{name}: service use per person-year",
                "labels": [label for _s, label in programme["scales"]],
                "datasets": [
                    {
                        "label": period["label"],
                        "data": [_r(period["rates"][s]["rate"]) for s in SERVICE_USE_SCALES],
                    }
                    for period in programme["periods"]
                ],
                "y_title": "Per person-year",
            }
        )
    return charts
