from django.core.management.base import BaseCommand

from reminders.tasks import dispatch


class Command(BaseCommand):
    help = (
        "One dispatcher run, as the beat does every minute: open and expire questionnaires, "
        "plan messages, sweep stuck ones, claim what is due and queue it for the worker."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Send the claimed messages here instead of queueing them (no broker needed).",
        )

    def handle(self, *args, in_process=False, **options):
        if in_process:
            from reminders.services import message_send

            def enqueue(claim):
                for message_id in claim.ids:
                    message_send(message_id=message_id, claim=claim.token)

            report = dispatch(enqueue=enqueue)
        else:
            report = dispatch()
        self.stdout.write("Planned {planned}, swept {swept}, claimed {claimed}.".format(**report))
