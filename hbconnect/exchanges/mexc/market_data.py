"""MEXC spot market data (WebSocket v3, protobuf pushes): pure translation, no I/O.

Facts, from MEXC's spot v3 documentation (coincise ``docs/mexc/spot/public_websocket_api.md``
unless noted):

* Endpoint ``wbs-api.mexc.com/ws`` (written ``ws://`` in the doc; served over TLS as ``wss://``);
  a connection lives at most 24 hours; at most 30 subscriptions per connection; without data the
  server closes after a minute, so the client sends ``{"method": "PING"}`` (answered
  ``{"id":0,"code":0,"msg":"PONG"}``). Requests: ``{"method": "SUBSCRIPTION" | "UNSUBSCRIPTION",
  "params": [...]}``, acknowledged ``{"id":0,"code":0,"msg":"<channel>"}``. Websocket limit:
  100 messages per second (``docs/mexc/rate_limits.md``).
* Pushes are protobuf ``PushDataV3ApiWrapper`` messages (MEXC's published ``.proto`` files,
  compiled into :mod:`hbconnect.exchanges.mexc.proto`): ``channel``, ``symbol``, ``sendTime`` and
  one body.
* Book: ``spot@public.aggre.depth.v3.api.pb@(100ms|10ms)@<SYMBOL>`` (body
  ``publicAggreDepths``: ``asks``/``bids`` of ``{price, quantity}`` with absolute quantities, 0
  deletes; ``fromVersion``/``toVersion``), aligned with ``GET /api/v3/depth?symbol=&limit=1000``
  (``lastUpdateId``; weight 1, ``docs/mexc/endpoints/private/get_api_v3_depth.md``) following
  "How to Properly Maintain a Local Copy of the Order Book": each push's ``fromVersion`` is the
  previous ``toVersion + 1`` (else re-initialise), pushes with ``toVersion`` below the snapshot
  version are dropped, the first used push holds the snapshot version: SyncRule.SEQ_RANGE.
* Trades: ``spot@public.aggre.deals.v3.api.pb@(100ms|10ms)@<SYMBOL>`` (body ``publicAggreDeals``:
  ``price``, ``quantity``, ``tradeType`` 1 buy / 2 sell, ``time`` ms, ``tradeId``).
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Union

from hbconnect.core.codecs import DecodeError, decode_protobuf, register_protobuf
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.exchanges.mexc.proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    MarketEvent,
    ParseError,
    RestRequest,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

WS_URL = "wss://wbs-api.mexc.com/ws"
REST_URL = "https://api.mexc.com"
DEPTH_CHANNEL = "spot@public.aggre.depth.v3.api.pb@{speed}@{symbol}"
DEALS_CHANNEL = "spot@public.aggre.deals.v3.api.pb@{speed}@{symbol}"
SUBSCRIPTIONS_PER_CONNECTION = 30
SNAPSHOT_LIMIT = 1000
PROTO_NAME = "mexc.PushDataV3ApiWrapper"
TRADE_SIDES = {1: "buy", 2: "sell"}

register_protobuf(PROTO_NAME, PushDataV3ApiWrapper.FromString)


def _levels(items: Any, what: str) -> list:
    out = []
    for item in items:
        price, qty = item.price, item.quantity
        if not price or not qty:
            raise ParseError(f"mexc: {what} level without price or quantity")
        out.append([price, qty])
    return out


def _version(text: str, what: str) -> int:
    if not text.isdigit():
        raise ParseError(f"mexc: {what} is not a version number: {c.excerpt(text, 30)}")
    return int(text)


class MexcMarketData(c.TableSymbols, c.MarketDataBase):
    name = "mexc"
    sync_rule = SyncRule.SEQ_RANGE
    max_pairs_per_connection = SUBSCRIPTIONS_PER_CONNECTION // 2  # depth + deals per pair
    ws_message_rate = 100.0
    ping_interval = 20.0  # the server closes a connection without data after a minute
    ping_message = c.dumps({"method": "PING"})

    def __init__(self, speed: str = "100ms", ws_url: str = WS_URL, rest_url: str = REST_URL) -> None:
        if speed not in ("100ms", "10ms"):
            raise ValueError(f"mexc aggregated streams come at 100ms or 10ms, not {speed!r}")
        self.speed = speed
        self.ws_url = ws_url
        self.rest_url = rest_url
        self.instruments = InstrumentTable(self.name)  # BTC-USDT <-> BTCUSDT

    def _channels(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            symbol = self.to_venue_symbol(pair)
            out.append(DEPTH_CHANNEL.format(speed=self.speed, symbol=symbol))
            out.append(DEALS_CHANNEL.format(speed=self.speed, symbol=symbol))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return [c.dumps({"method": "SUBSCRIPTION", "params": chunk})
                for chunk in c.chunked(self._channels(pairs), SUBSCRIPTIONS_PER_CONNECTION)]

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return [c.dumps({"method": "UNSUBSCRIPTION", "params": chunk})
                for chunk in c.chunked(self._channels(pairs), SUBSCRIPTIONS_PER_CONNECTION)]

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /api/v3/exchangeInfo``: ``{"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC",
        "quoteAsset": "USDT", ...}], ...}`` (MEXC spot v3, "Exchange Information")."""
        msg = c.as_dict(c.load_json(body), "mexc exchangeInfo")
        return c.listed_instruments(msg.get("symbols"), "mexc exchangeInfo", "symbol", "baseAsset", "quoteAsset")

    # -- snapshot ---------------------------------------------------------------------------
    def snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(self.rest_url + "/api/v3/depth",
                           {"symbol": self.to_venue_symbol(pair), "limit": SNAPSHOT_LIMIT})

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        msg = c.as_dict(c.load_json_exact(body, f"mexc {pair} depth", int_text=True), "mexc depth")
        if "lastUpdateId" not in msg:
            raise ParseError(f"mexc {pair}: depth error {c.excerpt(msg.get('code'), 20)}: "
                             f"{c.excerpt(msg.get('msg'), 80)}")
        return BookSnapshot(pair, c.levels(msg.get("bids"), "mexc bids"), c.levels(msg.get("asks"), "mexc asks"),
                            c.as_int(msg["lastUpdateId"], "mexc lastUpdateId"),
                            c.ms_to_seconds(msg.get("timestamp")))

    # -- frames -----------------------------------------------------------------------------
    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        if isinstance(raw, str) or bytes(raw[:1]) == b"{":
            return self._control(c.load_json(raw))
        try:
            push = decode_protobuf(PROTO_NAME, bytes(raw))
        except DecodeError as exc:
            raise ParseError(f"mexc: {exc}") from None
        body = push.WhichOneof("body")
        symbol = push.symbol or push.channel.rpartition("@")[2]
        ts = push.sendTime / 1000.0
        if body == "publicAggreDepths":
            d = push.publicAggreDepths
            pair = self.from_venue_symbol(symbol)
            first = _version(d.fromVersion, "fromVersion")
            last = _version(d.toVersion, "toVersion")
            if first > last:
                raise ParseError(f"mexc: fromVersion {first} above toVersion {last}")
            return [BookDiff(pair, _levels(d.bids, "bid"), _levels(d.asks, "ask"), first, last, None, ts)]
        if body == "publicAggreDeals":
            pair = self.from_venue_symbol(symbol)
            out: list[MarketEvent] = []
            for deal in push.publicAggreDeals.deals:
                side = TRADE_SIDES.get(deal.tradeType)
                if side is None or not deal.price or not deal.quantity:
                    raise ParseError(f"mexc: bad deal for {pair} (tradeType {deal.tradeType})")
                out.append(Trade(pair, deal.tradeId or str(deal.time), deal.price, deal.quantity, side,
                                 deal.time / 1000.0))
            return out
        if body is None:
            raise ParseError(f"mexc: push without a body: {c.excerpt(raw, 60)}")
        return [Ignored(f"channel {c.excerpt(push.channel, 60)}")]  # not subscribed here

    def _control(self, msg: Any) -> list[MarketEvent]:
        msg = c.as_dict(msg, "mexc control frame")
        code = msg.get("code")
        text = msg.get("msg")
        if code == 0 and text == "PONG":
            return [Heartbeat()]
        if code == 0 and type(text) is str:
            return []  # (un)subscription acknowledged
        if "code" in msg:
            log.warning("mexc: request refused (%s): %s", c.excerpt(code, 20), c.excerpt(text, 160))
            return []
        raise ParseError(f"mexc: unknown frame {c.excerpt(msg, 80)}")


MARKET_DATA: dict = {"mexc": MexcMarketData()}
