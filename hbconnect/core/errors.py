"""Exceptions raised by the engine.

Every venue error the engine acts on maps to one class here, so the engine decides by type
(``except InsufficientBalance``) and never by parsing a venue's message text.

Messages never carry secrets: :func:`sanitize` strips signatures, API keys, listen keys and
similar query parameters / header values from any text before it is stored in an exception.
"""
from __future__ import annotations

import collections
import re
import weakref
from typing import Any, Callable, Iterable, Optional

__all__ = [
    "HBConnectError",
    "ExchangeError",
    "OrderRejected",
    "InsufficientBalance",
    "OrderNotFound",
    "InvalidOrder",
    "AuthenticationError",
    "TimeSyncError",
    "RateLimitError",
    "ServiceUnavailable",
    "OutcomeUnknown",
    "NetworkError",
    "RequestTimeout",
    "sanitize",
    "register_secret",
    "register_secret_field",
    "forget_secret",
]

# Query-string / JSON / header fields whose values are credentials or derived from them; venue
# modules add their own names with register_secret_field.
_SECRET_KEYS = (
    "signature", "sign", "apikey", "api_key", "api-key", "secret", "secretkey",
    "secret_key", "api_secret", "apisecret", "passphrase", "password",
    "private_key", "privatekey", "token", "access_token", "authorization", "ok-access-key",
    "ok-access-sign", "ok-access-passphrase", "x-bapi-api-key", "x-bapi-sign", "kc-api-key",
    "kc-api-sign", "kc-api-passphrase",
    # Bitget / Coinbase legacy / HTX / Bitstamp / Kraken / Gate.io header and query names
    "access-key", "access-sign", "access-passphrase", "cb-access-key", "cb-access-sign",
    "cb-access-passphrase", "accesskeyid", "x-auth", "x-auth-signature", "api-sign", "key", "jwt",
)
_secret_keys: "set[str]" = set(_SECRET_KEYS)


def _field_patterns() -> tuple:
    alt = "|".join(re.escape(k) for k in sorted(_secret_keys, key=len, reverse=True))
    # key=value (query strings, form bodies), "key": "value" (JSON), key: value (headers / reprs)
    return (
        re.compile(r"(?i)(?<![A-Za-z0-9_\-])(" + alt + r")(=)([^&\s\"',;}]+)"),
        re.compile(r"(?i)([\"'](?:" + alt + r")[\"']\s*:\s*)([\"'])([^\"']*)([\"'])"),
        # the value may carry an auth scheme ("Authorization: Bearer eyJ..."): the token goes too
        re.compile(r"(?i)(?<![A-Za-z0-9_\-])(" + alt + r")(:\s*)((?:bearer|basic|bitstamp)\s+)?"
                   r"([^\s,;}\"']+)"),
    )


_PATTERNS = _field_patterns()


def register_secret_field(*names: str) -> None:
    """Redact the values of these query/JSON/header field names too (case-insensitive): a venue
    module declares the names its credentials, signatures and stream tokens travel under."""
    global _PATTERNS
    new = {n.lower() for n in names if n} - _secret_keys
    if new:
        _secret_keys.update(new)
        _PATTERNS = _field_patterns()
# Values that look like signatures wherever they appear, named or not (a venue or proxy may echo
# one bare: "Signature 1419...e1 for this request is not valid"):
_LOOKALIKES = (
    # hex HMAC-SHA256 / -SHA384 / -SHA512 digests (64 / 96 / 128 hex digits)
    re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})(?![0-9A-Za-z])"),
    # base64 of 32 or 64 bytes (HMAC-SHA256/-SHA512 digests, Ed25519 signatures), standard or URL-safe
    re.compile(r"(?<![0-9A-Za-z+/_\-])(?:[0-9A-Za-z+/_\-]{43}=?|[0-9A-Za-z+/_\-]{86}(?:==)?)(?![0-9A-Za-z+/=_\-])"),
    # JWT-like: base64url header "eyJ..." . payload . signature
    re.compile(r"eyJ[0-9A-Za-z_\-]+\.[0-9A-Za-z_\-]+\.[0-9A-Za-z_\-]*"),
)
# any long token right after the word signature/sign/sig (with or without ':', '=', quotes)
_AFTER_SIGN = re.compile(r"(?i)(?<![A-Za-z])(signature|sign|sig)([\s:=\"']{1,4})([0-9A-Za-z+/_\-.]{16,}=*)")
_REDACTED = "***"

#: at most this many secrets registered without an owner are remembered (the latest win); those
#: registered with an owner are remembered while it lives, then join that bounded list
MAX_UNOWNED_SECRETS = 256
_owned: "dict[str, int]" = {}  # value -> number of live owners
_unowned: "collections.OrderedDict[str, None]" = collections.OrderedDict()


def _remember(value: str) -> None:
    _unowned[value] = None
    _unowned.move_to_end(value)
    while len(_unowned) > MAX_UNOWNED_SECRETS:
        _unowned.popitem(last=False)


def _release(value: str) -> None:
    n = _owned.get(value, 0) - 1
    if n > 0:
        _owned[value] = n
    else:
        _owned.pop(value, None)
        _remember(value)  # a line logged just after the owner went may still carry it


