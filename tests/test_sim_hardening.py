"""The embedded exchange against hostile clients: listen keys nobody can compute, half-open
sockets closed after a read timeout, one quiet log line for a client that aborts mid-body."""
from __future__ import annotations

import asyncio
import logging
import random
import string
from decimal import Decimal as D

import aiohttp

from hbconnect.sim import EmbeddedExchange

KEY, SECRET = "k" * 64, "s" * 64


def _exchange() -> EmbeddedExchange:
    ex = EmbeddedExchange(seed=0, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
    ex.create_account(KEY, SECRET, balances={"USDT": D("1000")}, futures_balances={"USDT": D("1000")})
    return ex


async def _listen_key(ex: EmbeddedExchange) -> str:
    async with aiohttp.ClientSession() as s:
        r = await s.post(ex.spot_rest_url + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY})
        return (await r.json())["listenKey"]


def test_listen_keys_cannot_be_computed_from_the_seed():
    """Keys came from random.Random(seed + 7): with the default seed 0 anyone could compute a
    client's key offline and read its order reports over ws://.../ws/<key>."""
    async def go():
        keys = []
        for _ in range(2):
            async with _exchange() as ex:
                keys.append(await _listen_key(ex))
        return keys

    keys = asyncio.run(go())
    assert keys[0] != keys[1]  # same seed, same account, same call: different keys
    for key in keys:
        assert len(key) == 64 and set(key) <= set(string.ascii_letters + string.digits)
    chars = string.ascii_letters + string.digits
    for seed in range(0, 16):
        rng = random.Random(seed + 7)
        assert "".join(rng.choice(chars) for _ in range(64)) not in keys


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server closes the connection within ``within`` seconds."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(4096), within)
            if not data:
                return True
    except (ConnectionError, OSError):
        return True
    except asyncio.TimeoutError:
        return False


def test_half_open_connections_are_closed_after_the_read_timeout():
    async def go():
        async with _exchange() as ex:
            ex.spot.read_timeout = 0.5
            port = ex.spot.port
            half = [
                b"",                                                         # connects, says nothing
                b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n",          # headers never end
                b"GET /api/v3/pi",                                           # half a request line
                b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\nsymbol=BTC",  # half a body
            ]
            socks = []
            for data in half:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(data)
                await writer.drain()
                socks.append((reader, writer))
            # a kept-alive connection that completed a request and then went quiet
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            socks.append((reader, writer))
            results = await asyncio.gather(*(_closed(r, 10.0) for r, _ in socks))
            for _, w in socks:
                w.close()
            # and the server still serves
            async with aiohttp.ClientSession() as s:
                r = await s.get(ex.spot_rest_url + "/api/v3/ping")
                assert r.status == 200
            return results, dict(ex.spot.stats)

    results, stats = asyncio.run(go())
    assert results == [True] * 5, results
    assert stats.get("idle_closed", 0) >= 4 and stats.get("client_gone", 0) == 1, stats


def test_a_client_that_aborts_mid_body_costs_one_quiet_log_line(caplog):
    async def go():
        async with _exchange() as ex:
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", ex.spot.port)
                writer.write(b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n\r\nsymbol=BTCUSDT&si")
                await writer.drain()
                await asyncio.sleep(0.1)
                writer.close()       # gone mid-body
            await asyncio.sleep(0.5)
            async with aiohttp.ClientSession() as s:
                r = await s.get(ex.spot_rest_url + "/api/v3/ping")
                assert r.status == 200
            return dict(ex.spot.stats)

    caplog.set_level(logging.DEBUG)
    stats = asyncio.run(go())
    assert stats.get("client_gone") == 3, stats
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    gone = [r for r in caplog.records if "client gone mid-request" in r.getMessage()]
    assert len(gone) == 3 and all("\n" not in r.getMessage() for r in gone)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
