"""The default questionnaire schedule (MEASURES.md) for both default programmes."""

from django.db import migrations

FULL_SET = [
    "core10",
    "dass21",
    "fscrs",
    "fcs",
    "oas",
    "ssps",
    "wsas",
    "occupation",
    "service_use",
]
TIMEPOINTS = [
    # key, name (full programme), name (comparison), week, opens, closes, instruments, period
    ("baseline", "Baseline", "Baseline", 0, -21, 14, FULL_SET, "the 12 months before the programme"),
    (
        "week12",
        "End of preparation",
        "End of preparation",
        12,
        -7,
        21,
        [code for code in FULL_SET if code != "service_use"],
        "",
    ),
    ("week32", "Mid trauma group", "Week 32", 32, -7, 21, ["core10", "dass21", "fscrs"], ""),
    (
        "week52",
        "End of programme",
        "Week 52",
        52,
        -7,
        28,
        FULL_SET,
        "the 12 months of the programme",
    ),
    (
        "week104",
        "12-month follow-up",
        "12-month follow-up",
        104,
        -14,
        42,
        FULL_SET,
        "the 12 months after the programme",
    ),
]


def create_timepoints(apps, schema_editor):
    Programme = apps.get_model("programmes", "Programme")
    Timepoint = apps.get_model("measures", "Timepoint")
    for key, name_index in (("cfgp-52", 1), ("peg-usual-care", 2)):
        programme = Programme.objects.filter(key=key, version=1).first()
        if programme is None:
            continue
        for row in TIMEPOINTS:
            Timepoint.objects.create(
                programme=programme,
                key=row[0],
                name=row[name_index],
                week=row[3],
                opens_days=row[4],
                closes_days=row[5],
                instruments=list(row[6]),
                service_use_period=row[7],
            )


def remove_timepoints(apps, schema_editor):
    Timepoint = apps.get_model("measures", "Timepoint")
    Timepoint.objects.filter(programme__key__in=["cfgp-52", "peg-usual-care"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0001_initial"),
        ("programmes", "0002_default_programmes"),
    ]

    operations = [migrations.RunPython(create_timepoints, remove_timepoints)]
