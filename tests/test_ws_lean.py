"""The lean WebSocket client (hbconnect.core.ws_lean) against aiohttp's server and a raw one
that writes hand-made frames; RFC 6455's own examples for masking and the accept key."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import struct

import aiohttp
import pytest
from aiohttp import web

from hbconnect.core.ws import WsClosed
from hbconnect.core.ws_lean import LeanWsConnection, accept_key, encode_frame, mask_payload


def test_mask_payload_rfc6455_example():
    # RFC 6455 5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58
    assert mask_payload(b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex("7f9f4d5158")
    key = bytes.fromhex("a1b2c3d4")
    for n in (0, 1, 3, 4, 5, 125, 126, 1000):
        data = bytes(range(256)) * 4
        data = data[:n]
        assert mask_payload(mask_payload(data, key), key) == data
        assert mask_payload(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_accept_key_rfc6455_example():
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3


@pytest.mark.parametrize("n", [5, 200, 70000])
def test_encode_frame_lengths_and_mask(n):
    payload = b"x" * n
    frame = encode_frame(0x1, payload)
    assert frame[0] == 0x81 and frame[1] & 0x80
    if n < 126:
        size, head = frame[1] & 0x7F, 2
    elif n < 65536:
        size, head = struct.unpack("!H", frame[2:4])[0], 4
    else:
        size, head = struct.unpack("!Q", frame[2:10])[0], 10
    assert size == n
    key = frame[head:head + 4]
    assert mask_payload(frame[head + 4:], key) == payload


async def _aiohttp_server(handler):
    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"ws://127.0.0.1:{port}/ws"


def test_echo_text_binary_large_and_ping():
    seen = []

    async def handler(request):
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"hb")
        async for msg in ws:
            seen.append(msg.type)
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data.upper())
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    async def main():
        runner, url = await _aiohttp_server(handler)
        try:
            conn = LeanWsConnection(url, name="t")
            await conn.open()
            await conn.send("hello")
            assert await conn.receive() == "HELLO"
            big = "é" * 40000  # 80,000 bytes: the 64-bit length form both ways
            await conn.send(big)
            assert await conn.receive() == big.upper()
            conn._write_frame(0x2, b"\x00\x01\x02")
            assert await conn.receive() == b"\x02\x01\x00"
            await conn.close()
            assert conn.closed
            with pytest.raises(WsClosed):
                conn.send_now("late")
        finally:
            await runner.cleanup()
        assert seen[0] == aiohttp.WSMsgType.PONG  # the server's ping was answered
        assert conn.frames_sent == 2 and conn.frames_received == 3

    asyncio.run(main())


def test_callback_mode_gets_queued_frames_first_then_live_ones():
    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for i in range(3):
            await ws.send_str(f"f{i}")
        async for msg in ws:
            await ws.send_str("echo:" + msg.data)
        return ws

    async def main():
        runner, url = await _aiohttp_server(handler)
        try:
            conn = LeanWsConnection(url)
            await conn.open()
            assert await conn.receive() == "f0"
            await asyncio.sleep(0.05)  # f1, f2 are queued by now
            got = []
            done = asyncio.get_running_loop().create_future()

            def on_frame(frame):
                got.append(frame)
                if frame.startswith("echo") and not done.done():
                    done.set_result(None)
            conn.deliver_to(on_frame)
            conn.send_now("x")
            await asyncio.wait_for(done, 5)
            assert got == ["f1", "f2", "echo:x"]
            await conn.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_server_close_ends_receive_and_wait_closed_with_the_code():
    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("bye")
        await ws.close(code=4001, message=b"session revoked")
        return ws

    async def main():
        runner, url = await _aiohttp_server(handler)
        try:
            conn = LeanWsConnection(url)
            await conn.open()
            assert await conn.receive() == "bye"
            with pytest.raises(WsClosed) as info:
                await conn.receive()
            assert info.value.close_code == 4001 and "4001" in str(info.value)
            with pytest.raises(WsClosed):
                await conn.wait_closed()
            await conn.close()  # idempotent after the peer closed
        finally:
            await runner.cleanup()

    asyncio.run(main())


# ---------------------------------------------------------------- a raw server: hand-made frames

async def _raw_server(after_handshake, *, accept=None, status=b"101 Switching Protocols"):
    async def serve(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            key = re.search(rb"Sec-WebSocket-Key: (\S+)", head).group(1)
            acc = accept if accept is not None else base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            writer.write(b"HTTP/1.1 " + status + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
            await after_handshake(reader, writer)
        finally:
            # the server side's socket closes with its handler: Python 3.12's Server.wait_closed
            # (the end of ``async with server``) waits for every connection to be closed, and a
            # handler that returned without closing its writer left the test waiting forever
            writer.close()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"


def _unmasked(op, payload, fin=True):
    return bytes([(0x80 if fin else 0) | op, len(payload)]) + payload


def test_fragmented_message_split_across_reads_is_joined():
    async def frames(reader, writer):
        data = _unmasked(0x1, b"he", fin=False) + _unmasked(0x9, b"p") + _unmasked(0x0, b"ll", fin=False) \
            + _unmasked(0x0, b"o", fin=True)
        for i in range(len(data)):  # one byte at a time: every partial-frame path
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        pong = await reader.readexactly(2 + 4 + 1)
        writer.write(_unmasked(0x1, b"ok"))
        await writer.drain()
        assert pong[0] == 0x8A  # the ping inside the fragmented message was answered
        await reader.read(100)

    async def main():
        server, url = await _raw_server(frames)
        async with server:
            conn = LeanWsConnection(url)
            await conn.open()
            assert await conn.receive() == "hello"
            assert await conn.receive() == "ok"
            await conn.close()

    asyncio.run(main())


@pytest.mark.parametrize("bad,code", [
    (bytes([0x81, 0x81, 1, 2, 3, 4, 0x41]), 1002),   # a masked frame from the server
    (bytes([0xC1, 0x01, 0x41]), 1002),               # RSV1 set, no extension negotiated
    (_unmasked(0x1, b"\xff\xfe"), 1007),             # text that is not UTF-8
    (_unmasked(0x0, b"x"), 1002),                    # a continuation with no message
    (_unmasked(0x9, b"p", fin=False), 1002),         # a fragmented control frame
    (bytes([0x82, 0x7F]) + struct.pack("!Q", 1 << 40), 1009),  # over the size limit
])
def test_protocol_violations_close_with_the_rfc_code(bad, code):
    async def frames(reader, writer):
        writer.write(bad)
        await writer.drain()
        await reader.read(100)

    async def main():
        server, url = await _raw_server(frames)
        async with server:
            conn = LeanWsConnection(url)
            await conn.open()
            with pytest.raises(WsClosed):
                await asyncio.wait_for(conn.receive(), 5)
            assert conn.close_code == code and conn.closed

    asyncio.run(main())


@pytest.mark.parametrize("kw", [{"accept": b"AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, {"status": b"404 Not Found"}])
def test_bad_handshake_is_a_ws_closed_at_open(kw):
    async def idle(reader, writer):
        await reader.read(100)

    async def main():
        server, url = await _raw_server(idle, **kw)
        async with server:
            conn = LeanWsConnection(url, connect_timeout=5)
            with pytest.raises(WsClosed):
                await conn.open()
            assert conn.closed

    asyncio.run(main())


def test_rejects_urls_that_are_not_websocket():
    with pytest.raises(ValueError):
        LeanWsConnection("http://127.0.0.1:1/x")


def test_wss_over_tls_checks_the_certificate(tmp_path):
    """wss://: TLS with the hostname checked; a certificate the client does not trust fails at
    open (the default context: the system's trust store)."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = datetime.datetime(2020, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)

    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str("tls:" + msg.data)
        return ws

    async def main():
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"wss://localhost:{port}/ws"
        try:
            trusting = ssl.create_default_context(cafile=str(cert_file))
            conn = LeanWsConnection(url, ssl_context=trusting)
            await conn.open()
            await conn.send("hi")
            assert await conn.receive() == "tls:hi"
            await conn.close()
            with pytest.raises(WsClosed) as info:  # not in the system's trust store
                await LeanWsConnection(url, connect_timeout=5).open()
            assert "SSL" in str(info.value) or "certificate" in str(info.value).lower()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_send_path_no_nagle_and_no_await():
    """The order socket's send path: TCP_NODELAY on its socket, and ``send_now`` puts the frame
    on the wire without the caller awaiting anything."""
    import socket

    async def main():
        got = asyncio.get_running_loop().create_future()

        async def handler(request):
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                if not got.done():
                    got.set_result(msg.data)
            return ws

        runner, url = await _aiohttp_server(handler)
        try:
            conn = LeanWsConnection(url, receive_timeout=None)
            await conn.open()
            sock = conn._transport.get_extra_info("socket")
            nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert conn.send_now('{"id":"1","method":"ping"}') is None  # a plain call, nothing to await
            text = await asyncio.wait_for(got, 5)
            await conn.close()
            return nodelay, text
        finally:
            await runner.cleanup()

    nodelay, text = asyncio.run(main())
    assert nodelay != 0
    assert text == '{"id":"1","method":"ping"}'
