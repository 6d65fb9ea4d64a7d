"""KuCoin spot and futures market data: pure translation (no I/O).

Connection (KuCoin "Apply connect token"): before each connection ``POST /api/v1/bullet-public``
(spot on api.kucoin.com, futures on api-futures.kucoin.com) answers ``data.token`` and
``data.instanceServers[].endpoint/pingInterval``; connect to ``endpoint?token=..&connectId=..``
and send ``{"id": .., "type": "ping"}`` every ``pingInterval`` ms.

Spot book (KuCoin "Level2 Market Data", the calibration procedure): cache ``/market/level2``
changes, fetch the REST snapshot (``sequence``), drop messages with ``sequenceEnd <= sequence``,
a message is in line when ``sequenceStart <= previous sequenceEnd + 1`` (else a gap: new
snapshot); changes are applied in the order of their own sequence, a change with price "0" only
advances the sequence, size "0" deletes the level. Sync rule: SEQ_RANGE.

Spot snapshot source (``KucoinSpotMarketData(snapshot_depth=...)``):

* ``100`` (the default) or ``20``: the public partial book ``GET
  /api/v1/market/orderbook/level2_<N>``, no API key needed. The book is kept to N levels
  (``max_depth``): the top of the book is exact, but a level that was deeper than N when the
  snapshot was taken (or was cut off since) is unknown until the next snapshot, so when the top
  levels empty the deepest ones can be missing (Hummingbot has the same limit).
* ``None``: the full book ``GET /api/v3/market/orderbook/level2`` (what the recorded session
  used). KuCoin serves it only to API-key signed requests: the request has ``auth=True`` and the
  tracker signs it (KC-API-* headers, :meth:`KucoinSpotMarketData.sign_request`) with the
  account's ``Credentials`` — ``OrderBookTracker(venue, pairs, credentials=...)``, the object the
  trading engine signs with (registry id ``kucoin_full_book``).

Symbols map back to pairs through the instrument table only: the symbols listing (``GET
/api/v1/symbols``: ``symbol`` "BCHSV-USDT" is ``name`` "BSV-USDT", the pair; the contracts
listing for futures; ``load_symbols``) or the symbol of a pair asked for. Any other symbol is an
``UnknownSymbol`` (a ``ParseError``), never split on the "-".

Limits: at most 100 symbols in one topic, 100 client messages per 10 s per connection
(``ws_message_rate``), 300 subscriptions per connection.

Futures book (``/contractMarket/level2``): each message has one ``sequence`` and one change
``"price,side,size"``; the REST snapshot ``GET /api/v1/level2/snapshot`` carries ``sequence``;
messages must be contiguous (``sequence == previous + 1``). That is SEQ_RANGE with
``first_id == last_id == sequence``.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any, Optional, Sequence, Union

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    TableSymbols,
    as_dict,
    as_int,
    as_list,
    as_str,
    chunked,
    dumps,
    load_json,
    listed_instruments,
    load_json_exact,
    split_pair,
    to_seconds,
)
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Heartbeat,
    Ignored,
    MarketEvent,
    RestRequest,
    SyncRule,
    Trade,
    WsEndpoint,
)

log = logging.getLogger(__name__)

SPOT_REST = "https://api.kucoin.com"
FUTURES_REST = "https://api-futures.kucoin.com"
MAX_SYMBOLS_PER_TOPIC = 100  # KuCoin: at most 100 symbols in one topic


class _KucoinBase(MarketDataBase):
    """The bullet-token connection, topic subscriptions, frame dispatch and REST snapshot body
    shared by spot and futures; subclasses name their topics and translate their messages."""

    sync_rule = SyncRule.SEQ_RANGE
    rest_url = ""
    ws_message_rate = 10.0  # KuCoin: 100 messages to the server per 10 s
    topics: tuple[str, ...] = ()  # book topic, trade topic
    symbols_per_topic = MAX_SYMBOLS_PER_TOPIC
    snapshot_time: tuple[str, float] = ("time", 1e3)  # REST snapshot time field and its unit

    def __init__(self) -> None:
        # request ids of subscribe / unsubscribe messages: a plain int, because the registry
        # deep-copies venue objects and itertools objects stop being copyable in Python 3.14
        self._last_id = 0

    def connect_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v1/bullet-public", method="POST")

    def ws_endpoint(self, connect_response: Optional[bytes] = None) -> WsEndpoint:
        if connect_response is None:
            raise ParseError("kucoin: a bullet-public token is needed to connect")
        body = as_dict(load_json(connect_response), "kucoin bullet")
        if str(body.get("code")) != "200000":
            raise ParseError(f"kucoin bullet error {body.get('code')!r}: {body.get('msg')!r:.80}")
        data = as_dict(body.get("data"), "kucoin bullet data")
        token = as_str(data.get("token"), "kucoin token")
        servers = as_list(data.get("instanceServers"), "kucoin instanceServers")
        if not servers:
            raise ParseError("kucoin: bullet answered no instance server")
        server = as_dict(servers[0], "kucoin instance server")
        endpoint = as_str(server.get("endpoint"), "kucoin endpoint")
        interval = server.get("pingInterval", 18000)
        if type(interval) not in (int, float):
            raise ParseError(f"kucoin: bad pingInterval {interval!r:.20}")
        ping_interval = to_seconds(interval, 1000.0, "kucoin pingInterval")
        if ping_interval <= 0:
            raise ParseError(f"kucoin: bad pingInterval {interval!r:.20}")
        connect_id = uuid.uuid4().hex
        return WsEndpoint(
            f"{endpoint}?token={token}&connectId={connect_id}",
            ping_interval=ping_interval,
            ping_message=dumps({"id": connect_id, "type": "ping"}),
        )

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _topic_msgs(self, kind: str, pairs: Sequence[str]) -> list[str]:
        syms = [self.to_venue_symbol(p) for p in pairs]
        return [
            dumps({"id": self._next_id(), "type": kind, "topic": f"{topic}:{','.join(batch)}",
                   "privateChannel": False, "response": True})
            for topic in self.topics
            for batch in chunked(syms, self.symbols_per_topic)
        ]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._topic_msgs("subscribe", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._topic_msgs("unsubscribe", pairs)

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        data = _rest_data(body, f"{self.name} level2 snapshot")
        field, unit = self.snapshot_time
        return BookSnapshot(
            pair, _rows(data.get("bids"), "kucoin bids"), _rows(data.get("asks"), "kucoin asks"),
            as_int(data.get("sequence"), "kucoin sequence"),
            to_seconds(data.get(field), unit, "kucoin snapshot time"),
        )

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = load_json(raw)
        if type(msg) is not dict:
            raise ParseError(f"kucoin: unexpected frame {str(raw)[:80]!r}")
        kind = msg.get("type")
        if kind == "message":
            topic = msg.get("topic")
            if type(topic) is not str:
                raise ParseError(f"kucoin: message without topic {str(raw)[:80]!r}")
            return self._message(topic, as_dict(msg.get("data"), f"kucoin {topic} data"))
        if kind == "pong":
            return [Heartbeat()]
        if kind in ("welcome", "ack"):
            return []
        if kind == "error":
            log.warning("kucoin error %s: %s", msg.get("code"), msg.get("data"))
            return []
        raise ParseError(f"kucoin: unknown frame {str(raw)[:80]!r}")

    def _message(self, topic: str, data: dict) -> list[MarketEvent]:
        raise NotImplementedError


def spell_spot(pair: str) -> str:
    return concat_symbol(pair, "-")  # the venue writes BTC-USDT


class KucoinSpotMarketData(TableSymbols, _KucoinBase):
    """KuCoin spot: ``/market/level2`` changes against a REST ``sequence``."""

    name = "kucoin"
    rest_url = SPOT_REST
    max_pairs_per_connection = 50  # 2 subscriptions per pair; KuCoin caps topics per session
    topics = ("/market/level2", "/market/match")
    credential_fields = ("api_key", "secret", "passphrase")  # KC-API-KEY, -SIGN, -PASSPHRASE

    def __init__(self, snapshot_depth: Optional[int] = 100) -> None:
        """``snapshot_depth``: 100 or 20 for the public partial book (the book keeps that many
        levels), None for the full book, which needs API-key signed snapshot requests."""
        super().__init__()
        if snapshot_depth not in (None, 20, 100):
            raise ValueError("KuCoin snapshot_depth: 20 or 100 (public partial book) or None "
                             "(full book, API-key signed requests)")
        #: ``/market/level2`` changes, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope="data", event_key=None, event=None,
            symbol_key="symbol", first_key="sequenceStart", last_key="sequenceEnd", bids_key="bids",
            asks_key="asks", time_key="time", match=(("type", "message"),),
            match_prefix=(("topic", "/market/level2:"),), levels_key="changes", int_text=True,
            level_sequence=True, missing_side_empty=True)
        self.snapshot_depth = snapshot_depth
        self.max_depth = snapshot_depth
        self.requires_credentials = snapshot_depth is None  # the full book: signed requests only
        self.signed_variant = None if snapshot_depth is None else "kucoin_full_book"
        self.instruments = InstrumentTable(self.name, spell_spot)

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /api/v1/symbols``: ``{"code": "200000", "data": [{"symbol": "BCHSV-USDT", "name":
        "BSV-USDT", ...}]}``; the pair is the ``name`` (what KuCoin shows), the venue symbol the
        ``symbol``."""
        d = as_dict(load_json(body), "kucoin symbols")
        if str(d.get("code")) != "200000":
            raise ParseError(f"kucoin symbols: error body {str(d)[:80]!r}")
        return listed_instruments(d.get("data"), "kucoin symbols", "symbol", sep="-", pair_key="name")

    def sign_request(self, req: RestRequest, credentials: Any, now: float) -> RestRequest:
        """KuCoin API-key headers (KuCoin docs, "Authentication": KC-API-SIGN = base64
        HMAC-SHA256 of ``timestamp + METHOD + endpoint (with the query, not URL-encoded) + body``
        keyed by the secret; KC-API-PASSPHRASE = base64 HMAC-SHA256 of the passphrase, key
        version 2; KC-API-TIMESTAMP in ms), with the account's ``Credentials``."""
        ts = str(int(now * 1000))
        path = req.url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        query = "&".join(f"{k}={v}" for k, v in req.params.items())
        endpoint = f"{path}?{query}" if query else path
        headers = dict(req.headers)
        headers.update({
            "KC-API-KEY": credentials.api_key,
            "KC-API-SIGN": credentials.hmac_sha256_base64(ts + req.method.upper() + endpoint + (req.body or "")),
            "KC-API-TIMESTAMP": ts,
            "KC-API-PASSPHRASE": credentials.hmac_sha256_base64(credentials.passphrase),
            "KC-API-KEY-VERSION": "2",
        })
        return dataclasses.replace(req, headers=headers)

    def snapshot_request(self, pair: str) -> RestRequest:
        sym = self.to_venue_symbol(pair)
        if self.snapshot_depth is None:
            # the full book: KuCoin answers it only to an API-key signed request (weight 3)
            return RestRequest(f"{self.rest_url}/api/v3/market/orderbook/level2", {"symbol": sym},
                               weight=3, auth=True)
        return RestRequest(
            f"{self.rest_url}/api/v1/market/orderbook/level2_{self.snapshot_depth}", {"symbol": sym},
            weight=2 if self.snapshot_depth == 20 else 4,
        )


    def _message(self, topic: str, data: dict) -> list[MarketEvent]:
        if topic.startswith("/market/level2:"):
            changes = as_dict(data.get("changes"), "kucoin changes")
            return [BookDiff(
                self.from_venue_symbol(as_str(data.get("symbol"), "kucoin symbol")),
                _changes(changes.get("bids"), "kucoin bids"),
                _changes(changes.get("asks"), "kucoin asks"),
                as_int(data.get("sequenceStart"), "kucoin sequenceStart"),
                as_int(data.get("sequenceEnd"), "kucoin sequenceEnd"),
                None, _ms(data.get("time")),
            )]
        if topic.startswith("/market/match:"):
            side = data.get("side")
            if side not in ("buy", "sell"):
                raise ParseError(f"kucoin: bad trade side {side!r:.20}")
            return [Trade(
                self.from_venue_symbol(as_str(data.get("symbol"), "kucoin symbol")),
                str(data.get("tradeId", "")), as_str(data.get("price"), "kucoin price"),
                as_str(data.get("size"), "kucoin size"), side, _ns(data.get("time")),
            )]
        return [Ignored(f"topic {topic[:60]}")]  # ticker, candles, ...: not subscribed here


