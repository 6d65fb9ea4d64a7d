"""``hbconnect sim --ed25519-account KEY=PEMFILE``: an account whose Ed25519 key logs a
WebSocket API session on (the order-path benchmark's hbconnect-ws-ed25519 client)."""
from __future__ import annotations

import asyncio
import json
import re

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from test_sim_cli import launch_sim

from hbconnect.exchanges.binance import BinanceSpotTrading


def test_sim_cli_opens_an_ed25519_account_that_logs_a_session_on(tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public_file = tmp_path / "pub.pem"
    public_file.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    proc, text = launch_sim("--duration", "6", "--pairs", "BTC-USDT", "--perp-pairs",
                            "--ed25519-account", f"edbench={public_file}")
    try:
        ws = re.search(r"spot\s+.*?WS (ws://127\.0\.0\.1:\d+)", text).group(1)
        venue = BinanceSpotTrading("edbench", None, private_key_pem=pem, ws_url=ws)

        async def logon() -> dict:
            async with aiohttp.ClientSession() as s, s.ws_connect(venue.ws_order_url()) as conn:
                await conn.send_str(json.dumps({"id": "t", "method": "time"}))  # the sim's clock
                server_time = json.loads((await conn.receive()).data)["result"]["serverTime"]
                await conn.send_str(venue.ws_order_login(server_time))
                return json.loads((await conn.receive()).data)
        answer = asyncio.run(logon())
    finally:
        proc.kill()
        proc.wait()
    assert answer["status"] == 200 and answer["result"]["apiKey"] == "edbench"


def test_sim_cli_refuses_a_malformed_ed25519_account():
    proc, text = launch_sim("--duration", "2", "--ed25519-account", "no-equals-sign")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "--ed25519-account" in err
