"""Production settings with static files collected into the load test's own folder.

Only STATIC_ROOT differs from config.settings, so the run never writes into the work tree's
staticfiles/ that other runs may be serving from.
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["LOAD_STATIC_ROOT"])
