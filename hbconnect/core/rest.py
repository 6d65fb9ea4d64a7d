"""aiohttp REST client: one session per venue, timeouts, a safe retry policy, rate-limit pushback.

Retry policy
    Only idempotent requests are retried (GET/HEAD/OPTIONS, or ``idempotent=True``): on connection
    errors, timeouts and 5xx answers, with exponential backoff and jitter. A non-idempotent request
    (an order) is never re-sent blindly: when the outcome cannot be known (a timeout or a dropped
    connection after the request may have reached the venue, or a 5xx answer) the client raises
    ``RequestTimeout`` / ``ServerError`` with ``outcome_unknown=True`` and the caller resolves it by
    asking the venue (by client order id). A request that provably never left (the connection could
    not be opened) may be retried, since the venue cannot have seen it.

Rate limits
    A 429 or 418 answer slows the whole venue: ``throttler.slow_down(retry_after)`` is called with
    the venue's ``Retry-After`` (seconds), and ``RateLimited`` is raised unless the request is
    idempotent and retries remain (then the client waits ``retry_after`` and retries).

Replay
    ``fetch`` injects a coroutine ``fetch(method, url, params, headers, body) -> RestResponse`` used
    instead of aiohttp (recorded sessions, tests).
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Optional, Protocol

import aiohttp

from hbconnect.core.backoff import Backoff
from hbconnect.core.codecs import DecodeError, excerpt, json_loads
from hbconnect.core.errors import (
    ExchangeError,
    NetworkError,
    RateLimitError,
    RequestTimeout,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# errors raised before the request could have reached the venue
_NOT_SENT: tuple = (aiohttp.ClientConnectorError,) + (
    (aiohttp.ConnectionTimeoutError,) if hasattr(aiohttp, "ConnectionTimeoutError") else ())

__all__ = [
    "RestClient", "RestResponse", "RetryPolicy", "ConnectFailed", "RequestTimeout", "HttpError",
    "ServerError", "RateLimited", "BodyDecodeError", "parse_retry_after", "IDEMPOTENT_METHODS",
]


class ConnectFailed(NetworkError):
    """The connection could not be opened; the request never reached the venue."""

    outcome_unknown = False


class HttpError(ExchangeError):
    """The venue answered a non-2xx status. ``body``/``headers`` keep the raw answer so that the
    venue module can map its error code (``json()``)."""

    def __init__(self, status: int, message: str, body: bytes = b"",
                 headers: Optional[Mapping[str, str]] = None, *, outcome_unknown: bool = False,
                 venue: str = "") -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.outcome_unknown = outcome_unknown
        ExchangeError.__init__(self, None, message, http_status=status, venue=venue)

    def json(self) -> Any:
        """The error body as JSON (venue error code/message), or None."""
        try:
            return json_loads(self.body)
        except DecodeError:
            return None


class ServerError(HttpError, ServiceUnavailable):
    """5xx from the venue. For a non-idempotent request ``outcome_unknown`` is True."""


class RateLimited(HttpError, RateLimitError):
    """429 / 418: the venue asks us to slow down for ``retry_after`` seconds."""

    def __init__(self, status: int, retry_after: float, body: bytes = b"",
                 headers: Optional[Mapping[str, str]] = None, venue: str = "") -> None:
        self.retry_after = retry_after
        HttpError.__init__(self, status, f"rate limited: {excerpt(body)}", body, headers, venue=venue)


class BodyDecodeError(ExchangeError, DecodeError):
    """A 2xx body that is truncated, empty or not the expected format."""

    def __init__(self, message: str, venue: str = "") -> None:
        ExchangeError.__init__(self, None, message, venue=venue)


@dataclass(slots=True)
class RestResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str = ""
    elapsed: float = 0.0

    def json(self) -> Any:
        try:
            return json_loads(self.body)
        except DecodeError as exc:
            raise BodyDecodeError(f"{self.url.split('?')[0]}: {exc}") from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


FetchHook = Callable[[str, str, dict, dict, Optional[Any]], Awaitable[RestResponse]]


class Throttler(Protocol):
    def execute_task(self, limit_id: str) -> Any: ...  # async context manager

    def slow_down(self, retry_after_seconds: float) -> None: ...


@dataclass(slots=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 5.0
    retry_statuses: frozenset = field(default_factory=lambda: RETRY_STATUSES)
    #: cap on how long a Retry-After may make an idempotent retry wait before giving up
    max_retry_after: float = 30.0


def parse_retry_after(value: Optional[str], default: float = 1.0) -> float:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return default


class RestClient:
    """REST client for one venue. Use as ``async with RestClient(...) as rest:`` or call ``close()``."""

    def __init__(
        self,
        base_url: str = "",
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        retry: Optional[RetryPolicy] = None,
        throttler: Optional[Throttler] = None,
        fetch: Optional[FetchHook] = None,
        session: Optional[aiohttp.ClientSession] = None,
        headers: Optional[Mapping[str, str]] = None,
        name: str = "",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry or RetryPolicy()
        self.throttler = throttler
        self.name = name or base_url
        self._fetch = fetch
        self._session = session
        self._own_session = session is None
        self._headers = dict(headers or {})
        self._sleep = sleep
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> "RestClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
                headers=self._headers,
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._own_session and not self._session.closed:
            await self._session.close()
        self._session = None

    def _url(self, url: str) -> str:
        if url.startswith(("http://", "https://")) or not self.base_url:
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    async def _once(self, method: str, url: str, params: dict, headers: dict, body: Any,
                    timeout: float) -> RestResponse:
        if self._fetch is not None:
            return await asyncio.wait_for(self._fetch(method, url, params, headers, body), timeout)
        session = self._session_get()
        t0 = time.monotonic()
        kwargs: dict[str, Any] = {"params": params or None, "headers": headers or None,
                                  "timeout": aiohttp.ClientTimeout(total=timeout, sock_connect=self.connect_timeout)}
        if body is not None:
            kwargs["data"] = body
        async with session.request(method, url, **kwargs) as resp:
            data = await resp.read()
            return RestResponse(resp.status, dict(resp.headers), data, str(resp.url), time.monotonic() - t0)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        idempotent: Optional[bool] = None,
        limit_id: Optional[str] = None,
        timeout: Optional[float] = None,
        sign: Optional[Callable[[dict, dict], tuple[dict, dict]]] = None,
        weights: Optional[Mapping[str, int]] = None,
    ) -> RestResponse:
        """Perform a request and return the 2xx response, raising the errors documented above.

        ``sign(params, headers) -> (params, headers)`` is called before every attempt (fresh
        timestamp per attempt). ``limit_id``/``weights`` go to ``throttler.execute_task``."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        full = self._url(url)
        timeout = self.timeout if timeout is None else timeout
        backoff = Backoff(self.retry.backoff_base, self.retry.backoff_max)
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                if self.throttler is not None and limit_id is not None:
                    ctx = self.throttler.execute_task(limit_id, weights) if weights else \
                        self.throttler.execute_task(limit_id)
                    async with ctx:
                        resp = await self._signed_once(method, full, params, headers, body, timeout, sign)
                else:
                    resp = await self._signed_once(method, full, params, headers, body, timeout, sign)
            except _NOT_SENT as exc:
                # Nothing was sent: retrying is safe even for an order.
                err: ExchangeError = ConnectFailed(None, f"{method} {full}: cannot connect ({exc.__class__.__name__})",
                                                   venue=self.name)
                if attempt <= self.retry.max_retries:
                    await self._pause(backoff, err)
                    continue
                raise err from None
            except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
                err = RequestTimeout(None, f"{method} {full}: no answer in {timeout:g}s",
                                     outcome_unknown=not idempotent, venue=self.name)
                if idempotent and attempt <= self.retry.max_retries:
                    await self._pause(backoff, err)
                    continue
                raise err from exc
            except (aiohttp.ClientError, ConnectionError) as exc:
                # The connection broke after the request may have been sent.
                err = RequestTimeout(None, f"{method} {full}: connection lost ({exc.__class__.__name__})",
                                     outcome_unknown=not idempotent, venue=self.name)
                if idempotent and attempt <= self.retry.max_retries:
                    await self._pause(backoff, err)
                    continue
                raise err from None
            status = resp.status
            if 200 <= status < 300:
                return resp
            if status in (429, 418):
                retry_after = parse_retry_after(_header(resp.headers, "Retry-After"))
                if self.throttler is not None:
                    self.throttler.slow_down(retry_after)
                logger.warning("%s: HTTP %d from %s %s; slowing down %.1fs", self.name, status, method, full,
                               retry_after)
                if idempotent and status == 429 and attempt <= self.retry.max_retries \
                        and retry_after <= self.retry.max_retry_after:
                    self.retries += 1
                    await self._sleep(retry_after)
                    continue
                raise RateLimited(status, retry_after, resp.body, resp.headers, venue=self.name)
            if status in self.retry.retry_statuses:
                if idempotent and attempt <= self.retry.max_retries:
                    await self._pause(backoff, ServerError(status, excerpt(resp.body)))
                    continue
                raise ServerError(status, excerpt(resp.body), resp.body, resp.headers, outcome_unknown=not idempotent,
                                  venue=self.name)
            raise HttpError(status, excerpt(resp.body), resp.body, resp.headers, venue=self.name)

    async def _signed_once(self, method: str, url: str, params: Optional[Mapping[str, Any]],
                           headers: Optional[Mapping[str, str]], body: Any, timeout: float,
                           sign: Optional[Callable[[dict, dict], tuple[dict, dict]]]) -> RestResponse:
        # Signed after the throttler let the request through, so its timestamp is fresh.
        p = dict(params or {})
        h = dict(headers or {})
        if sign is not None:
            p, h = sign(p, h)
        return await self._once(method, url, p, h, body, timeout)

    async def _pause(self, backoff: Backoff, err: Exception) -> None:
        self.retries += 1
        delay = backoff.next_delay()
        logger.info("%s: %s; retrying in %.2fs", self.name, err, delay)
        await self._sleep(delay)

    async def get(self, url: str, params: Optional[Mapping[str, Any]] = None, **kw: Any) -> RestResponse:
        return await self.request("GET", url, params=params, **kw)

    async def get_json(self, url: str, params: Optional[Mapping[str, Any]] = None, **kw: Any) -> Any:
        return (await self.get(url, params, **kw)).json()

    async def execute(self, req: Any, *, limit_id: Optional[str] = None, timeout: Optional[float] = None,
                      weights: Optional[Mapping[str, int]] = None,
                      sign: Optional[Callable[[dict, dict], tuple[dict, dict]]] = None) -> bytes:
        """Perform a ``hbconnect.market.messages.RestRequest`` and return the raw body of the 2xx
        answer (``sign`` as in ``request``). Empty bodies raise ``BodyDecodeError``."""
        resp = await self.request(req.method, req.url, params=req.params, body=req.body, headers=req.headers,
                                  limit_id=limit_id, timeout=timeout, weights=weights, sign=sign)
        if not resp.body:
            raise BodyDecodeError(f"{req.url}: empty body", venue=self.name)
        return resp.body


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    v = headers.get(name)
    if v is None:
        lname = name.lower()
        for k, val in headers.items():
            if k.lower() == lname:
                return val
    return v

