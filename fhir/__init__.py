"""Outcomes as HL7 FHIR: resources, downloadable bundles and a read-only API.

This package and the fhir.resources library share the top-level name ``fhir``. Extending the
package path lets ``fhir.resources`` (installed in site-packages) be imported beside this app.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
