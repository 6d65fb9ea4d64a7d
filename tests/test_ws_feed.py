"""The market-data socket (hbconnect.core.ws_feed.FeedWsConnection): frames handed from the read
callback to the consumer, against a raw loopback server writing hand-made frames (every split,
control frames between data frames, fragmented and oversized messages, violations, the close
handshake) and aiohttp's server through ReconnectingWs (reconnect, app pings)."""
from __future__ import annotations

import asyncio
import gzip
import logging
import struct

import pytest

from hbconnect.core import codecs
from hbconnect.core.backoff import Backoff
from hbconnect.core.ws import ReconnectingWs, WsClosed
from hbconnect.core.ws_feed import FeedWsConnection
from hbconnect.market.messages import WsEndpoint
from test_transport_ws import WsServer, run_until
from test_ws_lean import _raw_server, _unmasked


def _long(op, payload):
    """An unmasked final frame with the 16-bit or 64-bit length form."""
    n = len(payload)
    if n < 65536:
        return bytes([0x80 | op, 126]) + struct.pack("!H", n) + payload
    return bytes([0x80 | op, 127]) + struct.pack("!Q", n) + payload


def _pump_all(send_frames, run=asyncio.run, **kw):
    """Open a FeedWsConnection to the raw server of ``send_frames``, pump until the connection
    ends; the frames received (in order), the connection and the WsClosed raised. The server
    writes only once the client said "go", i.e. once it pumps: every frame is read by the
    read callback's own loop, not queued."""
    got = []

    async def after_go(reader, writer):
        await reader.readexactly(8)  # the client's masked "go": 2 header + 4 key + 2 payload bytes
        await send_frames(reader, writer)

    async def main():
        server, u = await _raw_server(after_go)
        async with server:
            conn = FeedWsConnection(u, name="feed", **kw)
            await conn.open()
            await conn.send("go")  # returns without yielding: pump below hands over what arrives next
            with pytest.raises(WsClosed) as err:
                await asyncio.wait_for(conn.pump(got.append), 5)
            return conn, err.value

    conn, err = run(main())
    return got, conn, err


def _close_frame(code):
    return _unmasked(0x8, struct.pack("!H", code))


BIG = "x" * 70_000
MID = "é" * 200  # 400 bytes of UTF-8: the 16-bit length form, multi-byte text


def _uvloop_run(coro):
    uvloop = pytest.importorskip("uvloop")
    return uvloop.run(coro)


@pytest.mark.parametrize("run", [asyncio.run, _uvloop_run], ids=["asyncio", "uvloop"])
@pytest.mark.parametrize("chunk", [0, 1, 3, 7, 1000])
def test_frames_of_every_length_form_in_order_however_the_stream_is_split(chunk, run):
    # a ping between data frames: with the splits, ws_lean's parser keeps a partial frame that
    # the next read's own loop takes back; BIG is over the 64 KiB read buffer (grown, then shrunk)
    data = (_unmasked(0x1, b"a") + _long(0x1, MID.encode()) + _unmasked(0x9, b"p") + _unmasked(0x2, b"\x00\x01")
            + _long(0x1, BIG.encode()) + _unmasked(0x1, b"z") + _close_frame(1000))

    async def frames(reader, writer):
        step = chunk or len(data)  # 0: the whole stream in one write
        for i in range(0, len(data), step):
            writer.write(data[i:i + step])
            await writer.drain()
            await asyncio.sleep(0)
        await reader.read(100)

    got, conn, err = _pump_all(frames, run)
    assert got == ["a", MID, b"\x00\x01", BIG, "z"]
    assert err.close_code == 1000 and conn.frames_received == 5 and conn.consumer_errors == 0
    assert conn.reads >= (2 if chunk else 1) and len(conn._rbuf) == 64 * 1024  # shrunk back after BIG


