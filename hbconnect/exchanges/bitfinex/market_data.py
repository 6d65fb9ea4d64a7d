"""Bitfinex spot market data (WebSocket v2): pure translation, no I/O.

Facts, from Bitfinex's documentation:

* Public WebSocket ``wss://api-pub.bitfinex.com/ws/2``; 20 public connections per minute, each
  with at most 25 channels (coincise ``docs/bitfinex/network_connectivity.md``, "REST and
  WebSocket").
* Trading pairs are ``t`` + pair, e.g. ``tBTCUSD``; pairs listed by
  ``/v2/conf/pub:list:pair:exchange``; pairs whose currencies are longer than three letters are
  written with a colon, ``tTESTBTC:TESTUSD`` (same file, "Symbols").
* ``{"event":"conf","flags":F}``: flag 65536 puts a per-connection sequence number as the last
  element of every channel message; flag 131072 makes the server send book checksums
  ``[CHAN_ID, "cs", CHECKSUM]``: signed CRC32 of the top 25 bids and asks interleaved
  ``price:amount`` (asks with their negative amounts) (docs.bitfinex.com/docs/ws-websocket-checksum;
  the book core's ``checksum_bitfinex``). We send 65536 + 131072.
* ``book`` (``prec`` P0, ``freq`` F0, ``len`` 25/100): first message the snapshot
  ``[CHAN_ID, [[PRICE, COUNT, AMOUNT], ...]]``, then updates ``[CHAN_ID, [PRICE, COUNT, AMOUNT]]``;
  COUNT 0 removes the level (AMOUNT 1 bids, -1 asks); AMOUNT > 0 bid, < 0 ask
  (docs.bitfinex.com ws-public-books). Heartbeat ``[CHAN_ID, "hb"]``.
* ``trades``: snapshot ``[CHAN_ID, [[ID, MTS, AMOUNT, PRICE], ...]]``, then ``"te"`` (executed) and
  ``"tu"`` (same trade, updated) messages; AMOUNT > 0 the taker bought (ws-public-trades).
* ``info`` 20051: reconnect (server restart); 20060/20061: maintenance start/end (resubscribe
  after the end).

Numbers are JSON numbers: they are parsed keeping their text (checksums are over the text the
server wrote). Sync rule: CHECKSUM (the snapshot is in-band, updates have no ids) together with
the connection sequence (``connection_sequence``): a missing or repeated message on the
connection is found by the sequence even when no checksum follows it (recordings made without
the checksum flag).
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import Instrument, InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Heartbeat,
    MarketEvent,
    ParseError,
    Reconnect,
    RestRequest,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

WS_URL = "wss://api-pub.bitfinex.com/ws/2"
REST_URL = "https://api-pub.bitfinex.com"
FLAG_SEQ_ALL = 65536
FLAG_CHECKSUM = 131072
BOOK_LEN = "100"
CHANNELS_PER_CONNECTION = 25


def spell(pair: str) -> str:
    """``BTC-USD`` -> ``tBTCUSD``; ``TESTBTC-TESTUSD`` -> ``tTESTBTC:TESTUSD``."""
    base, quote = c.split_pair(pair)
    return "t" + concat_symbol(pair, ":" if len(base) != 3 or len(quote) != 3 else "")


def listed_pair(name: Any) -> Instrument:
    """One ``pub:list:pair:exchange`` entry (``BTCUSD`` or ``AAVE:USD``) as an Instrument."""
    if type(name) is not str or not name.isascii():
        raise ParseError(f"bitfinex: bad listed pair {c.excerpt(name, 40)}")
    base, colon, quote = name.partition(":")
    if not colon:
        if len(name) != 6:
            raise ParseError(f"bitfinex: listed pair {c.excerpt(name, 40)} is not 3+3 letters")
        base, quote = name[:3], name[3:]
    if not base or not quote or ":" in quote:
        raise ParseError(f"bitfinex: bad listed pair {c.excerpt(name, 40)}")
    return Instrument(f"{base}-{quote}", "t" + name, base, quote)


def _abs_text(amount: str) -> str:
    return amount[1:] if amount[:1] == "-" else amount


class BitfinexMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bitfinex"
    sync_rule = SyncRule.CHECKSUM
    connection_sequence = True
    sends_checksum = True  # with flag 131072 (always sent by subscribe_messages)
    max_pairs_per_connection = CHANNELS_PER_CONNECTION // 2  # book + trades per pair
    ws_connect_rate = 20 / 60.0  # public connections per second

    def __init__(self, ws_url: str = WS_URL, rest_url: str = REST_URL) -> None:
        self.ws_url = ws_url
        self.rest_url = rest_url
        self.instruments = InstrumentTable(self.name, spell)
        self._chan: dict[int, tuple[str, str]] = {}  # chanId -> ("book" | "trades", pair)
        self._book_chan: dict[str, int] = {}  # pair -> its book chanId
        self._book_pairs: dict[int, str] = {}  # book chanId -> pair (the compiled frame path's table)
        #: book updates and checksums, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=c.load_json, parse_decoded=None, symbols=None, envelope=None, event_key=None, event="cs",
            symbol_key=None, first_key=None, last_key="", bids_key="", asks_key="",
            book_checksum=("checksum_bitfinex", 25), channel_ids=self._book_pairs, single_level=True)

    # -- symbols ------------------------------------------------------------------------------
    def load_symbols(self, body: Union[str, bytes]) -> int:
        """Take a ``pub:list:pair:exchange`` body (``[[pair, ...]]``); ParseError for any other."""
        msg = c.load_json(body)
        if type(msg) is not list or len(msg) != 1 or type(msg[0]) is not list or not msg[0]:
            raise ParseError("bitfinex: not a pair list")
        listed = [listed_pair(name) for name in msg[0]]
        self.instruments.load(listed, replace=False)
        return len(listed)

    # -- subscriptions ------------------------------------------------------------------------
    def _book_sub(self, pair: str) -> str:
        return c.dumps({"event": "subscribe", "channel": "book", "symbol": self.to_venue_symbol(pair),
                        "prec": "P0", "freq": "F0", "len": BOOK_LEN})

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        out = [c.dumps({"event": "conf", "flags": FLAG_SEQ_ALL + FLAG_CHECKSUM})]
        for pair in pairs:
            out.append(self._book_sub(pair))
            out.append(c.dumps({"event": "subscribe", "channel": "trades",
                                "symbol": self.to_venue_symbol(pair)}))
        return out

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        wanted = set(pairs)
        return [c.dumps({"event": "unsubscribe", "chanId": chan})
                for chan, (_, pair) in sorted(self._chan.items()) if pair in wanted]

    def resync_messages(self, pair: str) -> list[str]:
        """Unsubscribe the pair's book channel (when known) and subscribe it again: the new
        channel starts with a fresh snapshot."""
        out = []
        chan = self._book_chan.get(pair)
        if chan is not None:
            out.append(c.dumps({"event": "unsubscribe", "chanId": chan}))
        out.append(self._book_sub(pair))
        return out

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return None  # in-band (REST /v2/book/{symbol}/P0 exists but is not aligned to the stream)

    def checksum(self, book: Any) -> int:
        return book.checksum_bitfinex(25)

    # -- frames -------------------------------------------------------------------------------
    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = c.load_json_exact(raw, "bitfinex", int_text=True)
        if type(msg) is dict:
            return self._event(msg)
        if type(msg) is not list or len(msg) < 2:
            raise ParseError(f"bitfinex: unexpected frame {c.excerpt(raw, 80)}")
        chan = c.as_int(msg[0], "bitfinex chanId")
        body = msg[1]
        seq: Optional[int] = None
        if type(body) is str:  # "hb", "cs", "te", "tu"
            if body == "hb":
                return [Heartbeat(c.as_int(msg[2], "bitfinex seq") if len(msg) > 2 else None)]
            if body == "cs":
                if len(msg) not in (3, 4):
                    raise ParseError(f"bitfinex: bad checksum message {c.excerpt(raw, 80)}")
                seq = c.as_int(msg[3], "bitfinex seq") if len(msg) > 3 else None
            elif body in ("te", "tu"):
                if len(msg) not in (3, 4):
                    raise ParseError(f"bitfinex: bad trade message {c.excerpt(raw, 80)}")
                seq = c.as_int(msg[3], "bitfinex seq") if len(msg) > 3 else None
            else:
                raise ParseError(f"bitfinex: unknown message type {c.excerpt(body, 20)}")
        else:
            if len(msg) not in (2, 3):
                raise ParseError(f"bitfinex: bad channel message {c.excerpt(raw, 80)}")
            seq = c.as_int(msg[2], "bitfinex seq") if len(msg) > 2 else None
        sub = self._chan.get(chan)
        if sub is None:  # a channel we did not subscribe to here (ticker) or just left
            return [Heartbeat(seq)]
        kind, pair = sub
        if kind == "book":
            return [self._book(pair, msg, body, seq)]
        if body == "tu" or body == "cs":
            return [Heartbeat(seq)]  # "tu" repeats a trade already sent as "te"
        if body == "te":
            return [self._trade(pair, msg[2], seq)]
        rows = c.as_list(body, "bitfinex trades snapshot")
        trades = [self._trade(pair, row, seq) for row in reversed(rows)]  # oldest first
        return trades or [Heartbeat(seq)]

    def _book(self, pair: str, msg: list, body: Any, seq: Optional[int]) -> MarketEvent:
        if body == "cs":
            cs = c.as_int(msg[2], "bitfinex checksum")
            if not -(1 << 31) <= cs < (1 << 31):
                raise ParseError(f"bitfinex: checksum out of range {c.excerpt(msg[2], 20)}")
            return BookDiff(pair, [], [], 0, 0, None, 0.0, cs, seq)
        rows = c.as_list(body, "bitfinex book")
        if not rows or type(rows[0]) is list:  # the snapshot: a list of levels
            bids: list = []
            asks: list = []
            for row in rows:
                price, count, amount = self._level(row)
                if count == "0":
                    raise ParseError("bitfinex: snapshot level with count 0")
                (asks if amount[:1] == "-" else bids).append([price, _abs_text(amount)])
            return BookSnapshot(pair, bids, asks, 0, 0.0, None, seq)
        price, count, amount = self._level(rows)
        size = "0" if count == "0" else _abs_text(amount)
        level = [[price, size]]
        if amount[:1] == "-":
            return BookDiff(pair, [], level, 0, 0, None, 0.0, None, seq)
        return BookDiff(pair, level, [], 0, 0, None, 0.0, None, seq)

    @staticmethod
    def _level(row: Any) -> tuple[str, str, str]:
        if type(row) is not list or len(row) != 3 or any(type(v) is not str for v in row):
            raise ParseError(f"bitfinex: bad book level {c.excerpt(row, 60)}")
        price, count, amount = row
        if not count.isdigit() or amount in ("0", "-0"):
            raise ParseError(f"bitfinex: bad book level {c.excerpt(row, 60)}")
        return price, count, amount

    @staticmethod
    def _trade(pair: str, row: Any, seq: Optional[int]) -> Trade:
        if type(row) is not list or len(row) < 4 or any(type(v) is not str for v in row[:4]):
            raise ParseError(f"bitfinex: bad trade {c.excerpt(row, 60)}")
        tid, mts, amount, price = row[:4]
        if not tid.isdigit() or amount in ("0", "-0", "-"):
            raise ParseError(f"bitfinex: bad trade {c.excerpt(row, 60)}")
        side = "sell" if amount[:1] == "-" else "buy"
        return Trade(pair, tid, price, _abs_text(amount), side, c.ms_to_seconds(mts), seq)

    def _event(self, msg: dict) -> list[MarketEvent]:
        event = msg.get("event")
        if event == "subscribed":
            channel = msg.get("channel")
            chan = c.as_int(msg.get("chanId"), "bitfinex chanId")
            if channel in ("book", "trades"):
                pair = self.from_venue_symbol(c.as_str(msg.get("symbol"), "bitfinex symbol"))
                self._chan[chan] = (channel, pair)
                if channel == "book":
                    self._book_chan[pair] = chan
                    self._book_pairs[chan] = pair
                else:
                    self._book_pairs.pop(chan, None)
            return []
        if event == "unsubscribed":
            chan = c.as_int(msg.get("chanId"), "bitfinex chanId")
            sub = self._chan.pop(chan, None)
            self._book_pairs.pop(chan, None)
            if sub is not None and sub[0] == "book" and self._book_chan.get(sub[1]) == chan:
                del self._book_chan[sub[1]]
            return []
        if event == "info":
            code = msg.get("code")
            if code in ("20051", "20061"):  # server restart; maintenance over: resubscribe all
                return [Reconnect(f"bitfinex info {code}: {c.excerpt(msg.get('msg'), 80)}")]
            if code is not None:
                log.warning("bitfinex info %s: %s", c.excerpt(code, 20), c.excerpt(msg.get("msg"), 120))
            return []
        if event == "error":
            log.warning("bitfinex error %s: %s", c.excerpt(msg.get("code"), 20), c.excerpt(msg.get("msg"), 120))
            return []
        if event in ("conf", "pong"):
            return []
        raise ParseError(f"bitfinex: unknown event {c.excerpt(event, 40)}")


MARKET_DATA: dict = {"bitfinex": BitfinexMarketData()}
