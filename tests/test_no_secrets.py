"""No API key, secret or signature in any client log line, repr or exception.

Runs the spot connector against the embedded exchange with faults on (so that warnings, errors
and retries are logged), captures every log record at DEBUG, records every signature the
client computed, and greps all of it. The exchange's own (server-side) logs are excluded.
"""
from __future__ import annotations

import logging
import traceback
from decimal import Decimal
from typing import Any, List

from test_e2e_faults import scenario, settle_and_check
from test_e2e_spot import SpotEnv, run

from hbconnect.core.credentials import Credentials
from hbconnect.core.errors import ExchangeError

D = Decimal


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("hbconnect.sim", "aiohttp.access", "aiohttp.server")):
            return  # the exchange's side
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(f"{record.name}: {text}")


def test_no_secret_in_logs_reprs_or_exceptions() -> None:
    async def go() -> None:
        capture = Capture()
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(capture)
        root.setLevel(logging.DEBUG)
        signatures: List[str] = []
        try:
            async with SpotEnv(recv_window_ms=1000) as env:
                venue = env.bot.venue
                original = venue.prepare

                def spy(request: Any, ts: int) -> Any:
                    prepared = original(request, ts)
                    sig = (prepared.params or {}).get("signature")
                    if sig is None and prepared.body and "signature=" in prepared.body:
                        sig = prepared.body.rsplit("signature=", 1)[1]
                    if sig:
                        signatures.append(sig)
                    return prepared
                venue.prepare = spy  # type: ignore[method-assign]

                def faults(ex: Any) -> None:
                    ex.faults.http_5xx = 0.2
                    ex.faults.timeout_accepted = 0.2
                    ex.faults.error_5xx_rejected = 0.2
                    ex.faults.hang_seconds = 3.0
                    ex.faults.set_ws("user", drop=0.3, close=0.1)
                ids = await scenario(env, rounds=2, setup=faults)
                await settle_and_check(env, ids)
                # a rejected signature and an unknown order produce exceptions: keep their texts
                texts = [repr(env.bot), repr(venue), str(env.bot.status_dict)]
                texts += [repr(o) for o in env.bot.order_tracker.cached_orders.values()]
                good = venue.credentials
                venue.credentials = Credentials(good.api_key, "wrong-secret-for-this-test")
                try:
                    await env.bot.refresh_balances()
                except ExchangeError as exc:
                    texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
                else:
                    raise AssertionError("a bad signature must be refused")
                venue.credentials = good
                listen_keys = list(env.ex.spot.listen_keys)
                key, secret = env.key, env.secret
        finally:
            root.removeHandler(capture)
            root.setLevel(old_level)
        assert signatures and len(capture.lines) > 20  # every request is logged at DEBUG
        blob = "\n".join(capture.lines + texts)
        assert any("signature" in t.lower() or "-1022" in t for t in texts)  # the error was captured
        assert key not in blob, "API key leaked"
        assert secret not in blob, "API secret leaked"
        leaked = [s for s in signatures if s in blob]
        assert not leaked, f"{len(leaked)} signatures leaked"
        for lk in listen_keys:
            assert lk not in blob, "listen key leaked"
    run(go(), timeout=90)
