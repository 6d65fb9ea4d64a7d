"""Venue symbols come from each venue's instruments listing (or the pairs asked for), never from a
quote-suffix guess or a split on the venue's separator: the listing parsers of MEXC, BitMart,
BingX, Bitrue, Coinbase, Gate.io, Kraken, OKX and KuCoin on the documented response shapes, the
refusal of anything that is not such a listing, and the tracker counting (and logging) a frame
of an unknown symbol as bad without touching the books it tracks."""
from __future__ import annotations

import logging

import pytest

from fakevenue import RecordingDriver
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import ParseError
from hbconnect.market.tracker import OrderBookTracker

_OKX_SPOT = ('{{"instType":"SPOT","instId":"{b}-{q}","baseCcy":"{b}","quoteCcy":"{q}","tickSz":"0.1",'
             '"lotSz":"0.00000001","minSz":"0.00001","maxLmtSz":"9999999999","state":"live"}}')
_OKX_SWAP = ('{{"instType":"SWAP","instId":"{b}-{q}-SWAP","instFamily":"{b}-{q}","uly":"{b}-{q}",'
             '"settleCcy":"{q}","ctVal":"0.01","ctMult":"1","ctValCcy":"{b}","ctType":"linear",'
             '"tickSz":"0.1","lotSz":"0.01","minSz":"0.01","maxLmtSz":"100000","state":"live"}}')

# The documented response shapes, cut to the fields read (plus one row whose base is 4 letters and
# whose quote is a shorter quote's prefix, the case a suffix guess gets wrong).
LISTINGS = {
    # MEXC spot v3 "Exchange Information": GET /api/v3/exchangeInfo
    "mexc": ('{"timezone":"CST","serverTime":1,"symbols":['
             '{"symbol":"METAUSDT","status":"1","baseAsset":"META","quoteAsset":"USDT"},'
             '{"symbol":"OMGBUSD","status":"1","baseAsset":"OMG","quoteAsset":"BUSD"}]}',
             {"METAUSDT": "META-USDT", "OMGBUSD": "OMG-BUSD"}),
    # BitMart "Get Trading Pair Details (V1)": GET /spot/v1/symbols/details
    "bitmart": ('{"code":1000,"trace":"x","message":"OK","data":{"symbols":['
                '{"symbol":"GXC_BTC","symbol_id":1024,"base_currency":"GXC","quote_currency":"BTC"},'
                '{"symbol":"OMGB_USD","symbol_id":7,"base_currency":"OMGB","quote_currency":"USD"}]}}',
                {"GXC_BTC": "GXC-BTC", "OMGB_USD": "OMGB-USD"}),
    # BingX "Spot trading symbols": GET /openApi/spot/v1/common/symbols
    "bing_x": ('{"code":0,"msg":"","debugMsg":"","data":{"symbols":['
               '{"symbol":"BTC-USDT","minQty":0.0001,"status":1},{"symbol":"OMG-BUSD","status":1}]}}',
               {"BTC-USDT": "BTC-USDT", "OMG-BUSD": "OMG-BUSD"}),
    # Bitrue "Exchange information": GET /api/v1/exchangeInfo
    "bitrue": ('{"timezone":"UTC","serverTime":1508631584636,"rateLimits":[],"exchangeFilters":[],"symbols":['
               '{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC"},'
               '{"symbol":"omgbusd","status":"TRADING","baseAsset":"omg","quoteAsset":"busd"}]}',
               {"ETHBTC": "ETH-BTC", "OMGBUSD": "OMG-BUSD"}),
    # Coinbase Advanced Trade "List Public Products": GET /api/v3/brokerage/market/products
    # (futures products are not spot instruments: left out)
    "coinbase_advanced_trade": (
        '{"products":[{"product_id":"BTC-USD","base_currency_id":"BTC","quote_currency_id":"USD",'
        '"product_type":"SPOT","status":"online"},{"product_id":"OMG-BUSD","base_currency_id":"OMG",'
        '"quote_currency_id":"BUSD","product_type":"SPOT"},{"product_id":"BIT-31JAN25-CDE",'
        '"base_currency_id":"","quote_currency_id":"USD","product_type":"FUTURE"}],"num_products":3}',
        {"BTC-USD": "BTC-USD", "OMG-BUSD": "OMG-BUSD"}),
    # Gate.io "List all currency pairs supported": GET /api/v4/spot/currency_pairs
    "gate_io": ('[{"id":"ETH_USDT","base":"ETH","quote":"USDT","fee":"0.2","trade_status":"tradable"},'
                '{"id":"OMG_BUSD","base":"OMG","quote":"BUSD","fee":"0.2","trade_status":"tradable"}]',
                {"ETH_USDT": "ETH-USDT", "OMG_BUSD": "OMG-BUSD"}),
    # Gate.io "List all futures contracts": GET /api/v4/futures/usdt/contracts
    "gate_io_perpetual": ('[{"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001"},'
                          '{"name":"OMG_BUSD","type":"direct","quanto_multiplier":"1"}]',
                          {"BTC_USDT": "BTC-USDT", "OMG_BUSD": "OMG-BUSD"}),
    # Kraken "Get Tradable Asset Pairs": GET /0/public/AssetPairs (wsname; XBT is BTC; the
    # darkpool pair has no wsname and is left out)
    "kraken": ('{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","base":"XXBT",'
               '"quote":"ZUSD"},"OMGBUSD":{"altname":"OMGBUSD","wsname":"OMG/BUSD","base":"OMG","quote":"BUSD"},'
               '"XXBTZUSD.d":{"altname":"XBTUSD.d","base":"XXBT","quote":"ZUSD"}}}',
               {"XBT/USD": "BTC-USD", "OMG/BUSD": "OMG-BUSD"}),
    # Kraken websocket v2 "instrument" channel snapshot
    "kraken_v2": ('{"channel":"instrument","type":"snapshot","data":{"assets":[{"id":"BTC","status":"enabled"}],'
                  '"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online"},'
                  '{"symbol":"OMG/BUSD","base":"OMG","quote":"BUSD","status":"online"}]}}',
                  {"BTC/USD": "BTC-USD", "OMG/BUSD": "OMG-BUSD"}),
    # OKX "Get instruments": GET /api/v5/public/instruments?instType=SPOT|SWAP
    "okx": ('{"code":"0","msg":"","data":[%s,%s]}' % (_OKX_SPOT.format(b="BTC", q="USDT"),
                                                       _OKX_SPOT.format(b="OMG", q="BUSD")),
            {"BTC-USDT": "BTC-USDT", "OMG-BUSD": "OMG-BUSD"}),
    "okx_perpetual": ('{"code":"0","msg":"","data":[%s,%s]}' % (_OKX_SWAP.format(b="BTC", q="USDT"),
                                                                 _OKX_SWAP.format(b="OMG", q="BUSD")),
                      {"BTC-USDT-SWAP": "BTC-USDT", "OMG-BUSD-SWAP": "OMG-BUSD"}),
    # KuCoin "Get Symbols List": GET /api/v1/symbols (the pair is the name: BCHSV-USDT is BSV-USDT)
    "kucoin": ('{"code":"200000","data":[{"symbol":"BCHSV-USDT","name":"BSV-USDT","baseCurrency":"BCHSV",'
               '"quoteCurrency":"USDT","enableTrading":true},{"symbol":"OMG-BUSD","name":"OMG-BUSD",'
               '"baseCurrency":"OMG","quoteCurrency":"BUSD","enableTrading":true}]}',
               {"BCHSV-USDT": "BSV-USDT", "OMG-BUSD": "OMG-BUSD"}),
}

