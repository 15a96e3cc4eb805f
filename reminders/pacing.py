"""Token buckets that keep every worker process together under the provider's rate.

GOV.UK Notify takes 3,000 messages a minute per API key; going faster gets 429s. One bucket
is shared by all processes through Redis (a Lua script, so taking tokens is atomic and
uses the Redis server's clock); without Redis, or while it is unreachable, each process
paces itself with a bucket of its own, which is exact for one process and conservative in
spirit for a few.

Two buckets use it: "send" before every provider call (capacity one token, so calls are
evenly spaced and never burst past the rate), and "claim", which paces the dispatcher's
claims to the same rate so work is claimed just before it can go.
"""

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV: tokens a second, capacity, tokens wanted (negative: give back),
# the fewest worth taking (fewer than that available: none taken).
# Returns {granted, seconds until one more token} (the second as a string: Lua numbers
# would be truncated to integers on the way back).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local at_least = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = wanted
if wanted > 0 then
  granted = math.min(wanted, math.floor(tokens))
  if granted < at_least then
    granted = 0
  end
end
tokens = math.min(capacity, tokens - granted)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
local wait = 0
if tokens < math.max(1, at_least) then
  wait = (math.max(1, at_least) - tokens) / rate
end
return {granted, tostring(wait)}
"""


class _LocalBucket:
    def __init__(self):
        self.lock = threading.Lock()
        self.tokens: float | None = None
        self.at = time.monotonic()

    def take(
        self, wanted: int, rate: float, capacity: float, at_least: int = 1
    ) -> tuple[int, float]:
        with self.lock:
            now = time.monotonic()
            tokens = capacity if self.tokens is None else self.tokens
            tokens = min(capacity, tokens + max(0.0, now - self.at) * rate)
            granted = min(wanted, int(tokens)) if wanted > 0 else wanted
            if 0 < granted < at_least:
                granted = 0
            self.tokens, self.at = min(capacity, tokens - granted), now
            need = max(1, at_least)
            return granted, (need - self.tokens) / rate if self.tokens < need else 0.0


_local: dict[str, _LocalBucket] = {}
_redis = {"client": None, "script": None, "url": None}


def _script():
    url = settings.REDIS_URL
    if not url:
        return None
    if _redis["url"] != url:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
        _redis.update(client=client, script=client.register_script(_SCRIPT), url=url)
    return _redis["script"]


class Bucket:
    """`rate_per_minute` tokens a minute, at most `capacity` saved up. A rate of 0 or less
    means no limit."""

    def __init__(self, name: str, *, rate_per_minute: float, capacity: float = 1):
        self.key = f"safeground:reminders:bucket:{name}"
        self.rate = rate_per_minute / 60
        self.capacity = max(1.0, capacity)

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def take_up_to(self, wanted: int, *, at_least: int = 1) -> tuple[int, float]:
        """Take up to `wanted` tokens now, none if fewer than `at_least` are there; returns
        (taken, seconds until `at_least` are there)."""
        if self.unlimited:
            return wanted, 0.0
        script = _script()
        if script is not None:
            try:
                granted, wait = script(
                    keys=[self.key], args=[self.rate, self.capacity, wanted, at_least]
                )
                return int(granted), float(wait)
            except Exception as error:
                log.warning("Pacing falls back to this process: %s", type(error).__name__)
        bucket = _local.setdefault(self.key, _LocalBucket())
        return bucket.take(wanted, self.rate, self.capacity, at_least)

    def give_back(self, count: int) -> None:
        if count > 0:
            self.take_up_to(-count)

    def take(self, *, deadline: float | None = None) -> bool:
        """Wait for one token; False if `deadline` (time.monotonic()) comes first."""
        while True:
            granted, wait = self.take_up_to(1)
            if granted:
                return True
            if deadline is not None and time.monotonic() + wait > deadline:
                return False
            time.sleep(max(wait, 0.001))


def send_bucket() -> Bucket:
    return Bucket("send", rate_per_minute=settings.REMINDERS_SEND_RATE_PER_MINUTE)


def claim_bucket() -> Bucket:
    # Capacity: one batch, or a few seconds of sending, whichever is more, so the
    # dispatcher is never starved by its own batch size and never runs far ahead.
    rate = settings.REMINDERS_SEND_RATE_PER_MINUTE
    return Bucket(
        "claim", rate_per_minute=rate, capacity=max(settings.REMINDERS_BATCH, rate / 60 * 5)
    )
