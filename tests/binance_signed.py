"""A minimal Binance-signed REST client written for the tests (HMAC-SHA256 over the query
string), independent of hbconnect's connector."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import aiohttp


class SignedClient:
    key = ""
    secret = ""

    def __init__(self, s: aiohttp.ClientSession, base: str, key: str | None = None,
                 secret: str | None = None) -> None:
        self.s, self.base = s, base
        if key is not None:
            self.key = key
        if secret is not None:
            self.secret = secret

    async def __call__(self, method: str, path: str, params: dict | None = None, key: str | None = None,
                       secret: str | None = None):
        """A SIGNED request: (HTTP status, JSON body)."""
        params = dict(params or {}, timestamp=int(time.time() * 1000))
        qs = urlencode(params)
        sig = hmac.new((secret or self.secret).encode(), qs.encode(), hashlib.sha256).hexdigest()
        r = await self.s.request(method, f"{self.base}{path}?{qs}&signature={sig}",
                                 headers={"X-MBX-APIKEY": key or self.key})
        return r.status, await r.json()

    async def get(self, path: str, **params):
        """A public GET: (HTTP status, JSON body)."""
        r = await self.s.get(self.base + path, params=params)
        return r.status, await r.json()