def register_secret(value: Optional[str], owner: Any = None) -> Callable[[], None]:
    """Remember a credential so that :func:`sanitize` removes it wherever it appears.

    Connectors call this with their API key/secret/passphrase, user streams with each listen
    key. With ``owner`` the value is kept while the owner lives (or until the returned function
    is called); without, it joins the latest ``MAX_UNOWNED_SECRETS``. The registry is bounded by
    live owners plus that cap. Values shorter than 6 characters are ignored (they would redact
    ordinary words). Returns a function that releases this registration (idempotent).
    """
    if not value or len(value) < 6:
        return lambda: None
    if owner is None:
        _remember(value)
        return lambda: None
    _owned[value] = _owned.get(value, 0) + 1
    return weakref.finalize(owner, _release, value)


def forget_secret(value: str) -> None:
    """Drop ``value`` from the registry whatever registered it."""
    _owned.pop(value, None)
    _unowned.pop(value, None)


def registered_secret_count() -> int:
    """How many values the registry holds (diagnostics; bounded, see :func:`register_secret`)."""
    return len(_owned) + len(_unowned)


def sanitize(text: Any, secrets: Iterable[str] = ()) -> str:
    """Return ``str(text)`` with credential-like fields, anything that looks like a signature
    (hex or base64 digests, JWTs, a token after the word signature) and the given/registered
    secrets masked."""
    s = text if isinstance(text, str) else str(text)
    for secret in (*_owned, *_unowned, *secrets):
        if secret and len(secret) >= 6 and secret in s:
            s = s.replace(secret, _REDACTED)
    s = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={_REDACTED}", s)
    s = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}{m.group(4)}", s)
    s = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{_REDACTED}", s)
    s = _AFTER_SIGN.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", s)
    for pattern in _LOOKALIKES:
        s = pattern.sub(_REDACTED, s)
    return s


class HBConnectError(Exception):
    """Base of every exception hbconnect raises on purpose."""


class ExchangeError(HBConnectError):
    """An error reported by (or about) a venue.

    ``code`` is the venue's error code when it sent one (e.g. OKX ``51008``), ``message``
    its (sanitized) text, ``http_status`` the HTTP status if any. ``outcome_unknown`` is True
    when the request may or may not have taken effect at the venue (see :class:`RequestTimeout`).
    """

    outcome_unknown: bool = False

    def __init__(self, code: Any = None, message: str = "", *, http_status: Optional[int] = None,
                 venue: str = "") -> None:
        self.code = code
        self.message = sanitize(message) if message else ""
        self.http_status = http_status
        self.venue = venue
        super().__init__(self._text())

    def _text(self) -> str:
        parts = []
        if self.venue:
            parts.append(f"[{self.venue}]")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        head = " ".join(parts)
        if head and self.message:
            return f"{head}: {self.message}"
        return head or self.message or type(self).__name__

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
                f"http_status={self.http_status!r})")

    def __reduce__(self):  # picklable despite keyword-only arguments
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls, state):
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    Exception.__init__(obj, obj._text())
    return obj


class OrderRejected(ExchangeError):
    """The venue refused the order (generic rejection, e.g. LIMIT_MAKER that would cross)."""


class InsufficientBalance(OrderRejected):
    """The account lacks the balance/margin the order needs."""


class InvalidOrder(OrderRejected):
    """The order breaks a trading rule or is malformed (filters, precision, bad parameter).

    Also raised locally, before any request, when :meth:`TradingRule.validate` fails.
    """


class OrderNotFound(ExchangeError):
    """The venue does not know the order (status query or cancel of an unknown order)."""


class AuthenticationError(ExchangeError):
    """Bad API key, signature or permissions."""


class TimeSyncError(ExchangeError):
    """The request's timestamp was outside the venue's receive window (clock offset)."""


class RateLimitError(ExchangeError):
    """The venue says we sent too much (HTTP 429/418). ``retry_after`` in seconds when known."""

    def __init__(self, code: Any = None, message: str = "", *, retry_after: Optional[float] = None,
                 http_status: Optional[int] = None, venue: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(code, message, http_status=http_status, venue=venue)

    def _text(self) -> str:
        text = super()._text()
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g} s)"
        return text


class ServiceUnavailable(ExchangeError):
    """The venue is down, overloaded or in maintenance (HTTP 5xx and equivalents)."""


class OutcomeUnknown(ServiceUnavailable):
    """The venue answered, but says it cannot tell whether the request took effect (a backend
    timeout with "execution status unknown"). An order is then resolved by asking, never re-sent."""

    outcome_unknown = True


class NetworkError(ExchangeError):
    """The connection failed (refused, reset, DNS...).

    ``outcome_unknown`` tells whether the request may have reached the venue; by default a
    network error is assumed to have happened before the request was delivered.
    """

    def __init__(self, code: Any = None, message: str = "", *, outcome_unknown: Optional[bool] = None,
                 http_status: Optional[int] = None, venue: str = "") -> None:
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown
        super().__init__(code, message, http_status=http_status, venue=venue)


class RequestTimeout(NetworkError):
    """No answer in time. The request may have been executed: for a non-idempotent request
    (an order) the engine must ask the venue (by client order id) instead of re-sending it."""

    outcome_unknown = True
