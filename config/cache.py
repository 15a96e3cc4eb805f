"""A Redis cache that stays out of the way when Redis is down.

Participant pages count requests per address in one such cache. If Redis is unreachable, a
participant must still be able to open their link, answer and submit, so every cache
call here answers "nothing stored" instead of raising, and django-ratelimit (with
RATELIMIT_FAIL_OPEN) lets the request through. The dashboards keep figures they can work out
again in another, so they still open, only slower. The outage is logged once per call,
without the key, which can contain an address.
"""

import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class FailOpenRedisCache(RedisCache):
    def add(self, *args, **kwargs):
        try:
            return super().add(*args, **kwargs)
        except RedisError:
            logger.warning("Rate-limit cache unreachable; request allowed without counting.")
            return False

    def incr(self, *args, **kwargs):
        try:
            return super().incr(*args, **kwargs)
        except RedisError:
            return None

    def set(self, *args, **kwargs):
        try:
            return super().set(*args, **kwargs)
        except RedisError:
            logger.warning("Cache unreachable; value not stored.")
            return None

    def delete(self, *args, **kwargs):
        try:
            return super().delete(*args, **kwargs)
        except RedisError:
            logger.warning("Cache unreachable; value not deleted.")
            return False

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError:
            return default
