"""The order path side by side: place -> ack and cancel -> ack, and client CPU per place + cancel.

The embedded exchange runs in its own process (``hbconnect sim --no-agent``), each client in its
own process, one after another, all in one invocation:

* ``hbconnect-ws``: hbconnect's ``Connector`` on Binance spot, orders over the WebSocket API
  (the default);
* ``hbconnect-ws-aiohttp`` (only when named in ``--clients``): the same with its order socket
  and user stream on aiohttp's WebSocket client instead of hbconnect's lean one
  (``hbconnect.core.ws_lean``);
* ``hbconnect-ws-ed25519``: the same with an Ed25519 key: one ``session.logon``, then order
  messages that carry no signature (the sim opens that account with ``--ed25519-account``);
  hbconnect's user-data events come on the order socket itself (``userDataStream.subscribe``);
* ``hbconnect-ws-ed25519-listenkey`` (only when named): the same with the user data on its own
  listen-key socket (``ws_user_stream=False``, the default before the one-socket path);
* ``hbconnect-rest``: the same with ``ws_order_entry=False`` (signed REST);
* ``ccxt``: ccxt's async Binance client (``create_order`` / ``cancel_order``, its client-side
  rate limiter off: this measures the path, not its pacing);
* ``python-binance``: python-binance's ``AsyncClient`` (``create_order`` / ``cancel_order``).

Each client places a LIMIT buy far from the market and cancels it, ``--orders`` times one at a
time, then ``--in-flight`` orders at once and their cancels at once. "ack" is the client's own
notion: the connector's created / cancelled event, the other clients' awaited answers. CPU is
the client process's user + system time over the one-at-a-time phase, per place + cancel.

The sim's order limit is raised (``--orders-per-10s``), and hbconnect is told the same budget,
so the run measures the transports, not Binance's 100-orders-per-10-s pacing.

Setup (python-binance is not a test dependency)::

    pip install -e '.[test,fast]' python-binance==1.0.37

Run::

    python benchmarks/bench_order_path.py --orders 200 --in-flight 50 --rounds 3 [--uvloop] [--json out.json]

Reports a table with medians and p99s, and each client's ratio to the best peer (ccxt /
python-binance). Nothing here is a test; targets are checked by reading the table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

PAIR, SYMBOL, CCXT_SYMBOL = "BTC-USDT", "BTCUSDT", "BTC/USDT"
AMOUNT, PRICE = Decimal("0.001"), Decimal("20000")
CLIENTS = ("hbconnect-ws", "hbconnect-ws-ed25519", "hbconnect-rest", "ccxt", "python-binance")
PEERS = ("ccxt", "python-binance")
#: on request only: the order socket on aiohttp's client instead of hbconnect's lean one
EXTRA_CLIENTS = ("hbconnect-ws-aiohttp", "hbconnect-ws-ed25519-listenkey")
ORDER_LIMIT = 1_000_000  # per 10 s, sim and hbconnect alike
ED25519_KEY_PREFIX = "ed"  # the Ed25519 account's API key: this + the HMAC account's
ED25519_PEM_ENV = "HBCONNECT_BENCH_ED25519_PEM"  # its private key, to the workers


# ------------------------------------------------------------------ one client (its own process)

class Client:
    """place() -> venue order id (or the client's), cancel(order id); both awaited to the ack."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def place(self) -> str: raise NotImplementedError
    async def cancel(self, order_id: str) -> None: raise NotImplementedError

    def throttle_waits(self) -> Optional[int]:
        """Requests that waited on the client's own rate limiter so far; None: no such limiter."""
        return None


class HbconnectClient(Client):
    def __init__(self, rest: str, ws: str, key: str, secret: str, use_ws: bool, order_socket: str = "lean",
                 private_key_pem: Optional[bytes] = None, ws_user_stream: bool = True) -> None:
        from hbconnect.connector import Connector
        from hbconnect.core.events import MarketEvent
        from hbconnect.exchanges.binance import BinanceSpotTrading, spot_rate_limits

        venue = BinanceSpotTrading(key, None if private_key_pem else secret, rest_url=rest, ws_url=ws,
                                   private_key_pem=private_key_pem,
                                   rate_limits=spot_rate_limits(orders_per_10s=ORDER_LIMIT,
                                                                orders_per_day=100 * ORDER_LIMIT))
        self.connector = Connector(venue, [PAIR], ws_order_entry=use_ws, ws_user_stream=ws_user_stream)
        session = self.connector._orders.session
        if order_socket == "aiohttp":  # both private sockets on aiohttp's client
            from hbconnect.core.ws import WsConnection
            self.connector._user_stream.connection_class = WsConnection
            if session is not None:
                session.lean, session.connection_class = False, WsConnection
        self.use_ws = use_ws
        self._waiting: Dict[Tuple[Any, str], asyncio.Future] = {}
        for tag in (MarketEvent.BuyOrderCreated, MarketEvent.OrderCancelled, MarketEvent.OrderFailure):
            self.connector.event_hub.add_listener(tag, lambda ev, tag=tag: self._on(tag, ev))
        self._created, self._cancelled = MarketEvent.BuyOrderCreated, MarketEvent.OrderCancelled
        self._failed = MarketEvent.OrderFailure

    def _on(self, tag: Any, ev: Any) -> None:
        if tag is self._failed:
            for (want, oid), fut in list(self._waiting.items()):
                if oid == ev.order_id and not fut.done():
                    fut.set_exception(RuntimeError(f"order failed: {ev.error_message}"))
            return
        fut = self._waiting.pop((tag, ev.order_id), None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _until(self, tag: Any, oid: str) -> None:
        fut = self._waiting.setdefault((tag, oid), asyncio.get_running_loop().create_future())
        await fut

    async def start(self) -> None:
        await self.connector.start()
        await self.connector.wait_until_ready(20)
        session = self.connector._orders.session
        if self.use_ws:
            deadline = time.monotonic() + 10
            while not (session is not None and session.ready):
                if time.monotonic() > deadline:
                    raise RuntimeError("order entry socket never logged in")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.connector.stop()

    def throttle_waits(self) -> Optional[int]:
        return self.connector._throttler.metrics.waited

    async def place(self) -> str:
        from hbconnect.core.types import OrderType
        oid = self.connector.buy(PAIR, AMOUNT, OrderType.LIMIT, PRICE)
        await self._until(self._created, oid)
        return oid

    async def cancel(self, order_id: str) -> None:
        self.connector.cancel(PAIR, order_id)
        await self._until(self._cancelled, order_id)


class CcxtClient(Client):
    def __init__(self, rest: str, key: str, secret: str) -> None:
        import ccxt.async_support as ccxt_async
        self.ex = ccxt_async.binance({"apiKey": key, "secret": secret, "enableRateLimit": False,
                                      "options": {"defaultType": "spot", "fetchMarkets": ["spot"]}})
        api = self.ex.urls["api"]
        for name, url in list(api.items()):
            if isinstance(url, str) and url.startswith("https://api.binance.com"):
                api[name] = rest + url[len("https://api.binance.com"):]

    async def start(self) -> None:
        await self.ex.load_markets()

    async def stop(self) -> None:
        await self.ex.close()

    async def place(self) -> str:
        order = await self.ex.create_order(CCXT_SYMBOL, "limit", "buy", float(AMOUNT), float(PRICE))
        return order["id"]

    async def cancel(self, order_id: str) -> None:
        await self.ex.cancel_order(order_id, CCXT_SYMBOL)


class PythonBinanceClient(Client):
    def __init__(self, rest: str, key: str, secret: str) -> None:
        from binance import AsyncClient
        self.client = AsyncClient(key, secret)
        self.client.API_URL = rest + "/api"

    async def stop(self) -> None:
        await self.client.close_connection()

    async def place(self) -> str:
        order = await self.client.create_order(symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
                                               quantity=str(AMOUNT), price=str(PRICE))
        return str(order["orderId"])

    async def cancel(self, order_id: str) -> None:
        await self.client.cancel_order(symbol=SYMBOL, orderId=int(order_id))


def make_client(name: str, rest: str, ws: str, key: str, secret: str) -> Client:
    if name.startswith("hbconnect"):
        if name.startswith("hbconnect-ws-ed25519"):
            return HbconnectClient(rest, ws, ED25519_KEY_PREFIX + key, secret, use_ws=True,
                                   private_key_pem=os.environ[ED25519_PEM_ENV].encode(),
                                   ws_user_stream=not name.endswith("-listenkey"))
        return HbconnectClient(rest, ws, key, secret, use_ws=name.startswith("hbconnect-ws"),
                               order_socket="aiohttp" if name == "hbconnect-ws-aiohttp" else "lean")
    if name == "ccxt":
        return CcxtClient(rest, key, secret)
    if name == "python-binance":
        return PythonBinanceClient(rest, key, secret)
    raise ValueError(name)


async def _timed(fn: Callable[..., Awaitable[Any]], *args: Any) -> Tuple[float, Any]:
    t0 = time.perf_counter()
    out = await fn(*args)
    return time.perf_counter() - t0, out


def sim_cpu_seconds(pid: Optional[int]) -> Optional[float]:
    """CPU time (user + system) the sim process has used so far (Linux ``/proc``; None elsewhere)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def run_client(name: str, rest: str, ws: str, key: str, secret: str, orders: int, in_flight: int,
                     profile: Optional[str], sim_pid: Optional[int] = None) -> dict:
    client = make_client(name, rest, ws, key, secret)
    await client.start()
    try:
        for _ in range(5):  # warm-up: connections, caches
            await client.cancel(await client.place())
        place_s: List[float] = []
        cancel_s: List[float] = []
        prof = None
        if profile:
            import cProfile
            prof = cProfile.Profile(time.thread_time)  # CPU time: a blocked epoll counts nothing
            prof.enable()
        sim0 = sim_cpu_seconds(sim_pid)
        waits0 = client.throttle_waits()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(orders):
            dt, oid = await _timed(client.place)
            place_s.append(dt)
            dt, _ = await _timed(client.cancel, oid)
            cancel_s.append(dt)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        sim1 = sim_cpu_seconds(sim_pid)
        waits1 = client.throttle_waits()
        # the sim's own CPU while it served this client alone (its clock ticks: ±10 ms in all)
        sim_cpu = (sim1 - sim0) / orders if sim0 is not None and sim1 is not None else None
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        burst = await asyncio.gather(*[_timed(client.place) for _ in range(in_flight)])
        burst_cancel = await asyncio.gather(*[_timed(client.cancel, oid) for _, oid in burst])
    finally:
        await client.stop()
    return {"client": name, "orders": orders, "in_flight": in_flight,
            "place": place_s, "cancel": cancel_s, "cpu_per_pair": cpu / orders, "wall": wall, "sim_cpu_per_pair": sim_cpu,
            "throttle_waits": None if waits0 is None else waits1 - waits0,
            "burst_place": [dt for dt, _ in burst], "burst_cancel": [dt for dt, _ in burst_cancel]}


# ------------------------------------------------------------------ the invocation

def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65534:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


def _pct(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _us(x: float) -> str:
    return f"{x * 1e6:,.0f}"


def merge_rounds(runs: List[dict]) -> dict:
    """One client's rounds as one result: the timings pooled, CPU per pair the median of the
    rounds (a busy machine inflates some rounds; the median is what a quiet round costs)."""
    merged = dict(runs[0])
    for key in ("place", "cancel", "burst_place", "burst_cancel"):
        merged[key] = [x for r in runs for x in r[key]]
    merged["cpu_rounds"] = [r["cpu_per_pair"] for r in runs]
    merged["cpu_per_pair"] = statistics.median(merged["cpu_rounds"])
    sims = [r["sim_cpu_per_pair"] for r in runs if r.get("sim_cpu_per_pair") is not None]
    merged["sim_cpu_per_pair"] = statistics.median(sims) if sims else None
    waits = [r.get("throttle_waits") for r in runs]
    merged["throttle_waits"] = None if None in waits else sum(waits)
    merged["rounds"] = len(runs)
    return merged


def report(results: List[dict], out: Any = sys.stdout) -> None:
    rows = []
    for r in results:
        rows.append({"client": r["client"],
                     "place_med": statistics.median(r["place"]), "place_p99": _pct(r["place"], 0.99),
                     "cancel_med": statistics.median(r["cancel"]), "cancel_p99": _pct(r["cancel"], 0.99),
                     "cpu": r["cpu_per_pair"], "sim_cpu": r.get("sim_cpu_per_pair"),
                     "waits": r.get("throttle_waits"), "requests": 2 * r["orders"] * r.get("rounds", 1),
                     "bplace_med": statistics.median(r["burst_place"]), "bplace_p99": _pct(r["burst_place"], 0.99),
                     "bcancel_med": statistics.median(r["burst_cancel"]), "bcancel_p99": _pct(r["burst_cancel"], 0.99)})
    peers = [row for row in rows if row["client"] in PEERS]
    best = {k: min(row[k] for row in peers) for k in ("place_med", "cpu")} if peers else {}
    w = out.write
    n, k = results[0]["orders"], results[0]["in_flight"]
    rounds = results[0].get("rounds", 1)
    w(f"\nBinance spot, embedded exchange in its own process; {n} orders one at a time, then {k} in flight, "
      f"{rounds} round(s) (µs)\n\n")
    w("| client | place→ack med | p99 | cancel→ack med | p99 | client CPU / place+cancel | "
      f"{k} in flight: place med | p99 | cancel med | p99 |\n|---|---|---|---|---|---|---|---|---|---|\n")
    for row in rows:
        w(f"| {row['client']} | {_us(row['place_med'])} | {_us(row['place_p99'])} | {_us(row['cancel_med'])} | "
          f"{_us(row['cancel_p99'])} | {_us(row['cpu'])} | {_us(row['bplace_med'])} | {_us(row['bplace_p99'])} | "
          f"{_us(row['bcancel_med'])} | {_us(row['bcancel_p99'])} |\n")
    if any(row["sim_cpu"] is not None for row in rows):
        w("\nthe sim's own CPU per place + cancel while it served that client alone (server side: "
          "order handling, and the user-data events it pushes to hbconnect; the peers read none)\n\n"
          "| client | sim CPU / place+cancel |\n|---|---|\n")
        for row in rows:
            w(f"| {row['client']} | {_us(row['sim_cpu']) if row['sim_cpu'] is not None else 'n/a'} |\n")
    if any(row["waits"] is not None for row in rows):
        w("\nrequests of the one-at-a-time phase that waited on the client's own rate limiter (the "
          "budget the sim enforces had room throughout: any wait here is the throttler's own doing)\n\n"
          "| client | waited / requests |\n|---|---|\n")
        for row in rows:
            if row["waits"] is not None:
                w(f"| {row['client']} | {row['waits']} / {row['requests']} |\n")
    if best:
        w("\nratios to the best peer (ccxt / python-binance); targets: CPU ≤ 0.20, place med ≤ 0.50; "
          "and p99 cancel / median cancel ≤ 3\n\n| client | CPU ratio | place med ratio | p99/med cancel |\n"
          "|---|---|---|---|\n")
        for row in rows:
            w(f"| {row['client']} | {row['cpu'] / best['cpu']:.2f} | {row['place_med'] / best['place_med']:.2f} | "
              f"{row['cancel_p99'] / row['cancel_med']:.1f} |\n")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=200, help="orders placed and cancelled one at a time")
    ap.add_argument("--in-flight", type=int, default=100, help="orders in flight at once")
    ap.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=CLIENTS + EXTRA_CLIENTS)
    ap.add_argument("--json", help="write the raw timings here")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the clients in turn this many times; timings pooled, CPU the median of the rounds")
    ap.add_argument("--profile-dir", help="cProfile each client's one-at-a-time phase into DIR/<client>.prof")
    ap.add_argument("--uvloop", action="store_true", help="clients run on uvloop (optional extra)")
    # worker mode (internal)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--rest", help=argparse.SUPPRESS)
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--secret-env", help=argparse.SUPPRESS)
    ap.add_argument("--sim-pid", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        from hbconnect.core.loop import run as run_loop
        profile = os.path.join(args.profile_dir, f"{args.worker}.prof") if args.profile_dir else None
        result = run_loop(run_client(args.worker, args.rest, args.ws, args.key, os.environ[args.secret_env],
                                        args.orders, args.in_flight, profile, args.sim_pid), fast=args.uvloop)
        print(json.dumps(result))
        return 0

    key, secret = "bench" + secrets.token_hex(24), secrets.token_hex(32)
    port = _free_port()
    env = dict(os.environ, HBCONNECT_BENCH_SECRET=secret)
    sim_cmd = [sys.executable, "-m", "hbconnect", "sim", "--no-agent", "--port", str(port), "--pairs", PAIR,
               "--perp-pairs", "--api-key", key, "--api-secret", secret, "--orders-per-10s", str(ORDER_LIMIT),
               "--balance", "USDT=100000000", "--balance", "BTC=100"]
    tmp = tempfile.TemporaryDirectory()
    if any(name.startswith("hbconnect-ws-ed25519") for name in args.clients):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        private = ed25519.Ed25519PrivateKey.generate()
        env[ED25519_PEM_ENV] = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()
        public_file = os.path.join(tmp.name, "ed25519.pub.pem")
        with open(public_file, "wb") as f:
            f.write(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
        sim_cmd += ["--ed25519-account", f"{ED25519_KEY_PREFIX}{key}={public_file}"]
    sim = subprocess.Popen(sim_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert sim.stdout is not None
        for line in sim.stdout:
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise SystemExit("hbconnect sim did not start")
        # keep draining what the sim prints, so it never blocks on a full pipe
        threading.Thread(target=sim.stdout.read, daemon=True).start()
        rest, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        runs: Dict[str, List[dict]] = {}
        for round_no in range(args.rounds):  # the clients take turns, round after round
            for name in args.clients:
                cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--rest", rest, "--ws", ws,
                       "--key", key, "--secret-env", "HBCONNECT_BENCH_SECRET", "--orders", str(args.orders),
                       "--in-flight", str(args.in_flight), "--sim-pid", str(sim.pid)]
                if args.profile_dir:
                    os.makedirs(args.profile_dir, exist_ok=True)
                    cmd += ["--profile-dir", args.profile_dir]
                if args.uvloop:
                    cmd.append("--uvloop")
                done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    print(f"{name}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
                    continue
                runs.setdefault(name, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"{name}: round {round_no + 1} done", file=sys.stderr)
    finally:
        tmp.cleanup()
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
    results = [merge_rounds(r) for r in runs.values()]
    if not results:
        return 1
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