class KucoinPerpetualMarketData(TableSymbols, _KucoinBase):
    """KuCoin futures: ``/contractMarket/level2`` (contiguous ``sequence``) against
    ``/api/v1/level2/snapshot``."""

    name = "kucoin_perpetual"
    rest_url = FUTURES_REST
    max_pairs_per_connection = 50  # one topic per pair and channel
    topics = ("/contractMarket/level2", "/contractMarket/execution")
    symbols_per_topic = 1
    snapshot_time = ("ts", 1e9)

    _CODES = {"BTC": "XBT"}
    _BACK = {"XBT": "BTC"}
    #: ``type`` of perpetual contracts in KuCoin's contract listing (FFICSX: delivery futures)
    PERPETUAL = "FFWCSX"

    def __init__(self) -> None:
        super().__init__()
        self.instruments = InstrumentTable(self.name, self._spell)

    @classmethod
    def _spell(cls, pair: str) -> str:
        base, quote = split_pair(pair)
        suffix = "M"  # linear (USDT/USDC) and inverse (USD) perpetuals both end in M
        return f"{cls._CODES.get(base, base)}{quote}{suffix}"

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """The perpetuals of ``GET /api/v1/contracts/active``: ``{"code": "200000", "data":
        [{"symbol": "XBTUSDTM", "type": "FFWCSX", "baseCurrency": "XBT", "quoteCurrency": "USDT",
        ...}]}``; KuCoin's XBT is the registry's BTC."""
        d = as_dict(load_json(body), "kucoin contracts")
        if str(d.get("code")) != "200000":
            raise ParseError(f"kucoin contracts: error body {str(d)[:80]!r}")
        rows = [r for r in as_list(d.get("data"), "kucoin contracts") if type(r) is not dict or r.get("type") == self.PERPETUAL]
        return [dataclasses.replace(ins, pair=f"{self._BACK.get(ins.base, ins.base)}-{ins.quote}",
                                    base=self._BACK.get(ins.base, ins.base))
                for ins in listed_instruments(rows, "kucoin contracts", "symbol", "baseCurrency", "quoteCurrency")]


    def snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v1/level2/snapshot",
                           {"symbol": self.to_venue_symbol(pair)}, weight=3)


    def _message(self, topic: str, data: dict) -> list[MarketEvent]:
        if topic.startswith("/contractMarket/level2:"):
            pair = self.from_venue_symbol(topic.split(":", 1)[1])
            seq = as_int(data.get("sequence"), "kucoin sequence")
            change = as_str(data.get("change"), "kucoin change")
            price, side, size = _split3(change)
            level = [[price, size]]
            if side == "buy":
                return [BookDiff(pair, level, [], seq, seq, None, _ms(data.get("timestamp")))]
            if side == "sell":
                return [BookDiff(pair, [], level, seq, seq, None, _ms(data.get("timestamp")))]
            raise ParseError(f"kucoin futures: bad change side {change!r:.40}")
        if topic.startswith("/contractMarket/execution:"):
            side = data.get("side")
            if side not in ("buy", "sell"):
                raise ParseError(f"kucoin futures: bad trade side {side!r:.20}")
            price, size = data.get("price"), data.get("size")
            if type(price) not in (str, int, float) or type(size) not in (str, int, float):
                raise ParseError(f"kucoin futures: bad trade {data!r:.80}")
            return [Trade(
                self.from_venue_symbol(as_str(data.get("symbol"), "kucoin symbol")),
                str(data.get("tradeId", "")), str(price), str(size), side, _ns(data.get("ts")),
            )]
        return [Ignored(f"topic {topic[:60]}")]  # ticker, candles, ...: not subscribed here