NOT_LISTINGS = [
    "", "nope", "[]", "{}", '{"code":-1121,"msg":"Invalid symbol."}', '{"lastUpdateId":1,"bids":[],"asks":[]}',
    '{"code":1000,"data":{"symbols":[]}}', '{"code":0,"data":{"symbols":[{"symbol":"BTCUSDT"}]}}',
    '{"symbols":[{"symbol":"BTCUSDT"}]}', '{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":7}]}',
]


@pytest.mark.parametrize("vid", sorted(LISTINGS))
def test_the_listing_maps_symbols_back_exactly(vid):
    venue = market_data_venue(vid)
    body, expected = LISTINGS[vid]
    for symbol in expected:
        with pytest.raises(ParseError):
            venue.from_venue_symbol(symbol)  # before the listing: unknown, not guessed
    assert venue.load_symbols(body) == len(expected)
    for symbol, pair in expected.items():
        assert venue.from_venue_symbol(symbol) == pair
    assert venue.to_venue_symbol("OMG-BUSD" if vid != "bitmart" else "OMGB-USD") in expected


@pytest.mark.parametrize("vid", sorted(LISTINGS))
def test_pairs_asked_for_map_back_and_nothing_else_does(vid):
    venue = market_data_venue(vid)
    symbol = venue.to_venue_symbol("BTC-USDT")
    assert venue.from_venue_symbol(symbol) == "BTC-USDT"
    for other in ("OMGBUSD", "OMGB_USD", "OMGB-USD", "omgbusd", "ETHUSDT", "", 7, None):
        with pytest.raises(ParseError):
            venue.from_venue_symbol(other)