def test_control_frames_between_data_frames_are_answered_and_fragments_joined():
    pongs = []

    async def frames(reader, writer):
        writer.write(_unmasked(0x1, b"one") + _unmasked(0x9, b"p1") + _unmasked(0x1, b"two")
                     + _unmasked(0x1, b"fr", fin=False) + _unmasked(0x9, b"p2") + _unmasked(0x0, b"ag", fin=False)
                     + _unmasked(0x0, b"ment") + _unmasked(0xA, b"") + _unmasked(0x1, b"three"))
        await writer.drain()
        for _ in range(2):  # the client's masked pongs: 2 header + 4 key + 2 payload
            pongs.append(await reader.readexactly(8))
        writer.write(_unmasked(0x1, b"four") + _close_frame(1001))
        await writer.drain()
        await reader.read(100)

    got, conn, err = _pump_all(frames)
    assert got == ["one", "two", "fragment", "three", "four"]
    assert [p[0] for p in pongs] == [0x8A, 0x8A]
    assert err.close_code == 1001 and conn.closed


def test_close_handshake_is_echoed_and_the_reason_kept():
    echoed = []

    async def frames(reader, writer):
        writer.write(_unmasked(0x1, b"last") + _unmasked(0x8, struct.pack("!H", 4000) + b"bye"))
        await writer.drain()
        echoed.append(await reader.readexactly(2 + 4 + 2))
        await reader.read(100)

    got, conn, err = _pump_all(frames)
    assert got == ["last"]
    assert echoed[0][0] == 0x88  # the client answered the close
    assert err.close_code == 4000 and "4000: bye" in str(err)


@pytest.mark.parametrize("bad,code", [
    (bytes([0x81, 0x81, 1, 2, 3, 4, 0x41]), 1002),             # masked frame from the server
    (bytes([0xC1, 0x01, 0x41]), 1002),                         # RSV1 set, no extension negotiated
    (_unmasked(0x1, b"\xff\xfe"), 1007),                       # text that is not UTF-8
    (_unmasked(0x0, b"x"), 1002),                              # continuation with no message
    (_unmasked(0x3, b"x"), 1002),                              # unknown opcode
    (_long(0x1, b"y" * 200), 1009),                            # over max_message_size (100)
    (_unmasked(0x1, b"y" * 60, fin=False) + _unmasked(0x0, b"y" * 60), 1009),  # fragments over it
])
def test_bad_frames_close_with_the_rfc_code_after_the_good_ones(bad, code):
    sent_close = []

    async def frames(reader, writer):
        writer.write(_unmasked(0x1, b"good") + bad + _unmasked(0x1, b"never"))
        await writer.drain()
        sent_close.append(await reader.read(100))

    got, conn, err = _pump_all(frames, max_message_size=100)
    assert got == ["good"]  # nothing after the bad frame is handed over
    assert conn.close_code == code == err.close_code and conn.closed
    assert sent_close[0][:2] == b"\x88\x82"  # a masked close frame with the code went out


def test_a_failing_consumer_is_counted_logged_and_closes_with_1011(caplog):
    got = []

    def consumer(frame):
        if frame == "boom":
            raise KeyError("bug")
        got.append(frame)

    async def frames(reader, writer):
        await reader.readexactly(8)  # "go"
        writer.write(_unmasked(0x1, b"a") + _unmasked(0x1, b"boom") + _unmasked(0x1, b"after"))
        await writer.drain()
        await reader.read(100)

    async def main():
        server, url = await _raw_server(frames)
        async with server:
            conn = FeedWsConnection(url, name="feed")
            await conn.open()
            await conn.send("go")
            with pytest.raises(WsClosed, match="frame consumer failed"):
                await asyncio.wait_for(conn.pump(consumer), 5)
            return conn

    with caplog.at_level(logging.ERROR, logger="hbconnect.core.ws_feed"):
        conn = asyncio.run(main())
    assert got == ["a"] and conn.consumer_errors == 1 and conn.close_code == 1011
    assert any("KeyError" in r.getMessage() for r in caplog.records)


