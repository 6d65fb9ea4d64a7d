"""NDAX spot: pure translation of NDAX's AlphaPoint WebSocket market data (no I/O).

Sources: NDAX API documentation (``NDAXlO/ndax-api-documentation`` README, "Websocket API":
endpoint ``wss://api.ndax.io/WSGateway/``, the ``{m, i, n, o}`` frame with ``o`` JSON text, the
instrument ids, "Orderbook - Level 2" rows ``[MDUpdateId, AccountId, ActionDateTime, ActionType
(0 new, 1 update, 2 delete), LastTradePrice, OrderId, Price, ProductPairCode (= InstrumentId),
Quantity, Side (0 bid, 1 ask)]``, "Executed Trades" rows ``[TradeId, ProductPairCode, Quantity,
Price, Order1, Order2, TradeTime ms, Direction, TakerSide (0 buy, 1 sell), BlockTrade,
ClientOrderId]``) and the venue catalog's NDAX row (``SubscribeLevel2 {OMSId, InstrumentId,
Depth}`` answered with the snapshot, then ``Level2UpdateEvent`` rows).

* Book: the reply to ``SubscribeLevel2`` (``m`` 1) is the snapshot, ``Level2UpdateEvent``
  (``m`` 3) frames carry changed levels; a level's ``Quantity`` is absolute and ``ActionType`` 2
  removes it. ``MDUpdateId`` "identifies the order in which the update was created": it only
  increases, but the docs do not promise it steps by one per instrument, so ids order updates
  (older ones are stale) and cannot reveal a gap: :attr:`SyncRule.TIMESTAMP`.
* Numbers are JSON numbers inside ``o``; they are kept as their exact text (``_alphapoint``).
* Symbols: NDAX names instruments by ``InstrumentId``; the documented ids are built in and the
  ``GetInstruments`` listing (``load_symbols``) adds the rest. A pair without an id is refused.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

from hbconnect.exchanges import _alphapoint as ap
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import Instrument, InstrumentTable
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, MarketEvent, ParseError, SyncRule, Trade

WS_URL = "wss://api.ndax.io/WSGateway/"
OMS_ID = 1
#: the instrument ids the NDAX API documentation lists ("Instruments")
DOCUMENTED_INSTRUMENTS = {1: "BTC-CAD", 2: "BCH-CAD", 3: "ETH-CAD", 4: "XRP-CAD", 5: "LTC-CAD", 74: "BTC-USD",
                          75: "EOS-CAD", 76: "XLM-CAD", 77: "DOGE-CAD", 78: "ADA-CAD"}
_TAKER = {"0": "buy", "1": "sell"}
_DELETE = "2"


def _no_spelling(pair: str) -> str:
    raise ValueError(f"ndax: no InstrumentId known for {pair!r} (load the GetInstruments listing)")


def _instrument(iid: int, pair: str) -> Instrument:
    base, _, quote = pair.partition("-")
    return Instrument(pair, str(iid), base, quote)


class NdaxMarketData(c.TableSymbols, c.MarketDataBase):
    """``MarketDataVenue`` for NDAX spot (``SubscribeLevel2`` + ``Level2UpdateEvent``)."""

    sync_rule = SyncRule.TIMESTAMP
    max_pairs_per_connection = 50
    ping_interval = 15.0
    #: AlphaPoint ``Ping``; odd ``i`` so it never equals a request's (those are even)
    ping_message = '{"m":0,"i":1,"n":"Ping","o":"{}"}'

    def __init__(self, name: str = "ndax", depth: int = 100, ws_url: str = WS_URL) -> None:
        self.name = name
        self.depth = depth
        self.max_depth = depth  # levels leaving the subscribed depth are not deleted by updates
        self.ws_url = ws_url
        self.instruments = InstrumentTable(name, spell=_no_spelling)
        self.instruments.load(_instrument(i, p) for i, p in DOCUMENTED_INSTRUMENTS.items())
        self.framer = ap.Framer()
        self._l2_requests: dict[int, str] = {}  # request i -> pair, for an empty snapshot reply

    def load_symbols(self, body: Union[str, bytes]) -> int:
        """Learn ``InstrumentId`` <-> pair from a ``GetInstruments`` answer (REST body or WS reply)."""
        data = c.load_json_exact(body, "ndax instruments", int_text=True)
        if type(data) is dict and type(data.get("o")) is str:
            data = c.load_json_exact(data["o"], "ndax instruments payload", int_text=True)
        out = []
        for item in c.as_list(data, "ndax instruments"):
            if type(item) is not dict:
                continue
            base, quote = item.get("Product1Symbol"), item.get("Product2Symbol")
            try:
                iid = c.as_int(item.get("InstrumentId"), "InstrumentId")
            except ParseError:
                continue
            if type(base) is str and type(quote) is str and base and quote:
                out.append(_instrument(iid, f"{base.upper()}-{quote.upper()}"))
        if not out:
            raise ParseError("ndax instruments: none listed")
        self.instruments.load(out, replace=False)
        return len(out)

    # ---- connection ----

    def _payload(self, pair: str) -> dict:
        return {"OMSId": OMS_ID, "InstrumentId": int(self.to_venue_symbol(pair))}

    def _subscribe_l2(self, pair: str) -> str:
        text = self.framer.request("SubscribeLevel2", {**self._payload(pair), "Depth": self.depth})
        if len(self._l2_requests) > 10_000:
            self._l2_requests.clear()
        self._l2_requests[c.load_json(text)["i"]] = pair
        return text

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for p in pairs:
            out.append(self._subscribe_l2(p))
            out.append(self.framer.request("SubscribeTrades", {**self._payload(p), "IncludeLastCount": 1}))
        return out

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for p in pairs:
            out.append(self.framer.request("UnsubscribeLevel2", self._payload(p)))
            out.append(self.framer.request("UnsubscribeTrades", self._payload(p)))
        return out

    def resync_messages(self, pair: str) -> list[str]:
        return [self.framer.request("UnsubscribeLevel2", self._payload(pair)), self._subscribe_l2(pair)]

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        m, n, o = ap.decode(raw, "ndax frame")
        if n == "Level2UpdateEvent" or (n == "SubscribeLevel2" and m == ap.REPLY):
            return self._book(raw, n, o)
        if n in ("TradeDataUpdateEvent", "SubscribeTrades"):
            return self._trades(o)
        if n == "Ping":
            return [Heartbeat()]
        if n in ("UnsubscribeLevel2", "UnsubscribeTrades") or m == ap.ERROR:
            if m == ap.ERROR:
                return self.venue_error(o, None)
            return []
        raise ParseError(f"ndax: unknown frame {c.excerpt(n, 40)}")

    def _book(self, raw: Any, n: str, rows: Any) -> list[MarketEvent]:
        rows = c.as_list(rows, "ndax level2")
        pair = None
        bids: list = []
        asks: list = []
        ids = []
        for row in rows:
            r = c.as_list(row, "ndax level2 row")
            if len(r) < 10:
                raise ParseError(f"ndax: short level2 row {c.excerpt(r, 80)}")
            p = self.from_venue_symbol(c.as_str(r[7], "ProductPairCode"))
            if pair is None:
                pair = p
            elif p != pair:
                raise ParseError("ndax: rows of several instruments in one frame")
            price, qty, side = c.as_str(r[6], "Price"), c.as_str(r[8], "Quantity"), r[9]
            if side not in ("0", "1"):
                raise ParseError(f"ndax: bad side {c.excerpt(side, 20)}")
            (bids if side == "0" else asks).append([price, "0" if r[3] == _DELETE else qty])
            ids.append(c.as_int(r[0], "MDUpdateId"))
        if n == "SubscribeLevel2":
            if pair is None:
                pair = self._l2_requests.get(c.load_json(raw).get("i"))
                if pair is None:
                    raise ParseError("ndax: empty Level2 snapshot for an unknown request")
            return [BookSnapshot(pair, [b for b in bids if b[1] != "0"], [a for a in asks if a[1] != "0"],
                                 max(ids, default=0))]
        if pair is None:
            return []
        return [BookDiff(pair, bids, asks, min(ids), max(ids))]

    def _trades(self, rows: Any) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for row in c.as_list(rows, "ndax trades"):
            r = c.as_list(row, "ndax trade")
            if len(r) < 9:
                raise ParseError(f"ndax: short trade row {c.excerpt(r, 80)}")
            out.append(Trade(self.from_venue_symbol(c.as_str(r[1], "ProductPairCode")),
                             str(c.as_int(r[0], "TradeId")), c.as_str(r[3], "Price"), c.as_str(r[2], "Quantity"),
                             c.trade_side(r[8], _TAKER, "ndax"), c.ms_to_seconds(r[6], "TradeTime")))
        return out


MARKET_DATA: dict[str, Any] = {"ndax": NdaxMarketData()}
