"""HashKey Global spot and perpetual (public stream v1): pure translation (no I/O).

Sources: HashKey Global API docs, "Websocket API" (https://hashkeyglobal-apidoc.readme.io/reference/websocket-api:
public stream ``wss://stream-glb.hashkey.com/quote/ws/v1``; the client sends ``{"ping": ms}`` about
every 10 s and gets ``{"pong": ms}``; two unanswered server pings close the link), "Public Stream"
(subscribe ``{"topic", "event": "sub", "params"}``, success answered with the same frame plus
``"code":"0"``, failure with a non-zero ``code``; unsubscribe is ``"event":"cancel"``), and the
venue catalog's HashKey row (``{"topic":"depth","symbol":..}`` pushes full top-of-book snapshots;
REST ``GET /quote/v1/depth``).

* ``depth``: every push ``{"symbol", "topic":"depth", "data":[{"s","t","v","b","a"}]}`` is the
  whole top of the book (``b``/``a`` ``[price, qty]`` strings, ``t`` ms): :attr:`SyncRule.SNAPSHOTS`,
  ``t`` orders them (an older push arriving late is dropped by the tracker). There is no id to
  reveal a lost push, and none is needed: the next push replaces the book.
* ``trade``: ``data`` rows ``{"v": id, "t", "p", "q", "m"}``; ``m`` true means the buyer is the
  maker, so the taker sold.
* Symbols: spot ``BTCUSDT``, perpetual ``BTCUSDT-PERPETUAL``.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookSnapshot, DiffFrame, Heartbeat, MarketEvent, ParseError, RestRequest, SyncRule, Trade,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://stream-glb.hashkey.com/quote/ws/v1"
REST_URL = "https://api-glb.hashkey.com"
DEPTH_PATH = "/quote/v1/depth"


def _spot(pair: str) -> str:
    return concat_symbol(pair)


def _perp(pair: str) -> str:
    return concat_symbol(pair) + "-PERPETUAL"


class HashKeyMarketData(c.TableSymbols, c.MarketDataBase):
    """``MarketDataVenue`` for HashKey Global spot or perpetual (snapshot-only ``depth``)."""

    sync_rule = SyncRule.SNAPSHOTS
    max_pairs_per_connection = 50
    ping_interval = 10.0  # "recommended to ping the server every 10s"
    ping_message = '{"ping":0}'  # the venue answers any ping with its own time

    def __init__(self, name: str, perpetual: bool, ws_url: str = WS_URL, rest_url: str = REST_URL) -> None:
        self.name = name
        self.perpetual = perpetual
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.instruments = InstrumentTable(name, spell=_perp if perpetual else _spot)
        #: ``depth`` pushes (whole books, ``t`` orders them), for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=c.load_json, parse_decoded=self.parse_decoded, symbols=None, envelope=("data", 0), event_key=None,
            event=None, symbol_key="s", first_key=None, last_key="t", bids_key="b", asks_key="a", time_key="t",
            time_required=True, match=(("topic", "depth"),), absent=("code", "event"), check_levels=True,
            int_text=True, snapshot=True)



    # ---- connection ----

    def _ops(self, event: str, pairs: Sequence[str], trades: bool = True) -> list[str]:
        out = []
        for p in pairs:
            sym = self.to_venue_symbol(p)
            for topic in (("depth", "trade") if trades else ("depth",)):
                out.append(c.dumps({"symbol": sym, "topic": topic, "event": event,
                                    "params": {"binary": False}}))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("sub", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("cancel", pairs)

    def resync_messages(self, pair: str) -> list[str]:
        return self._ops("cancel", [pair], False) + self._ops("sub", [pair], False)

    def rest_snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(self.rest_url + DEPTH_PATH, {"symbol": self.to_venue_symbol(pair)})

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        """A REST ``/quote/v1/depth`` body ``{"t", "b", "a"}``."""
        d = c.as_dict(c.load_json(body), "hashkey depth")
        if "code" in d and "b" not in d:
            raise ParseError(f"hashkey depth: error body {c.excerpt(d, 80)}")
        return _book(pair, d)

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, c.load_json(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "hashkey frame")
        topic = msg.get("topic")
        if "code" in msg or msg.get("event") in ("sub", "cancel"):
            if str(msg.get("code", "0")) != "0":
                logger.warning("hashkey %s failed: %s", msg.get("event"), c.excerpt(msg, 200))
            return []
        if topic == "depth":
            return [self._depth(d) for d in c.as_list(msg.get("data"), "data")]
        if topic == "trade":
            return self._trades(msg)
        if "pong" in msg or "ping" in msg:
            return [Heartbeat()]
        raise ParseError(f"hashkey: unknown frame {c.excerpt(msg, 80)}")

    def _depth(self, item: Any) -> BookSnapshot:
        d = c.as_dict(item, "depth")
        return _book(self.from_venue_symbol(c.as_str(d.get("s"), "s")), d)

    def _trades(self, msg: dict) -> list[MarketEvent]:
        pair = self.from_venue_symbol(c.as_str(msg.get("symbol"), "symbol"))
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("data"), "data"):
            t = c.as_dict(item, "trade")
            out.append(Trade(pair, c.as_str(t.get("v"), "v"), c.as_str(t.get("p"), "p"),
                             c.as_str(t.get("q"), "q"), c.buyer_maker_side(t.get("m"), "hashkey m"),
                             c.ms_to_seconds(t.get("t"), "t")))
        return out


def _book(pair: str, d: dict) -> BookSnapshot:
    """A whole book ``{"t", "b", "a"}`` (a depth push's data row, or the REST body)."""
    t = c.as_int(d.get("t"), "t")
    return BookSnapshot(pair, c.levels(d.get("b"), "b"), c.levels(d.get("a"), "a"), t, t / 1000.0)


MARKET_DATA: dict[str, Any] = {
    "hashkey": HashKeyMarketData("hashkey", perpetual=False),
    "hashkey_perpetual": HashKeyMarketData("hashkey_perpetual", perpetual=True),
}
