"""The two default programmes. The weekly themes are a sensible default, not the study's."""

from django.db import migrations

PEG_THEMES = [
    "Welcome: making the group a safe place; what compassion is and is not",
    'The tricky brain: old and new brain, loops in the mind, "not our fault"',
    "Three systems: threat, drive and soothing; drawing your own circles",
    "Soothing rhythm breathing and the body",
    "Safe place imagery",
    "Compassionate colour and the compassionate other",
    "Building the compassionate self",
    "Self-criticism: its forms and what it tries to do for us",
    "Shame, inside and out",
    "Fears, blocks and resistances to compassion",
    "Compassionate letter writing; the compassionate kitbag",
    "Looking back, looking ahead: preparing for the trauma group",
]
TRAUMA_BLOCKS = [
    (13, 16, "Forming the trauma group: agreements, safeness, the compassionate self in the room"),
    (17, 24, "Understanding trauma and its protections through the three systems"),
    (
        25,
        40,
        "Working with shame and trauma memories with the group as compassionate witness; "
        "compassionate imagery and rescripting",
    ),
    (41, 46, "Compassionate assertiveness and relationships"),
    (47, 52, "Endings: what has changed, what to carry forward, a compassionate plan for the future"),
]
DEFAULT_NOTE = (
    "The weekly themes are a default drawn from how Compassionate Mind Training groups are "
    "commonly run; the published study names the phases and their lengths, not a session plan. "
    "Edit them to suit your service."
)


def create_defaults(apps, schema_editor):
    Programme = apps.get_model("programmes", "Programme")
    Phase = apps.get_model("programmes", "Phase")
    CurriculumWeek = apps.get_model("programmes", "CurriculumWeek")

    full = Programme.objects.create(
        key="cfgp-52",
        version=1,
        name="Compassion Focused Group Psychotherapy (52 weeks)",
        description=(
            "A 12-week Preparation and Engagement Group (Compassionate Mind Training and "
            "psychoeducation), then a 40-week Compassion Focused Trauma Group, then 12 months "
            "of follow-up on usual care. Groups of 8 to 10 with two facilitators, one session "
            "of about two hours a week. " + DEFAULT_NOTE
        ),
        default_capacity=10,
        session_minutes=120,
        total_weeks=104,
    )
    comparison = Programme.objects.create(
        key="peg-usual-care",
        version=1,
        name="Preparation then usual care",
        description=(
            "The same 12-week Preparation and Engagement Group, then 40 weeks of usual care "
            "with no group, then the same follow-up and questionnaires, so a service can "
            "compare the two. " + DEFAULT_NOTE
        ),
        default_capacity=10,
        session_minutes=120,
        total_weeks=104,
    )
    for programme, middle in (
        (full, ("Compassion Focused Trauma Group", "group", True)),
        (comparison, ("Usual care", "usual_care", False)),
    ):
        Phase.objects.create(
            programme=programme,
            order=1,
            name="Preparation and Engagement Group",
            kind="preparation",
            start_week=1,
            weeks=12,
            group_meets=True,
        )
        Phase.objects.create(
            programme=programme,
            order=2,
            name=middle[0],
            kind=middle[1],
            start_week=13,
            weeks=40,
            group_meets=middle[2],
        )
        Phase.objects.create(
            programme=programme,
            order=3,
            name="Follow-up",
            kind="follow_up",
            start_week=53,
            weeks=52,
            group_meets=False,
        )
        for week, theme in enumerate(PEG_THEMES, start=1):
            CurriculumWeek.objects.create(programme=programme, week=week, theme=theme)
    for first, last, theme in TRAUMA_BLOCKS:
        for week in range(first, last + 1):
            CurriculumWeek.objects.create(programme=full, week=week, theme=theme)


def remove_defaults(apps, schema_editor):
    Programme = apps.get_model("programmes", "Programme")
    Programme.objects.filter(key__in=["cfgp-52", "peg-usual-care"], version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("programmes", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