# -- helpers ----------------------------------------------------------------------------------
def _rest_data(body: bytes, what: str) -> dict:
    d = load_json_exact(body, what)  # futures snapshots send unquoted numbers: keep their text
    if type(d) is not dict:
        raise ParseError(f"{what}: expected an object")
    if str(d.get("code")) != "200000":
        raise ParseError(f"{what}: error {d.get('code')!r}: {d.get('msg')!r:.80}")
    return as_dict(d.get("data"), what)


def _rows(rows: Any, what: str) -> list:
    out = []
    for row in as_list(rows if rows is not None else [], what):
        if type(row) is not list or len(row) < 2:
            raise ParseError(f"{what}: bad level {row!r:.60}")
        p, s = row[0], row[1]
        if type(p) not in (str, int) or type(s) not in (str, int):
            raise ParseError(f"{what}: bad level {row!r:.60}")
        out.append([p if type(p) is str else str(p), s if type(s) is str else str(s)])
    return out


def _changes(rows: Any, what: str) -> list:
    """Spot changes ``[price, size, sequence]``: ordered by their sequence, price "0" entries
    (sequence-only) dropped, cut to ``[price, size]``."""
    rows = as_list(rows if rows is not None else [], what)
    for row in rows:
        if type(row) is not list or len(row) < 3 or type(row[0]) is not str \
                or type(row[1]) is not str:
            raise ParseError(f"{what}: bad change {row!r:.60}")
    if len(rows) > 1:
        try:
            rows = sorted(rows, key=lambda r: int(r[2]))
        except (TypeError, ValueError):
            raise ParseError(f"{what}: bad change sequence") from None
    return [[r[0], r[1]] for r in rows if r[0] != "0"]


def _split3(change: str) -> tuple[str, str, str]:
    parts = change.split(",")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise ParseError(f"kucoin futures: bad change {change!r:.40}")
    return parts[0], parts[1], parts[2]


def _ms(value: Any) -> float:
    return to_seconds(value, 1e3, "kucoin time")


def _ns(value: Any) -> float:
    return to_seconds(value, 1e9, "kucoin time")


MARKET_DATA: dict = {
    "kucoin": KucoinSpotMarketData(),  # public level2_100 snapshots, no API key
    "kucoin_perpetual": KucoinPerpetualMarketData(),
    # the full book: signed snapshot requests (and what the recorded KuCoin session used)
    "kucoin_full_book": KucoinSpotMarketData(snapshot_depth=None),
}
