"""Every registered market-data venue: base URLs overridable (``with_urls``, what ``record``/
``watch --rest-url/--ws-url`` and the embedded exchange use), optional capabilities declared
(read as attributes, with the defaults of ``VenueCapabilities``), symbols never guessed."""
from __future__ import annotations

import argparse

import pytest

from hbconnect.commands._venue_args import venue_from_args
from hbconnect.exchanges import VENUES, market_data_venue
from hbconnect.market.messages import ParseError, VenueCapabilities

REST = "http://127.0.0.1:1"
WS = "ws://127.0.0.1:2/market"
PAIR = {"ndax": "BTC-CAD", "foxbit": "BTC-BRL", "btc_markets": "BTC-AUD"}


@pytest.mark.parametrize("name", sorted(VENUES))
def test_capabilities_are_declared(name):
    v = market_data_venue(name)
    assert isinstance(v, VenueCapabilities)
    for attr in ("connection_sequence", "max_depth", "strict_snapshot_start", "rate_limit_pool",
                 "ws_message_rate", "ws_subscriptions_per_hour", "ws_connect_rate", "diff_frame"):
        assert attr in dir(v), attr
    assert type(v.connection_sequence) is bool and type(v.strict_snapshot_start) is bool


@pytest.mark.parametrize("name", sorted(VENUES))
def test_with_urls_moves_every_url_and_leaves_the_original(name):
    v = market_data_venue(name)
    pair = PAIR.get(name, "BTC-USDT")
    moved = v.with_urls(rest=REST, ws=WS)
    assert type(moved) is type(v) and moved is not v and moved.name == v.name
    token = moved.connect_request()
    if token is not None:  # KuCoin: the socket URL comes from the token answer
        assert token.url.startswith(REST + "/")
    else:
        assert moved.ws_endpoint(None).url.startswith(WS)
        assert not v.ws_endpoint(None).url.startswith("ws://127.0.0.1")
    req = moved.snapshot_request(pair)
    if req is not None:
        assert req.url.startswith(REST + "/"), req.url
        assert not v.snapshot_request(pair).url.startswith(REST)


def test_cli_venue_args_use_with_urls():
    ns = argparse.Namespace(exchange="gate_io", rest_url=REST, ws_url=WS)
    v = venue_from_args(ns)
    assert v.ws_endpoint(None).url == WS and v.snapshot_request("BTC-USDT").url.startswith(REST)


def test_default_capabilities():
    class Bare(VenueCapabilities):
        name = "bare"

    b = Bare()
    assert b.diff_frame is None and b.ws_message_rate is None and b.strict_snapshot_start is False
    with pytest.raises(NotImplementedError):
        b.with_urls(rest=REST)
    with pytest.raises(ParseError):
        b.load_symbols(b"[]")
