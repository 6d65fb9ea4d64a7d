"""``hbconnect watch/record --exchange kucoin`` with an API key: KuCoin's full book (``GET
/api/v3/market/orderbook/level2``) is served only to signed requests. The real console script is
run against a KuCoin-shaped server on 127.0.0.1 started by the test: the key comes from
``--credentials FILE`` or the ``HBCONNECT_KUCOIN_*`` environment variables, the snapshot request
carries the KC-API-* headers signed with it, the book syncs, and no secret ever reaches the
output or the logs; incomplete or missing credentials are usage errors (exit status 2)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from aiohttp import web
from local_server import LocalServer
from test_cli import PACKAGE_HOME, assert_clean, console_script, hbconnect_cli

KEY = "5f1e0c2a9b8d7e6f5a4b3c2d"
SECRET = "f03a5284-5c39-4aaa-9b20-dea10bdcf8e3"
PASSPHRASE = "QWIxMjM0NTY3OD"
ENV = {"HBCONNECT_KUCOIN_API_KEY": KEY, "HBCONNECT_KUCOIN_SECRET": SECRET,
       "HBCONNECT_KUCOIN_PASSPHRASE": PASSPHRASE}
#: what must never be shown: the secret, the passphrase, and the passphrase as signed (v2 keys)
SIGNED_PASSPHRASE = base64.b64encode(hmac.new(SECRET.encode(), PASSPHRASE.encode(), hashlib.sha256).digest()).decode()
NEVER_SHOWN = (SECRET, PASSPHRASE, SIGNED_PASSPHRASE)


class KucoinLike(LocalServer):
    """The three KuCoin endpoints a spot tracker uses: the bullet token, the websocket (one
    ``/market/level2`` change after the subscription), the full-book snapshot, which answers
    only a request with the KC-API-* headers (the headers it got are kept in ``signed``)."""

    def __init__(self) -> None:
        self.signed: list[dict] = []
        self.unsigned = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/bullet-public", self._bullet)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/v3/market/orderbook/level2", self._full_book)

    async def _bullet(self, request: web.Request) -> web.Response:
        return web.json_response({"code": "200000", "data": {"token": "t0k3n", "instanceServers": [
            {"endpoint": f"ws://127.0.0.1:{self.port}/ws", "protocol": "websocket", "pingInterval": 18000,
             "pingTimeout": 10000}]}})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        await ws.send_str('{"id":"w","type":"welcome"}')
        async for msg in ws:
            sub = json.loads(msg.data)
            if sub.get("type") == "subscribe":
                await ws.send_str(json.dumps({"id": sub["id"], "type": "ack"}))
                if sub["topic"].startswith("/market/level2:"):
                    await ws.send_str(json.dumps({"type": "message", "topic": sub["topic"], "subject": "trade.l2update",
                                                  "data": {"changes": {"asks": [], "bids": [["99", "3", "11"]]},
                                                           "sequenceStart": 11, "sequenceEnd": 11,
                                                           "symbol": "BTC-USDT", "time": 1700000000000}}))
        return ws

    async def _full_book(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.upper().startswith("KC-API-")}
        if not headers:
            self.unsigned += 1
            return web.json_response({"code": "400003", "msg": "KC-API-KEY not exists"}, status=401)
        self.signed.append(dict(headers, path=request.path_qs))
        return web.json_response({"code": "200000", "data": {
            "time": 1700000000000, "sequence": "10", "bids": [["100", "1"]], "asks": [["101", "2"]]}})


def _env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBCONNECT_KUCOIN_")}
    env.update(extra, PYTHONPATH=str(PACKAGE_HOME) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONWARNINGS", None)
    return env


async def _run_against_server(args: list, env: dict) -> tuple[int, str, KucoinLike]:
    async with KucoinLike() as server:
        proc = await asyncio.create_subprocess_exec(
            console_script(), *args, "--rest-url", f"http://127.0.0.1:{server.port}", "-v",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        return proc.returncode, out.decode() + err.decode(), server


def _credentials_file(tmp_path: Path, **fields: str) -> str:
    path = tmp_path / "kucoin.json"
    path.write_text(json.dumps(fields))
    return str(path)


@pytest.mark.parametrize("source", ["file", "environment"])
def test_watch_signs_the_full_book_with_the_given_key_and_shows_no_secret(tmp_path, source):
    if source == "file":
        extra = ["--credentials", _credentials_file(tmp_path, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)]
        env = _env({})
    else:
        extra, env = [], _env(ENV)
    code, text, server = asyncio.run(_run_against_server(
        ["watch", "-e", "kucoin", "-p", "BTC-USDT", "--duration", "3", "--interval", "0.5", "--depth", "2", *extra], env))
    assert code == 0, text
    assert server.unsigned == 0 and server.signed, text
    got = server.signed[0]
    assert got["path"] == "/api/v3/market/orderbook/level2?symbol=BTC-USDT"  # the full book, not level2_100
    assert got["KC-API-KEY"] == KEY and got["KC-API-KEY-VERSION"] == "2"
    assert got["KC-API-PASSPHRASE"] == SIGNED_PASSPHRASE  # key version 2: the passphrase signed
    prehash = got["KC-API-TIMESTAMP"] + "GET" + got["path"]
    assert got["KC-API-SIGN"] == base64.b64encode(hmac.new(SECRET.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
    assert "live" in text and "99" in text  # the snapshot and the change after it: in sync
    for secret in NEVER_SHOWN + (got["KC-API-SIGN"],):
        assert secret not in text
    assert_clean_text(text)


def test_record_with_credentials_keeps_them_out_of_the_recording(tmp_path):
    out = tmp_path / "kucoin.rec"
    code, text, server = asyncio.run(_run_against_server(
        ["record", "-e", "kucoin", "-p", "BTC-USDT", "--duration", "3", "--out", str(out)], _env(ENV)))
    assert code == 0, text
    assert server.signed and server.unsigned == 0
    recorded = "".join(p.read_text() for p in tmp_path.glob("kucoin.rec*"))
    assert "/api/v3/market/orderbook/level2?symbol=BTC-USDT" in recorded and '"sequence": "10"' in recorded
    for secret in NEVER_SHOWN + (KEY, server.signed[0]["KC-API-SIGN"]):
        assert secret not in recorded and secret not in text
    assert_clean_text(text)
    # the recording replays without a key (the signed answer is in it) to the same book
    files = sorted(str(p) for p in tmp_path.glob("kucoin.rec*"))
    proc = hbconnect_cli("replay", *files, "-e", "kucoin", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    pair = report["pairs"]["BTC-USDT"]
    assert (pair["state"], pair["gaps"], pair["snapshots"], pair["diffs_applied"]) == ("live", 0, 1, 1), pair
    assert pair["bids"][:2] == [["100", "1"], ["99", "3"]]


def assert_clean_text(text: str) -> None:
    assert "Traceback" not in text and "Unclosed" not in text, text


@pytest.mark.parametrize("env,fields,says", [
    ({"HBCONNECT_KUCOIN_API_KEY": KEY}, None, "HBCONNECT_KUCOIN_SECRET and HBCONNECT_KUCOIN_PASSPHRASE missing"),
    ({"HBCONNECT_KUCOIN_API_KEY": KEY, "HBCONNECT_KUCOIN_SECRET": SECRET}, None, "HBCONNECT_KUCOIN_PASSPHRASE missing"),
    ({}, {"api_key": KEY, "secret": SECRET}, '"passphrase" missing'),
    ({}, {"api_key": KEY, "secret": SECRET, "passphrase": PASSPHRASE, "pasphrase": "x"}, "unknown field(s) pasphrase"),
    ({}, {"api_key": KEY, "secret": 7, "passphrase": PASSPHRASE}, "secret must be text"),
])
@pytest.mark.parametrize("command", ["watch", "record"])
def test_incomplete_credentials_are_a_usage_error(tmp_path, command, env, fields, says):
    args = [command, "-e", "kucoin", "-p", "BTC-USDT", "--duration", "1"]
    if command == "record":
        args += ["--out", str(tmp_path / "x.rec")]
    if fields is not None:
        path = tmp_path / "creds.json"
        path.write_text(json.dumps(fields))
        args += ["--credentials", str(path)]
    proc = _cli(args, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr and f"hbconnect {command}:" in proc.stderr
    for secret in NEVER_SHOWN:
        assert secret not in proc.stdout + proc.stderr
    assert not (tmp_path / "x.rec").exists()
    assert_clean(proc)


def test_the_full_book_without_credentials_and_credentials_for_a_venue_that_signs_nothing(tmp_path):
    proc = _cli(["watch", "-e", "kucoin_full_book", "-p", "BTC-USDT", "--duration", "1"], {})
    assert proc.returncode == 2
    assert "kucoin_full_book needs an API key: set HBCONNECT_KUCOIN_API_KEY, HBCONNECT_KUCOIN_SECRET, " \
           "HBCONNECT_KUCOIN_PASSPHRASE or pass --credentials FILE" in proc.stderr
    path = _credentials_file(tmp_path, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE)
    proc = _cli(["watch", "-e", "binance", "-p", "BTC-USDT", "--credentials", path, "--duration", "1"], {})
    assert proc.returncode == 2 and "binance market data signs no request" in proc.stderr and "kucoin" in proc.stderr
    for bad in (tmp_path / "absent.json", tmp_path / "broken.json"):
        if bad.name == "broken.json":
            bad.write_text('{"api_key": "' + KEY + '", "secret": "' + SECRET)  # cut short
        proc = _cli(["watch", "-e", "kucoin", "-p", "BTC-USDT", "--credentials", str(bad), "--duration", "1"], {})
        assert proc.returncode == 2 and "--credentials" in proc.stderr and SECRET not in proc.stderr
        assert_clean(proc)


def _cli(args: list, env: dict):
    """The console script with only ``env``'s KuCoin variables (none inherited)."""
    import subprocess

    return subprocess.run([console_script(), *args], capture_output=True, text=True, timeout=60, env=_env(env))


def test_help_names_the_option_and_the_variables():
    proc = hbconnect_cli("watch", "--help")
    assert proc.returncode == 0 and "--credentials FILE" in proc.stdout and "HBCONNECT_KUCOIN_API_KEY" in proc.stdout
