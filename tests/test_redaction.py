"""Redaction: signatures and anything that looks like one are masked wherever they appear (even
echoed bare by a venue or a proxy), and the registry of secrets is bounded."""
from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import json
import logging
import traceback

import pytest

from hbconnect.connector.connector import Connector
from hbconnect.core import errors
from hbconnect.core.errors import ExchangeError, register_secret, registered_secret_count, sanitize
from hbconnect.core.rest import RestResponse
from hbconnect.exchanges.binance import BinanceSpotTrading

DIGEST = hmac.new(b"k" * 64, b"symbol=BTCUSDT&timestamp=1", hashlib.sha256).digest()
HEX = DIGEST.hex()
HEX512 = hmac.new(b"k", b"m", hashlib.sha512).hexdigest()
B64 = base64.b64encode(DIGEST).decode()
B64URL = base64.urlsafe_b64encode(DIGEST).decode().rstrip("=")
B64_64 = base64.b64encode(hmac.new(b"k", b"m", hashlib.sha512).digest()).decode()
JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im9yZ2FuaXphdGlvbnMvIn0.eyJzdWIiOiJvcmdhbml6YXRpb25zIn0.MEUCIQDx9a"


@pytest.mark.parametrize("text,secret", [
    (f"Signature {HEX} for this request is not valid.", HEX),
    (f"{{\"code\":-1022,\"msg\":\"bad sig {HEX}\"}}", HEX),
    (f"digest {HEX512} mismatch", HEX512),
    (f"Signature: {B64} rejected", B64),
    (f"upstream said sign {B64URL}", B64URL),
    (f"ed25519 {B64_64} refused", B64_64),
    (f"token {JWT} expired", JWT),
    (f"sig='a1B2c3D4e5F6g7H8i9J0' invalid", "a1B2c3D4e5F6g7H8i9J0"),
])
def test_signature_lookalikes_are_masked_anywhere(text, secret):
    out = sanitize(text)
    assert secret not in out and "***" in out, out
    assert secret not in str(ExchangeError(-1022, text)) and secret not in repr(ExchangeError(-1022, text))


@pytest.mark.parametrize("text", [
    "order 1700000000123 filled 0.001 BTC-USDT at 60000.01",
    "client order id x-Ab12Cd34Ef56-1700000000000-17 rejected",
    "uuid 123e4567-e89b-12d3-a456-426614174000 cancelled",
    "Signature for this request is not valid.",
    "GET /api/v3/account HTTP 400 code -1022",
])
def test_ordinary_text_is_left_alone(text):
    assert sanitize(text) == text


def test_the_registry_is_bounded(monkeypatch):
    monkeypatch.setattr(errors, "_owned", {})
    monkeypatch.setattr(errors, "_unowned", errors.collections.OrderedDict())
    keys = [f"listenkey{i:08d}xyz" for i in range(5000)]
    for k in keys:
        register_secret(k)
    assert registered_secret_count() == errors.MAX_UNOWNED_SECRETS
    assert sanitize(keys[-1]) == "***"          # the latest are remembered
    assert sanitize(keys[0]) == keys[0]         # the oldest went


def test_an_owned_secret_lives_with_its_owner_then_joins_the_bounded_list(monkeypatch):
    monkeypatch.setattr(errors, "_owned", {})
    monkeypatch.setattr(errors, "_unowned", errors.collections.OrderedDict())

    class Owner:
        pass

    owner = Owner()
    register_secret("apisecretvalue1", owner=owner)
    for i in range(errors.MAX_UNOWNED_SECRETS * 2):
        register_secret(f"transient{i:06d}")
    assert sanitize("apisecretvalue1") == "***"  # never pushed out while the owner lives
    del owner
    gc.collect()
    assert "apisecretvalue1" not in errors._owned and sanitize("apisecretvalue1") == "***"
    for i in range(errors.MAX_UNOWNED_SECRETS):
        register_secret(f"later{i:06d}")
    assert sanitize("apisecretvalue1") == "apisecretvalue1"
    release = register_secret("sessionkey42", owner=Owner)  # a session's listen key
    release()
    release()  # idempotent
    assert "sessionkey42" not in errors._owned and sanitize("sessionkey42") == "***"


def test_an_echoed_signature_never_reaches_logs_or_exceptions(caplog):
    """A venue (or proxy) echoes each request's signature, bare, hex and base64, in its error."""
    echoed: list = []

    async def fetch(method, url, params, headers, body):
        sig = (params or {}).get("signature")
        if sig is None and body and "signature=" in body:
            sig = body.rsplit("signature=", 1)[1]
        if sig is None:
            return RestResponse(200, {}, b"{}", url)
        echoed.append(sig)
        b64 = base64.b64encode(bytes.fromhex(sig)).decode()
        msg = f"Signature {sig} for this request is not valid. (sign: {b64})"
        return RestResponse(400, {}, json.dumps({"code": -1022, "msg": msg}).encode(), url)

    async def go() -> list:
        venue = BinanceSpotTrading("k" * 64, "s" * 64, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9")
        bot = Connector(venue, ["BTC-USDT"], rest_fetch=fetch, rest_timeout=1.0)
        with pytest.raises(ExchangeError) as info:
            await bot.refresh_balances()
        logging.getLogger("hbconnect.test").warning("balances failed: %s", info.value, exc_info=info.value)
        return [str(info.value), repr(info.value), info.value.message]

    caplog.set_level(logging.DEBUG)
    texts = asyncio.run(go())
    texts += [r.getMessage() + "".join(traceback.format_exception(*r.exc_info)) if r.exc_info else r.getMessage()
              for r in caplog.records]
    assert echoed, "no signed request was made"
    for sig in echoed:
        b64 = base64.b64encode(bytes.fromhex(sig)).decode()
        for text in texts:
            assert sig not in text and b64 not in text, text
    assert any("not valid" in t for t in texts)
