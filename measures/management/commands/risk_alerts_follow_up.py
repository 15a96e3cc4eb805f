from django.core.management.base import BaseCommand

from measures.services import risk_alerts_follow_up


class Command(BaseCommand):
    help = (
        "The daily risk alert run, as the beat does each morning: e-mail each facilitator a "
        "summary of their open alerts, then escalate overdue ones to the service's managers "
        "(each alert once)."
    )

    def handle(self, *args, **options):
        report = risk_alerts_follow_up()
        self.stdout.write(
            "Sent {digests} digest(s); escalated {escalated} alert(s).".format(**report)
        )
