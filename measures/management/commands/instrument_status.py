from django.core.management.base import BaseCommand

from accounts.models import Service
from measures.catalogue import STAFF_COMPLETED
from measures.definitions import all_instruments, unverified_values
from measures.models import InstrumentWording


class Command(BaseCommand):
    help = (
        "Show each instrument's wording status (shipped, or loaded by which services) and "
        "every value still marked unverified."
    )

    def handle(self, *args, **options):
        loaded: dict[str, list[str]] = {}
        for wording in InstrumentWording.objects.select_related("service").order_by(
            "service__name"
        ):
            name = wording.service.name + (" (demo placeholder)" if wording.is_placeholder else "")
            loaded.setdefault(wording.instrument_code, []).append(name)
        services = Service.objects.count()
        self.stdout.write("Wording")
        for instrument in all_instruments():
            if instrument.ships_wording:
                status = "ships with Safeground"
            else:
                have = loaded.get(instrument.code, [])
                status = (
                    f"needs the service's licensed wording; loaded by {len(have)} of "
                    f"{services} service(s)" + (f": {', '.join(have)}" if have else "")
                )
            who = " [completed by staff]" if instrument.code in STAFF_COMPLETED else ""
            self.stdout.write(
                f"  {instrument.code:<12} v{instrument.version:<4} {instrument.name}{who}: {status}"
            )
        values = unverified_values()
        self.stdout.write("")
        self.stdout.write(f"Unverified values ({len(values)})")
        for value in values:
            self.stdout.write(f"  {value.code}: {value.path}: {value.note}")