def test_frames_before_pump_are_handed_over_first():
    async def frames(reader, writer):
        writer.write(_unmasked(0x1, b"early1") + _unmasked(0x1, b"early2"))
        await writer.drain()
        await reader.readexactly(8)  # the client's masked "go": 2 header + 4 key + 2 payload bytes
        writer.write(_unmasked(0x1, b"late") + _close_frame(1000))
        await writer.drain()
        await reader.read(100)

    got = []

    async def main():
        server, url = await _raw_server(frames)
        async with server:
            conn = FeedWsConnection(url, name="feed")
            await conn.open()
            await asyncio.sleep(0.05)  # the early frames arrive before anyone pumps
            await conn.send("go")
            with pytest.raises(WsClosed):
                await asyncio.wait_for(conn.pump(got.append), 5)

    asyncio.run(main())
    assert got == ["early1", "early2", "late"]


def test_reconnecting_runner_app_pings_and_binary_frames():
    async def main():
        async with WsServer("close_first") as srv:
            frames, closes = [], []
            ep = WsEndpoint(srv.url, ping_interval=0.05, ping_message='{"op":"ping"}')

            async def connect():
                return await FeedWsConnection.from_endpoint(ep, receive_timeout=2, session=None).open()

            async def on_open(conn):
                await conn.send("subscribe")

            runner = ReconnectingWs(connect, frames.append, on_open=on_open, on_close=closes.append,
                                    backoff=Backoff(0.02, 0.05))
            await run_until(runner, lambda: "hello 2" in frames and srv.received.count('{"op":"ping"}') >= 2)
            # "hello 1" is lost when its socket's close came before on_open's subscribe (the send
            # fails, the runner reconnects): frames of a socket that is gone are of no use
            after = [f for f in frames if f != "hello 1"]
            assert after[0] == "hello 2" and isinstance(after[1], bytes)  # a binary frame stays bytes
            assert gzip.decompress(after[1]) == b'{"x":1}'
            assert codecs.decode_json_frame(after[1]) == {"x": 1}
            assert runner.connects == 2 and srv.connections == 2
            assert isinstance(closes[0], WsClosed)
            assert srv.received.count("subscribe") == 1  # the first server socket never reads
            assert srv.received.count('{"op":"ping"}') >= 2
    asyncio.run(main())


def test_pump_before_open_is_a_ws_closed():
    async def main():
        with pytest.raises(WsClosed, match="not open"):
            await FeedWsConnection("ws://127.0.0.1:1/x").pump(lambda f: None)
    asyncio.run(main())


@pytest.mark.parametrize("transport", ["lean", "aiohttp"])
def test_the_tracker_reads_its_sockets_with_the_chosen_client(transport, monkeypatch):
    """The recorded Binance session over real sockets, a socket closed mid-stream: the same books,
    counters and reconnect on the lean reader (the default) and on aiohttp's (the fallback)."""
    from binance_server import FakeBinance
    from conftest import fixture_files
    from hbconnect.core.ws import WsConnection
    from test_tracker_live import PAIRS, _run

    cls = FeedWsConnection if transport == "lean" else WsConnection
    opened = []
    real_open = cls.open

    async def open_(self):
        opened.append(type(self))
        return await real_open(self)

    monkeypatch.setattr(cls, "open", open_)
    kw = {} if transport == "lean" else {"ws_transport": transport}

    async def main():
        async with FakeBinance(fixture_files("BINANCE"), close_after=120) as server:
            tracker, _ = await _run(server, **kw)  # asserts every book equals the session's final book
            assert server.connections == 2 and tracker.connections[0].reconnects == 1
            assert tracker.bad_frames == 0
            assert sum(tracker.stats(p).gaps for p in PAIRS) == 0
    asyncio.run(main())
    assert opened == [cls, cls]


def test_an_unknown_transport_is_refused():
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.tracker import OrderBookTracker

    with pytest.raises(ValueError, match="ws_transport"):
        OrderBookTracker(market_data_venue("binance"), ["BTC-USDT"], ws_transport="websockets")


def test_wss_over_tls_reads_through_the_buffered_protocol(tmp_path, monkeypatch):
    """ws_lean's TLS test run on FeedWsConnection: asyncio's TLS transport hands the decrypted
    bytes to get_buffer / buffer_updated; the certificate and hostname are still checked."""
    import test_ws_lean

    monkeypatch.setattr(test_ws_lean, "LeanWsConnection", FeedWsConnection)
    test_ws_lean.test_wss_over_tls_checks_the_certificate(tmp_path)
