"""API credentials and the signing primitives venues use, written once.

One :class:`Credentials` object per account signs everything: the trading translation's REST
requests and WebSocket logins, and the order book tracker's private snapshot requests (KuCoin's
full book). It lists its secret values (:meth:`Credentials.secret_values`) so the engine can
register them for redaction, and its repr never shows them.

The primitives cover what the venues publish: HMAC-SHA256 in hex (Bybit) or base64
(OKX, KuCoin, Bitget, HTX), HMAC-SHA512 (Gate.io, Kraken), and Ed25519 / RSA private keys
(Ed25519 API keys, Bybit RSA keys), loaded with the ``cryptography`` package when a private
key is given.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Optional, Union

from hbconnect.core.errors import AuthenticationError

__all__ = ["Credentials", "hmac_sha256_hex", "hmac_sha256_base64", "hmac_sha512_hex", "hmac_sha512_base64"]

Secret = Union[str, bytes, None]


def _bytes(value: Secret) -> bytes:
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def hmac_sha256_hex(secret: Secret, payload: Union[str, bytes]) -> str:
    """HMAC-SHA256 of ``payload`` keyed by ``secret``, lowercase hex."""
    return hmac.new(_bytes(secret), _bytes(payload), hashlib.sha256).hexdigest()


def hmac_sha256_base64(secret: Secret, payload: Union[str, bytes]) -> str:
    """HMAC-SHA256 of ``payload`` keyed by ``secret``, base64."""
    return base64.b64encode(hmac.new(_bytes(secret), _bytes(payload), hashlib.sha256).digest()).decode()


def hmac_sha512_hex(secret: Secret, payload: Union[str, bytes]) -> str:
    """HMAC-SHA512 of ``payload`` keyed by ``secret``, lowercase hex."""
    return hmac.new(_bytes(secret), _bytes(payload), hashlib.sha512).hexdigest()


def hmac_sha512_base64(secret: Secret, payload: Union[str, bytes]) -> str:
    """HMAC-SHA512 of ``payload`` keyed by ``secret``, base64 (Kraken signs with a base64-decoded
    secret: pass ``base64.b64decode(secret)``)."""
    return base64.b64encode(hmac.new(_bytes(secret), _bytes(payload), hashlib.sha512).digest()).decode()


class Credentials:
    """An account's API credentials: key, secret, passphrase (OKX, KuCoin, Bitget, Coinbase),
    and an optional PEM private key (Ed25519 or RSA). Signing methods cache the HMAC key
    schedule, so signing costs one copy and one update per request.

    ``repr``/``str`` never show any of it; :meth:`secret_values` lists what must be redacted.
    """

    __slots__ = ("api_key", "_secret", "_passphrase", "_private_key", "_private_pem", "_mac256", "_mac512")

    def __init__(self, api_key: str = "", secret: Secret = "", passphrase: Optional[str] = None, *,
                 private_key_pem: Optional[bytes] = None) -> None:
        self.api_key = api_key or ""
        self._secret = _bytes(secret)
        self._passphrase = passphrase or ""
        self._private_pem = private_key_pem
        self._private_key: Any = None
        self._mac256: Any = None
        self._mac512: Any = None
        if private_key_pem is not None:
            try:
                from cryptography.hazmat.primitives.serialization import load_pem_private_key
            except ImportError as exc:  # optional dependency
                raise AuthenticationError(
                    None, "private keys need the 'cryptography' package (pip install cryptography)") from exc
            try:
                self._private_key = load_pem_private_key(private_key_pem, password=None)
            except (ValueError, TypeError) as exc:
                raise AuthenticationError(None, "the private key is not an unencrypted PEM key") from exc

    # -- what the venue modules read --

    @property
    def passphrase(self) -> str:
        return self._passphrase

    @property
    def has_secret(self) -> bool:
        return bool(self._secret)

    @property
    def has_private_key(self) -> bool:
        return self._private_key is not None

    @property
    def private_key_kind(self) -> Optional[str]:
        """``"ed25519"``, ``"rsa"`` or None (HMAC secret only)."""
        if self._private_key is None:
            return None
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
        if isinstance(self._private_key, ed25519.Ed25519PrivateKey):
            return "ed25519"
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            return "rsa"
        return type(self._private_key).__name__

    def secret_values(self) -> list[str]:
        """Every value that must never appear in a log: key, secret, passphrase, private key."""
        out = [self.api_key, self._secret.decode(errors="ignore"), self._passphrase]
        if self._private_pem is not None:
            out.append(self._private_pem.decode(errors="ignore"))
        return [v for v in out if v]

    # -- signing --

    def _require_secret(self) -> None:
        if not self._secret:
            raise AuthenticationError(None, "no API secret configured")

    def _hmac(self, payload: Union[str, bytes], sha512: bool) -> Any:
        self._require_secret()
        base = self._mac512 if sha512 else self._mac256
        if base is None:
            base = hmac.new(self._secret, digestmod=hashlib.sha512 if sha512 else hashlib.sha256)
            if sha512:
                self._mac512 = base
            else:
                self._mac256 = base
        mac = base.copy()  # the key schedule is computed once per secret
        mac.update(payload.encode() if isinstance(payload, str) else payload)
        return mac

    def hmac_sha256_hex(self, payload: Union[str, bytes]) -> str:
        return self._hmac(payload, False).hexdigest()

    def hmac_sha256_base64(self, payload: Union[str, bytes]) -> str:
        return base64.b64encode(self._hmac(payload, False).digest()).decode()

    def hmac_sha512_hex(self, payload: Union[str, bytes]) -> str:
        return self._hmac(payload, True).hexdigest()

    def hmac_sha512_base64(self, payload: Union[str, bytes]) -> str:
        return base64.b64encode(self._hmac(payload, True).digest()).decode()

    def private_key_sign_base64(self, payload: Union[str, bytes]) -> str:
        """Signature of ``payload`` by the private key, base64: Ed25519, or RSA PKCS#1 v1.5 with
        SHA-256 (Bybit's RSA keys)."""
        if self._private_key is None:
            raise AuthenticationError(None, "no private key configured")
        data = payload.encode() if isinstance(payload, str) else payload
        if self.private_key_kind == "rsa":
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
            sig = self._private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            sig = self._private_key.sign(data)
        return base64.b64encode(sig).decode()

    def __repr__(self) -> str:
        return "<credentials hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into state files or logs by accident
        raise TypeError("Credentials are not picklable")
