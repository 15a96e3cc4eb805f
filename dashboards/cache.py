"""The cache the dashboards keep derived figures in: the "dashboards" alias in CACHES.

Everything stored there can be worked out again from the database, so it uses the fail-open
backend (config.cache): with Redis down the dashboards still open, only slower.
"""

from django.core.cache import caches
from django.utils.connection import ConnectionProxy

cache = ConnectionProxy(caches, "dashboards")
