"""REST client against a local aiohttp server: retries only for idempotent requests, outcome-unknown
errors for orders, 429/418 slowing the venue, body decoding errors, the fetch hook."""
from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from aiohttp import web

from hbconnect.core.errors import NetworkError, RateLimitError, RequestTimeout, ServiceUnavailable
from hbconnect.core.rest import (
    BodyDecodeError, ConnectFailed, HttpError, RateLimited, RestClient, RestResponse, RetryPolicy, ServerError,
    parse_retry_after,
)
from hbconnect.market.messages import RestRequest
from local_server import LocalServer

FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02)


class Server(LocalServer):
    """Each route answers from a script: a list of actions consumed per hit."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.script: dict[str, list] = {}
        self.bodies: list = []
        self.port = 0

    async def handler(self, request: web.Request):
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        self.bodies.append((request.method, dict(request.query), await request.text()))
        actions = self.script.get(path, ["ok"])
        action = actions.pop(0) if len(actions) > 1 else actions[0]
        if action == "ok":
            return web.json_response({"ok": True, "n": self.hits[path]})
        if action == "slow":
            await asyncio.sleep(0.4)
            return web.json_response({"late": True})
        if action == "503":
            return web.Response(status=503, text="busy")
        if action == "400":
            return web.json_response({"code": -1102, "msg": "Mandatory parameter"}, status=400)
        if action == "429":
            return web.Response(status=429, headers={"Retry-After": "0.05"}, text='{"code":-1003}')
        if action == "418":
            return web.Response(status=418, headers={"Retry-After": "120"}, text='{"code":-1003}')
        if action == "notjson":
            return web.Response(text="<html>gateway</html>", content_type="text/html")
        if action == "truncated":
            resp = web.StreamResponse(headers={"Content-Length": "100", "Content-Type": "application/json"})
            await resp.prepare(request)
            await resp.write(b'{"lastUpdateId": 1, "bi')
            request.transport.close()
            return resp
        if action == "empty":
            return web.Response(body=b"")
        raise AssertionError(action)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self.handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Throttler:
    def __init__(self):
        self.slow = []
        self.tasks = []

    @contextlib.asynccontextmanager
    async def execute_task(self, limit_id):
        self.tasks.append(limit_id)
        yield

    def slow_down(self, seconds):
        self.slow.append(seconds)


def run(coro):
    return asyncio.run(coro)


def test_get_ok_and_signing_per_attempt():
    async def main():
        async with Server() as srv:
            srv.script["/a"] = ["503", "ok"]
            stamps = []

            def sign(params, headers):
                stamps.append(len(stamps))
                return {**params, "timestamp": str(len(stamps))}, {**headers, "X-KEY": "k"}

            th = Throttler()
            async with RestClient(srv.url, retry=FAST, throttler=th) as rest:
                data = await rest.get_json("/a", {"x": 1}, sign=sign, limit_id="w")
            assert data == {"ok": True, "n": 2}
            assert srv.hits["/a"] == 2 and stamps == [0, 1]  # re-signed (fresh timestamp) per attempt
            assert [b[1]["timestamp"] for b in srv.bodies] == ["1", "2"]
            assert th.tasks == ["w", "w"]
    run(main())


def test_get_retries_then_raises_server_error():
    async def main():
        async with Server() as srv:
            srv.script["/a"] = ["503"]
            async with RestClient(srv.url, retry=FAST) as rest:
                with pytest.raises(ServerError) as ei:
                    await rest.get("/a")
            assert srv.hits["/a"] == 3 and ei.value.status == 503 and not ei.value.outcome_unknown
            assert isinstance(ei.value, ServiceUnavailable)
    run(main())


def test_post_never_resent_on_5xx():
    async def main():
        async with Server() as srv:
            srv.script["/order"] = ["503", "ok"]
            async with RestClient(srv.url, retry=FAST) as rest:
                with pytest.raises(ServerError) as ei:
                    await rest.request("POST", "/order", body="symbol=X")
            assert srv.hits["/order"] == 1 and ei.value.outcome_unknown
    run(main())


def test_post_timeout_is_outcome_unknown_and_not_resent():
    async def main():
        async with Server() as srv:
            srv.script["/order"] = ["slow"]
            async with RestClient(srv.url, retry=FAST, timeout=0.15) as rest:
                with pytest.raises(RequestTimeout) as ei:
                    await rest.request("POST", "/order", body="a=1")
            await asyncio.sleep(0.05)
            assert srv.hits["/order"] == 1 and ei.value.outcome_unknown
    run(main())


def test_explicitly_idempotent_post_is_retried_and_get_timeout_retried():
    async def main():
        async with Server() as srv:
            srv.script["/q"] = ["slow", "ok"]
            async with RestClient(srv.url, retry=FAST, timeout=0.15) as rest:
                resp = await rest.request("POST", "/q", idempotent=True)
                assert resp.json()["n"] == 2
                srv.script["/g"] = ["slow"]
                with pytest.raises(RequestTimeout) as ei:
                    await rest.get("/g")
                assert srv.hits["/g"] == 3 and not ei.value.outcome_unknown
    run(main())


def test_429_slows_the_venue_and_get_waits_and_retries():
    async def main():
        async with Server() as srv:
            srv.script["/d"] = ["429", "ok"]
            th = Throttler()
            async with RestClient(srv.url, retry=FAST, throttler=th) as rest:
                assert (await rest.get_json("/d"))["n"] == 2
                assert th.slow == [0.05]
                srv.script["/o"] = ["429"]
                with pytest.raises(RateLimited) as ei:
                    await rest.request("POST", "/o")
                assert srv.hits["/o"] == 1 and ei.value.retry_after == 0.05
                assert isinstance(ei.value, RateLimitError)
                srv.script["/ban"] = ["418"]
                with pytest.raises(RateLimited) as ei:
                    await rest.get("/ban")
                assert srv.hits["/ban"] == 1 and ei.value.status == 418 and th.slow[-1] == 120
    run(main())


def test_http_error_keeps_venue_body():
    async def main():
        async with Server() as srv:
            srv.script["/x"] = ["400"]
            async with RestClient(srv.url, retry=FAST) as rest:
                with pytest.raises(HttpError) as ei:
                    await rest.get("/x")
            assert srv.hits["/x"] == 1 and ei.value.json() == {"code": -1102, "msg": "Mandatory parameter"}
    run(main())


def test_body_errors_are_clear():
    async def main():
        async with Server() as srv:
            srv.script["/html"] = ["notjson"]
            srv.script["/empty"] = ["empty"]
            srv.script["/cut"] = ["truncated"]
            async with RestClient(srv.url, retry=FAST) as rest:
                resp = await rest.get("/html")
                with pytest.raises(BodyDecodeError, match="invalid JSON"):
                    resp.json()
                with pytest.raises(BodyDecodeError, match="empty body"):
                    await rest.execute(RestRequest(srv.url + "/empty"))
                # a body cut short by a dropped connection: retried for GET, then a clear error
                with pytest.raises(RequestTimeout, match="connection lost"):
                    await rest.get("/cut")
                assert srv.hits["/cut"] == 3
                with pytest.raises(RequestTimeout) as ei:
                    await rest.request("POST", "/cut")
                assert ei.value.outcome_unknown and srv.hits["/cut"] == 4
    run(main())


def test_connection_refused_is_retried_even_for_orders():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        async with RestClient(f"http://127.0.0.1:{port}", retry=FAST) as rest:
            with pytest.raises(ConnectFailed) as ei:
                await rest.request("POST", "/order")
        assert not ei.value.outcome_unknown and isinstance(ei.value, NetworkError)
        assert rest.retries == 2
    run(main())


def test_fetch_hook_replaces_the_network():
    calls = []

    async def fetch(method, url, params, headers, body):
        calls.append((method, url, params))
        return RestResponse(200, {}, b'{"lastUpdateId":5}', url)

    async def main():
        async with RestClient("https://api.example", fetch=fetch) as rest:
            body = await rest.execute(RestRequest("https://api.example/api/v3/depth", {"symbol": "X"}))
            return body

    assert run(main()) == b'{"lastUpdateId":5}'
    assert calls == [("GET", "https://api.example/api/v3/depth", {"symbol": "X"})]


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None, 3.0) == 3.0
    assert parse_retry_after("garbage", 2.0) == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_errors_never_carry_secrets():
    async def main():
        async with Server() as srv:
            srv.script["/x"] = ["400"]
            async with RestClient(srv.url, retry=FAST) as rest:
                with pytest.raises(HttpError) as ei:
                    await rest.get("/x", {"signature": "deadbeefcafe1234", "apiKey": "k" * 20})
            text = str(ei.value) + repr(ei.value)
            assert "deadbeefcafe1234" not in text and "k" * 20 not in text
    run(main())
