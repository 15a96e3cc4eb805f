from django.core.management.base import BaseCommand

from accounts.models import Service
from measures.catalogue import STAFF_COMPLETED
from measures.definitions import all_instruments, unverified_values
from measures.models import InstrumentWording


def scales_without_rci() -> list[tuple[str, str, str]]:
    """(code, scale, why) for every scale with no reliable change index, or none until the
    service has 20 baseline scores for it (a computed index with no published SD: the rule
    is dashboards.stats.rci_basis)."""
    lacking = []
    for instrument in all_instruments():
        for scale in instrument.scales:
            rci, why = scale.rci, None
            if rci is None:
                why = "no reliable change index defined"
            elif rci.computed and rci.reliability is None:
                why = "computed, but no reliability recorded"
            elif rci.computed and rci.norm_sd is None:
                why = "none until the service has 20 baseline scores (no published SD)"
            if why:
                lacking.append((instrument.code, scale.key, why))
    return lacking


class Command(BaseCommand):
    help = (
        "Show each instrument's wording status (shipped, or loaded by which services), every "
        "scale without a reliable change index, and every value still marked unverified."
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
        self.stdout.write("")
        lacking = scales_without_rci()
        self.stdout.write(f"Scales without a reliable change index ({len(lacking)})")
        for code, key, why in lacking:
            self.stdout.write(f"  {code}.{key}: {why}")
        values = unverified_values()
        self.stdout.write("")
        self.stdout.write(f"Unverified values ({len(values)})")
        for value in values:
            self.stdout.write(f"  {value.code}: {value.path}: {value.note}")
