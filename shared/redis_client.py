"""Redis clients with bounded waits: a down Redis must surface as an error quickly, not after
redis-py's default retries (seconds per call); the packaged Lua scripts, read once."""

from __future__ import annotations

import functools
from importlib import resources

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry


def make_redis(url: str, *, timeout_s: float) -> redis.Redis:
    """A client (no I/O until first use) that tries each command once more on a dropped connection."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), retries=1),
        health_check_interval=30,
    )


@functools.cache
def lua_source(package: str, name: str) -> str:
    """The text of the Lua script ``name`` shipped in ``package`` (package data), read once."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def load_script(client: redis.Redis, package: str, name: str) -> Script:
    """Register the packaged Lua script ``name`` with ``client`` (run by EVALSHA, EVAL as a fallback)."""
    return client.register_script(lua_source(package, name))
