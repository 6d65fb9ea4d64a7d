"""Venue symbols come from each venue's instruments listing (or the pairs asked for), never from a
quote-suffix guess: the listing parsers of MEXC, BitMart, BingX and Bitrue on the documented
response shapes, and the refusal of anything that is not such a listing."""
from __future__ import annotations

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import ParseError

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