@pytest.mark.parametrize("vid", sorted(LISTINGS))
def test_bodies_that_are_not_listings_are_refused_and_change_nothing(vid):
    venue = market_data_venue(vid)
    body, expected = LISTINGS[vid]
    venue.load_symbols(body)
    for bad in NOT_LISTINGS:
        with pytest.raises(ParseError):
            venue.load_symbols(bad)
    for symbol, pair in expected.items():
        assert venue.from_venue_symbol(symbol) == pair


def test_kucoin_symbols_follow_the_listed_name():
    venue = market_data_venue("kucoin")
    venue.load_symbols(LISTINGS["kucoin"][0])
    assert venue.to_venue_symbol("BSV-USDT") == "BCHSV-USDT"
    assert venue.snapshot_request("BSV-USDT").params == {"symbol": "BCHSV-USDT"}


#: a book frame of each venue whose separator used to be split, ``{sym}`` the venue symbol
BOOK_FRAMES = {
    "coinbase_advanced_trade": (
        '{"channel":"l2_data","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":%d,"events":'
        '[{"type":"update","product_id":"{sym}","updates":[{"side":"bid","price_level":"1",'
        '"new_quantity":"1"}]}]}', "OMGB-USD"),
    "gate_io": ('{"time":1,"channel":"spot.order_book_update","event":"update","result":{"t":1,"s":"{sym}",'
                '"U":%d,"u":%d,"b":[["1","1"]],"a":[]}}', "OMGB_USD"),
    "gate_io_perpetual": ('{"time":1,"channel":"futures.order_book_update","event":"update","result":{"t":1,'
                          '"s":"{sym}","U":%d,"u":%d,"b":[{"p":"1","s":1}],"a":[]}}', "OMGB_USD"),
    "kraken": ('[%d,{"a":[["1.0","1.0","1.0"]],"c":"1"},"book-1000","{sym}"]', "OMGB/USD"),
    "kraken_v2": ('{"channel":"book","type":"update","data":[{"symbol":"{sym}","bids":[{"price":1.0,"qty":%d}],'
                  '"asks":[],"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}]}', "OMGB/USD"),
    "okx": ('{"arg":{"channel":"books","instId":"{sym}"},"action":"update","data":[{"asks":[],'
            '"bids":[["1","2","0","1"]],"ts":"1","seqId":%d,"prevSeqId":%d,"checksum":0}]}', "OMGB-USD"),
    "okx_perpetual": ('{"arg":{"channel":"books","instId":"{sym}"},"action":"update","data":[{"asks":[],'
                      '"bids":[["1","2","0","1"]],"ts":"1","seqId":%d,"prevSeqId":%d,"checksum":0}]}',
                      "OMGB-USD-SWAP"),
    "kucoin": ('{"type":"message","topic":"/market/level2:{sym}","subject":"trade.l2update","data":{"changes":'
               '{"asks":[],"bids":[["1","1","%d"]]},"sequenceStart":%d,"sequenceEnd":%d,"symbol":"{sym}","time":1}}',
               "OMGB-USD"),
}


@pytest.mark.parametrize("vid", sorted(BOOK_FRAMES))
def test_a_frame_of_an_unknown_symbol_is_refused_counted_and_logged(vid, caplog):
    template, unknown = BOOK_FRAMES[vid]
    venue = market_data_venue(vid)
    tracker = OrderBookTracker(venue, ["BTC-USDT"], driver=RecordingDriver(), fast_path=False)
    conn = tracker.connections[0]
    tracker.connection_up(conn)
    known = venue.to_venue_symbol("BTC-USDT")
    frame = template.replace("{sym}", unknown).replace("%d", "7")
    with pytest.raises(ParseError, match="unknown venue symbol"):
        venue.parse_message(frame)  # refused, not split into a pair
    assert venue.from_venue_symbol(known) == "BTC-USDT"  # the subscribed one maps back
    before = tracker.books["BTC-USDT"].stats()
    with caplog.at_level(logging.WARNING):
        tracker.feed(conn, frame)
    assert tracker.bad_frames == 1 and conn.bad_frames == 1
    assert "unknown venue symbol" in caplog.text and unknown in caplog.text
    assert set(tracker.books) == {"BTC-USDT"} and tracker.books["BTC-USDT"].stats() == before
    # the same frame for the subscribed symbol is the tracked pair's
    events = venue.parse_message(template.replace("{sym}", known).replace("%d", "7"))
    assert [ev.pair for ev in events if hasattr(ev, "bids")] == ["BTC-USDT"]
