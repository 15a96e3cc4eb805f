"""gunicorn's settings for Safeground: `gunicorn` run from the repository's root reads this file.

A participant's link is /q/<token>, and the token alone opens their questionnaires, so no
log may hold one. gunicorn's access log would: its usual format prints the whole request
line. Here every access-log field is cleaned before it is written: a participant link's last
part becomes [token], query strings (a search for a name) become [query], and what is left
goes through the same redaction as the application's own logs. The error log gets that
redaction too.
"""

import os
import re
import sys
from pathlib import Path

from gunicorn.glogging import Logger

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accounts.log_redaction import RedactingFilter, redact

wsgi_app = "config.wsgi:application"
bind = os.environ.get("SAFEGROUND_BIND", "127.0.0.1:8000")
# gunicorn itself reads WEB_CONCURRENCY for the number of workers when it is set.
accesslog = "-"
errorlog = "-"
# The request line without its query string; no referrer (it is a page address too).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'

# /q/<token>, but not the fixed addresses beside it (start/, a/<pk>/...).
_PARTICIPANT_LINK = re.compile(r"(/q/)(?!start/|a/)[^/?#\s\"]+")
_QUERY = re.compile(r"\?[^\s\"]*")


def clean(value: str) -> str:
    value = _PARTICIPANT_LINK.sub(r"\1[token]", value)
    return redact(_QUERY.sub("?[query]", value))


class RedactingLogger(Logger):
    """gunicorn's logger with every access-log field cleaned, whatever the format asks for."""

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if not isinstance(value, str) or not value:
                continue
            if key in {"q", "{query_string}e"}:
                atoms[key] = "[query]"
            else:
                atoms[key] = clean(value)
        return atoms


logger_class = RedactingLogger
