from django.core.management.base import BaseCommand

from reminders.tasks import dispatch


class Command(BaseCommand):
    help = (
        "One dispatcher run, as the beat does every minute: open and expire questionnaires, "
        "sweep stuck messages, claim what is due and queue it for the workers, a batch "
        "per task, paced to REMINDERS_SEND_RATE_PER_MINUTE."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--drain",
            action="store_true",
            help="Repeat until nothing is due (e.g. to clear a backlog after an outage).",
        )
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Send the claimed messages here instead of queueing them (no broker needed).",
        )

    def handle(self, *args, in_process=False, drain=False, **options):
        kwargs = {}
        if in_process:
            from reminders.services import messages_send

            def enqueue(claim):
                messages_send(ids=claim.ids, claim=claim.token)

            kwargs["enqueue"] = enqueue
        total = 0
        while True:
            report = dispatch(**kwargs)
            total += report["claimed"]
            self.stdout.write("Opened {opened}, swept {swept}, claimed {claimed}.".format(**report))
            if not drain or not report["claimed"]:
                break
        self.stdout.write(f"Claimed in all: {total}")
