"""WebSocket transport (local aiohttp server) and frame codecs."""
from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from aiohttp import WSMsgType, web

from hbconnect.core import codecs
from hbconnect.core.backoff import Backoff
from hbconnect.core.ws import ReconnectingWs, WsClosed, WsConnection
from hbconnect.market.messages import WsEndpoint
from local_server import LocalServer


async def run_until(runner: ReconnectingWs, done, polls: int = 200) -> None:
    """Run ``runner`` until ``done()`` (polled every 10 ms, at most ``polls`` times), then stop it."""
    task = asyncio.create_task(runner.run())
    for _ in range(polls):
        if done():
            break
        await asyncio.sleep(0.01)
    await runner.stop()
    await asyncio.wait_for(task, 2)


class WsServer(LocalServer):
    def __init__(self, mode="echo"):
        self.mode = mode
        self.received: list[str] = []
        self.connections = 0
        self.port = 0

    async def handler(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        n = self.connections
        if self.mode == "close_first" and n == 1:
            await ws.send_str("hello 1")
            await ws.close(code=4000)
            return ws
        if self.mode == "silent":
            await asyncio.sleep(0.4)
            return ws
        await ws.send_str(f"hello {n}")
        await ws.send_bytes(gzip.compress(b'{"x":1}'))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.received.append(msg.data)
                if msg.data == "close-me":
                    await ws.close()
        return ws

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self.handler)

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ws"


def test_frames_app_heartbeat_and_clean_close():
    async def main():
        async with WsServer() as srv:
            ep = WsEndpoint(srv.url, ping_interval=0.05, ping_message='{"op":"ping"}')
            ws = await WsConnection.from_endpoint(ep, receive_timeout=2).open()
            assert await ws.receive() == "hello 1"
            assert codecs.decode_json_frame(await ws.receive()) == {"x": 1}
            await ws.send("sub")
            await asyncio.sleep(0.3)
            await ws.close()
            await ws.close()  # idempotent
            assert ws.closed
            assert srv.received[0] == "sub"
            pings = [m for m in srv.received if m == '{"op":"ping"}']
            assert 3 <= len(pings) <= 8
            with pytest.raises(WsClosed):
                await ws.send("late")
    asyncio.run(main())


def test_receive_timeout_closes():
    async def main():
        async with WsServer("silent") as srv:
            ws = await WsConnection(srv.url, receive_timeout=0.2).open()
            with pytest.raises(WsClosed, match="no frame"):
                await ws.receive()
            assert ws.closed
    asyncio.run(main())


def test_peer_close_and_connect_failure():
    async def main():
        async with WsServer() as srv:
            ws = await WsConnection(srv.url, receive_timeout=2).open()
            await ws.receive()
            await ws.receive()
            await ws.send("close-me")
            with pytest.raises(WsClosed, match="closed by peer"):
                await ws.receive()
        with pytest.raises(WsClosed, match="cannot connect"):
            await WsConnection("ws://127.0.0.1:1/ws", connect_timeout=1).open()
    asyncio.run(main())


def test_reconnecting_runner_backoff_and_stop():
    async def main():
        async with WsServer("close_first") as srv:
            frames, opens, closes = [], [], []
            delays = []

            class B(Backoff):
                def next_delay(self):
                    d = super().next_delay()
                    delays.append(d)
                    return d

            async def connect():
                return await WsConnection(srv.url, receive_timeout=2).open()

            async def on_open(conn):
                opens.append(conn)
                await conn.send("subscribe")

            runner = ReconnectingWs(connect, frames.append, on_open=on_open, on_close=closes.append,
                                    backoff=B(0.05, 0.2))
            await run_until(runner, lambda: len(frames) >= 3)
            assert frames[0] == "hello 1" and frames[1] == "hello 2"
            assert len(opens) == 2 and srv.connections == 2 and runner.connects == 2
            assert isinstance(closes[0], WsClosed) and closes[0].close_code == 4000
            assert len(delays) == 1 and 0.025 <= delays[0] <= 0.05
            assert srv.received.count("subscribe") == 1  # the first server socket never reads
    asyncio.run(main())


def test_backoff_grows_with_jitter_and_resets():
    b = Backoff(0.5, 4.0, rand=lambda: 1.0, jitter=0.5)
    assert [b.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    b.reset()
    b2 = Backoff(0.5, 4.0, rand=lambda: 0.0)
    assert b2.next_delay() == 0.5
    with pytest.raises(ValueError):
        Backoff(-1)


def test_codecs():
    data = b'{"a":[1,2]}'
    assert codecs.gunzip(gzip.compress(data)) == data
    assert codecs.inflate(zlib.compress(data)) == data
    raw = zlib.compressobj(wbits=-15)
    deflated = raw.compress(data) + raw.flush()
    assert codecs.inflate_raw(deflated) == data
    for blob in (gzip.compress(data), zlib.compress(data), deflated):
        assert codecs.decompress(blob) == data
        assert codecs.decode_json_frame(blob) == {"a": [1, 2]}
    assert codecs.decode_json_frame(data) == {"a": [1, 2]}
    for bad in (gzip.compress(data)[:-6], zlib.compress(data)[:-3], deflated[:-2], b"\x1f\x8bnope"):
        with pytest.raises(codecs.DecodeError):
            codecs.decompress(bad)
    for bad in ("", "{", "nan?", b"\xff"):
        with pytest.raises(codecs.DecodeError):
            codecs.json_loads(bad)
    assert codecs.json_dumps({"a": "x/y"}) == '{"a":"x/y"}'
    with pytest.raises(codecs.DecodeError):
        codecs.decode_protobuf("Nope", b"")
    codecs.register_protobuf("Len", lambda b: len(b))
    assert codecs.decode_protobuf("Len", b"abc") == 3
    codecs.register_protobuf("Bad", lambda b: 1 / 0)
    with pytest.raises(codecs.DecodeError):
        codecs.decode_protobuf("Bad", b"x")


@pytest.mark.parametrize("error", ["connect-failed", "http-403", "ws-closed"])
def test_a_failed_connect_step_is_reported_to_on_close_named_once_without_a_traceback(error, caplog):
    """A REST step of ``connect`` (KuCoin's token) refused or unreachable, or a socket that cannot
    open: the runner hands the error to ``on_close`` and logs one line naming the runner once,
    no "unexpected error" traceback."""
    from hbconnect.core.rest import ConnectFailed, HttpError

    made = {"connect-failed": lambda: ConnectFailed(None, "POST http://127.0.0.1:9/bullet: cannot connect"),
            "http-403": lambda: HttpError(403, "POST http://127.0.0.1:9/bullet: forbidden"),
            "ws-closed": lambda: WsClosed("feed#0: cannot connect to ws://127.0.0.1:9/ws (refused)")}[error]
    closes: list = []

    async def main():
        async def connect():
            raise made()

        runner = ReconnectingWs(connect, lambda f: None, on_close=closes.append, backoff=Backoff(0.01, 0.02),
                                name="feed#0")
        await run_until(runner, lambda: len(closes) >= 2)

    with caplog.at_level("WARNING", logger="hbconnect.core.ws"):
        asyncio.run(main())
    assert len(closes) >= 2 and all(type(c) is type(made()) for c in closes)
    lines = [r for r in caplog.records if r.name == "hbconnect.core.ws"]
    assert lines and all(r.exc_info is None and "unexpected" not in r.getMessage() for r in lines)
    assert all(r.getMessage().count("feed#0") == 1 and "reconnecting in" in r.getMessage() for r in lines)
