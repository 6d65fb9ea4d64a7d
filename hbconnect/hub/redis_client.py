"""The Redis client the hub and its consumers use (redis-py's asyncio API, an optional extra).

Retries are off: a lost connection must be seen (the writer starts a new epoch, the reader
resyncs), never papered over by a transparent reconnect that could hide a Redis restart."""
from __future__ import annotations

from typing import Any

__all__ = ["connect", "REDIS_ERRORS", "redacted"]


def client_module() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # the optional dependency
        raise ImportError("the book hub needs the redis client library: pip install 'hbconnect[hub]'") from exc
    return aioredis


def connect(url: str, **kw: Any) -> Any:
    """An asyncio Redis client for ``url`` (``redis://host:port/db``), bytes in and out."""
    aioredis = client_module()
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    kw.setdefault("socket_connect_timeout", 5.0)
    kw.setdefault("health_check_interval", 0)
    return aioredis.from_url(url, decode_responses=False, retry=Retry(NoBackoff(), 0), **kw)


def _errors() -> tuple:
    try:
        import redis.exceptions as rex
    except ImportError:
        return (ConnectionError, TimeoutError, OSError)
    return (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError, ConnectionError, TimeoutError, OSError)


#: what a lost or restarting Redis raises
REDIS_ERRORS = _errors()


def redacted(url: str) -> str:
    """``url`` without its password (for logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = (parts.username or "") + ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
