"""The trading contract is enforced: every registered trading venue implements the Protocols of
its capabilities with compatible signatures; credentials, instrument tables and the engine's
secret registration behave as the contract says."""
from __future__ import annotations

import importlib
import inspect
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Tuple

import pytest

import hbconnect
from hbconnect.connector import Connector
from hbconnect.connector.contract import (
    STREAM_PROTOCOLS,
    PerpTradingVenue,
    StreamShape,
    TradingVenue,
    WsOrderEntry,
)
from hbconnect.core.credentials import Credentials, hmac_sha256_base64, hmac_sha512_hex
from hbconnect.core.errors import AuthenticationError, sanitize
from hbconnect.exchanges import VENUES
from hbconnect.exchanges._instruments import Instrument, InstrumentTable, UnknownSymbol
from hbconnect.market.messages import ParseError


def registered_trading_venues() -> Iterator[Tuple[str, Any]]:
    seen = set()
    for key, module in sorted(VENUES.items()):
        trading = getattr(importlib.import_module(f"hbconnect.exchanges.{module}"), "TRADING", {})
        if key in trading and (module, key) not in seen:
            seen.add((module, key))
            yield key, trading[key]


TRADING = list(registered_trading_venues())


def _positional(fn: Any) -> Tuple[int, float]:
    """(required, accepted) positional parameters of a bound method or function."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    required = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   and p.default is p.empty)
    accepted: float = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        accepted = float("inf")
    return required, accepted


def _protocol_members(proto: type) -> Iterator[Tuple[str, Any]]:
    for klass in proto.__mro__:
        if klass is object or klass.__name__ in ("Protocol", "Generic"):
            continue
        for name in getattr(klass, "__annotations__", {}):
            yield name, None
        for name, member in vars(klass).items():
            if callable(member) and not name.startswith("_"):
                yield name, member


def assert_implements(venue: Any, proto: type) -> None:
    assert isinstance(venue, proto), f"{type(venue).__name__} lacks members of {proto.__name__}"
    for name, member in _protocol_members(proto):
        assert hasattr(venue, name), f"{type(venue).__name__}.{name} missing ({proto.__name__})"
        if member is None:
            continue
        required, accepted = _positional(getattr(venue, name))
        want, _ = _positional(member)
        assert required <= want <= accepted, (
            f"{type(venue).__name__}.{name}{inspect.signature(getattr(venue, name))} is not "
            f"compatible with {proto.__name__}.{name}{inspect.signature(member)}")


def test_there_are_trading_venues_registered() -> None:
    assert {"binance", "binance_perpetual"} <= {k for k, _ in TRADING}


@pytest.mark.parametrize("key,factory", TRADING, ids=[k for k, _ in TRADING])
def test_every_registered_trading_venue_implements_its_protocols(key: str, factory: Any) -> None:
    venue = factory(credentials=Credentials("contract-key-123", "contract-secret-123", "pass-phrase-123"))
    assert_implements(venue, TradingVenue)
    assert isinstance(venue.user_stream_shape, StreamShape)
    assert_implements(venue, STREAM_PROTOCOLS[venue.user_stream_shape])
    if venue.is_perpetual:
        assert_implements(venue, PerpTradingVenue)
    if getattr(venue, "ws_order_entry", False):
        assert_implements(venue, WsOrderEntry)
    assert venue.order_not_accepted_after > 0
    # the engine reads credentials from the contract, never from a venue's private layout
    assert "contract-secret-123" in venue.credentials.secret_values()
    assert "contract-secret-123" not in repr(venue)


def test_the_signature_check_catches_an_incompatible_method() -> None:
    from hbconnect.exchanges.binance import BinanceSpotTrading

    class Broken(BinanceSpotTrading):
        def place_order_request(self, order: Any) -> Any:  # the account argument is missing
            return super().place_order_request(order, None)

    with pytest.raises(AssertionError, match="place_order_request"):
        assert_implements(Broken(), TradingVenue)


# ---- credentials ----

def test_credentials_list_every_secret_and_never_show_them() -> None:
    pem = None
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption())
    except ImportError:
        pytest.fail("cryptography is a test dependency")
    creds = Credentials("the-api-key-1", "the-secret-1", "the-passphrase-1", private_key_pem=pem)
    values = creds.secret_values()
    assert {"the-api-key-1", "the-secret-1", "the-passphrase-1", pem.decode()} == set(values)
    for text in (repr(creds), str(creds)):
        assert all(v not in text for v in values)
    assert creds.private_key_kind == "ed25519" and creds.passphrase == "the-passphrase-1"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(creds)


def test_credentials_sign_like_the_plain_functions() -> None:
    creds = Credentials("k", "secret-key")
    payload = "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    assert creds.hmac_sha256_base64(payload) == hmac_sha256_base64("secret-key", payload)
    assert creds.hmac_sha256_base64(payload) == creds.hmac_sha256_base64(payload)  # cached key schedule
    assert creds.hmac_sha512_hex("x") == hmac_sha512_hex("secret-key", "x")
    with pytest.raises(AuthenticationError):
        Credentials("k", "").hmac_sha256_hex("x")
    with pytest.raises(AuthenticationError):
        Credentials("k", "s", private_key_pem=b"not a pem")


def test_connector_registers_the_passphrase_for_redaction() -> None:
    from hbconnect.exchanges.binance import BinanceSpotTrading

    venue = BinanceSpotTrading(credentials=Credentials("key-abcdef-1", "secret-abcdef-1", "phrase-abcdef-1"))
    Connector(venue, ["BTC-USDT"])
    assert sanitize("passphrase was phrase-abcdef-1, key key-abcdef-1") == "passphrase was ***, key ***"


# ---- instrument table ----

def test_symbols_are_never_guessed_from_a_quote_suffix() -> None:
    table = InstrumentTable("venue")
    table.load([Instrument("OMG-BUSD", "OMGBUSD", "OMG", "BUSD")])
    assert table.pair("OMGBUSD") == "OMG-BUSD"
    with pytest.raises(UnknownSymbol):
        table.pair("OMGBUSDT")
    assert isinstance(UnknownSymbol("x"), ParseError)  # counted like any unreadable input
    # a pair asked for maps back exactly, with its own spelling
    assert table.symbol("ETH-BTC") == "ETHBTC" and table.pair("ETHBTC") == "ETH-BTC"


def test_what_the_table_remembers_is_bounded() -> None:
    table = InstrumentTable("venue", max_asked=100)
    for i in range(10_000):
        table.symbol(f"C{i}-USDT")
    assert len(table._asked) == 100
    assert table.pair("C5-USDT".replace("-", "")) == "C5-USDT"
    with pytest.raises(UnknownSymbol):
        table.pair("C9999USDT")


def test_contract_sizes_convert_between_contracts_and_base() -> None:
    table = InstrumentTable("venue")
    table.load([Instrument("BTC-USDT", "BTC-USDT-SWAP", "BTC", "USDT", contract_size=Decimal("0.01"))])
    assert table.to_contracts("BTC-USDT", Decimal("0.25")) == Decimal("25")
    assert table.to_base("BTC-USDT", Decimal("3")) == Decimal("0.03")
    assert table.contract_size("ETH-USDT") == 1  # not listed: base units


def test_binance_market_data_keeps_no_junk_symbols() -> None:
    """Issue 7 found 200k junk symbols cached by the market-data module (427 MB): frames for
    unknown symbols are refused, and nothing about them is remembered."""
    from hbconnect.exchanges import market_data_venue

    venue = market_data_venue("binance")
    venue.to_venue_symbol("BTC-USDT")
    frame = '{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"JUNK%dUSDT","U":1,"u":2,"b":[],"a":[]}}'
    for i in range(2000):
        with pytest.raises(ParseError):
            venue.parse_message(frame % i)
    assert list(venue._pairs) == ["BTCUSDT"] and len(venue.instruments._asked) == 1


# ---- the engine speaks no venue's dialect ----

#: names and concepts of one venue that must not appear in the venue-neutral layers
_VENUE_WORDS = re.compile(r"(?i)binance|listen_?key|recv_?window|x-mbx|/api/v3|/fapi|BinanceError")
#: one venue's wire values, which the sim's core replaces by its own words (``sim/vocabulary.py``):
#: post-only ``GTX``, ``EXPIRE_*`` self-trade prevention, ``EXPIRED_IN_MATCH``, ``FUNDING_FEE``
#: income, ``LIMIT_MAKER``, the one-way position side ``BOTH``, ``dualSidePosition``, wire field names
_VENUE_VALUES = re.compile(r"\bGTX\b|EXPIRE_(MAKER|TAKER|BOTH)|EXPIRED_IN_MATCH|FUNDING_FEE|LIMIT_MAKER|"
                           r"\"BOTH\"|dual_?side|dualSide|positionSide|clientOrderId|selfTradePrevention|"
                           r"incomeType|timeInForce|expiry_?reason")
_NEUTRAL_LAYERS = ("connector", "core", "market")
#: the embedded exchange's core: every module of ``sim/`` but the venue front ends, the package
#: documentation (``__init__``, which describes the front ends) and ``exchange.py`` (which
#: assembles the front ends by venue name)
_SIM_CORE = ("matching", "accounts", "vocabulary", "errors", "faults", "marketdata", "server", "agent")


def _hits(paths: Any, pattern: "re.Pattern[str]", root: Path) -> list:
    hits = []
    for path in paths:
        if path.suffix not in (".py", ".pyx", ".pyi", ".pxd"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    return hits


def test_the_engine_layers_name_no_binance_concept() -> None:
    root = Path(hbconnect.__file__).parent
    paths = [p for layer in _NEUTRAL_LAYERS for p in sorted((root / layer).rglob("*"))]
    assert _hits(paths, _VENUE_WORDS, root) == []


def test_the_sim_core_names_no_venue_concept_nor_wire_value() -> None:
    root = Path(hbconnect.__file__).parent
    paths = [root / "sim" / f"{name}.py" for name in _SIM_CORE]
    assert all(p.is_file() for p in paths)
    assert _hits(paths, _VENUE_WORDS, root) == []
    assert _hits(paths, _VENUE_VALUES, root) == []


def test_the_venue_checks_catch_what_they_look_for() -> None:
    """The patterns find each word they forbid (a pattern that matches nothing passes any code)."""
    for bad in ("BinanceError", "listenKey", "recv_window", "X-MBX-USED-WEIGHT", "/api/v3/order", "/fapi/v1"):
        assert _VENUE_WORDS.search(bad), bad
    for bad in ('tif = "GTX"', "EXPIRE_MAKER", "EXPIRE_BOTH", "EXPIRED_IN_MATCH", "FUNDING_FEE", "LIMIT_MAKER",
                'side = "BOTH"', "acct.dual_side", "positionSide", "o.expiry_reason"):
        assert _VENUE_VALUES.search(bad), bad
    for neutral in ("POST_ONLY", "CANCEL_BOTH", "CANCEL_MAKER", "FUNDING", "PositionSide.NET", "hedge_mode",
                    "SelfTradePrevention"):
        assert not _VENUE_VALUES.search(neutral), neutral
