"""Unit tests: hbconnect.core.types (enums, fees, positions) and hbconnect.core.errors."""
from __future__ import annotations

import json
import pickle
from decimal import Decimal as D

import pytest

from hbconnect.core import errors
from hbconnect.core.errors import (
    AuthenticationError,
    ExchangeError,
    HBConnectError,
    InsufficientBalance,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    OrderRejected,
    RateLimitError,
    RequestTimeout,
    ServiceUnavailable,
    TimeSyncError,
    register_secret,
    register_secret_field,
    sanitize,
)
from hbconnect.core.types import (
    AddedToCostTradeFee,
    DeductedFromReturnsTradeFee,
    FundingInfo,
    OrderState,
    OrderType,
    Position,
    PositionAction,
    PositionMode,
    PositionSide,
    TokenAmount,
    TradeFee,
    TradeFeeBase,
    TradeType,
    split_trading_pair,
    to_decimal,
)


# ---- enums ----
def test_order_type_is_limit_type():
    assert OrderType.LIMIT.is_limit_type()
    assert OrderType.LIMIT_MAKER.is_limit_type()
    assert not OrderType.MARKET.is_limit_type()


def test_order_state_helpers():
    done = {s for s in OrderState if s.is_done}
    live = {s for s in OrderState if s.is_open}
    assert done == {OrderState.CANCELED, OrderState.FILLED, OrderState.FAILED}
    assert live == {OrderState.PENDING_CREATE, OrderState.OPEN, OrderState.PARTIALLY_FILLED,
                    OrderState.PENDING_CANCEL}
    assert not done & live


def test_position_enums_match_hummingbot_values():
    assert PositionMode.HEDGE.value is True and PositionMode.ONEWAY.value is False
    assert {p.value for p in PositionAction} == {"OPEN", "CLOSE", "NIL"}
    assert {p.value for p in PositionSide} == {"LONG", "SHORT", "BOTH"}
    assert TradeType.BUY.opposite is TradeType.SELL and TradeType.SELL.opposite is TradeType.BUY


# ---- decimals ----
@pytest.mark.parametrize("raw, expected", [
    ("1.50", D("1.50")), (b"0.001", D("0.001")), (3, D(3)), (0.1, D("0.1")), (D("2e-8"), D("2e-8")),
    (" 7 ", D(7)),
])
def test_to_decimal_accepts(raw, expected):
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-Infinity", float("nan"), float("inf"), "abc", "",
                                 None, True, D("NaN"), b"\xff", "1e999999999", 10 ** 1200, D("-1e-1200")])
def test_to_decimal_rejects(raw):
    with pytest.raises(ValueError):
        to_decimal(raw)


def test_accepted_decimals_stay_safe_to_multiply():
    big = to_decimal("9e1000")
    assert big * big * big > 0  # no decimal.Overflow from values to_decimal lets through


def test_split_trading_pair():
    assert split_trading_pair("BTC-USDT") == ("BTC", "USDT")
    for bad in ("BTCUSDT", "-USDT", "BTC-"):
        with pytest.raises(ValueError):
            split_trading_pair(bad)


# ---- fees ----
def test_fee_percent_in_quote_and_flat_fees():
    fee = AddedToCostTradeFee(percent=D("0.001"), flat_fees=[TokenAmount("BNB", D("0.01"))])
    by_token = fee.fee_amounts_by_token("BTC-USDT", D("20000"), D("0.5"))
    assert by_token == {"USDT": D("10"), "BNB": D("0.01")}
    # BNB -> USDT at 300: 10 + 3
    total = fee.fee_amount_in_quote("BTC-USDT", D("20000"), D("0.5"),
                                    rate_fn=lambda a, b: D(300) if (a, b) == ("BNB", "USDT") else None)
    assert total == D("13")
    with pytest.raises(ValueError, match="no conversion rate from BNB to USDT"):
        fee.fee_amount_in_quote("BTC-USDT", D("20000"), D("0.5"))


def test_fee_in_base_converts_through_price():
    fee = DeductedFromReturnsTradeFee(percent=D("0.002"), percent_token="BTC")
    # percentage charged on the base amount
    assert fee.fee_amounts_by_token("BTC-USDT", D("100"), D("3")) == {"BTC": D("0.006")}
    assert fee.fee_amount_in_token("BTC-USDT", D("100"), D("3"), "USDT") == D("0.6")
    assert fee.fee_amount_in_token("BTC-USDT", D("100"), D("3"), "BTC") == D("0.006")
    flat_quote = TradeFee(flat_fees=[("USDT", "5")])
    assert flat_quote.fee_amount_in_token("BTC-USDT", D("100"), D("3"), "BTC") == D("0.05")


def test_percent_in_third_token_needs_rate():
    fee = TradeFee(percent=D("0.001"), percent_token="BNB")
    with pytest.raises(ValueError):
        fee.fee_amounts_by_token("BTC-USDT", D("100"), D("1"))
    # 0.1 USDT of fee = 0.1 / 250 BNB
    got = fee.fee_amounts_by_token("BTC-USDT", D("100"), D("1"),
                                   rate_fn=lambda a, b: D(1) / D(250) if (a, b) == ("USDT", "BNB") else None)
    assert got == {"BNB": D("0.1") / D(250)}


def test_fee_factories_follow_hummingbot_rules():
    assert isinstance(TradeFee.new_spot_fee(TradeType.BUY, D("0.001")), AddedToCostTradeFee)
    assert isinstance(TradeFee.new_spot_fee(TradeType.SELL, D("0.001")), DeductedFromReturnsTradeFee)
    assert isinstance(TradeFee.new_spot_fee(TradeType.BUY, D("0.001"), buy_percent_fee_deducted_from_returns=True),
                      DeductedFromReturnsTradeFee)
    assert isinstance(TradeFee.new_perpetual_fee(PositionAction.OPEN), AddedToCostTradeFee)
    assert isinstance(TradeFee.new_perpetual_fee(PositionAction.CLOSE), DeductedFromReturnsTradeFee)
    assert TradeFeeBase is TradeFee
    assert DeductedFromReturnsTradeFee().deducted_from_returns and not AddedToCostTradeFee().deducted_from_returns


def test_fee_json_round_trip_keeps_class_and_exact_decimals():
    for fee in (AddedToCostTradeFee(D("0.00075"), "USDT", [("BNB", "0.000012345678901234")]),
                DeductedFromReturnsTradeFee(flat_fees=[("BTC", D("1e-8"))]), TradeFee()):
        data = json.loads(json.dumps(fee.to_json()))
        back = TradeFee.from_json(data)
        assert type(back) is type(fee)
        assert back == fee
        assert back.flat_fees == fee.flat_fees
    assert TradeFee().is_zero and not TradeFee(flat_fees=[("BNB", "1")]).is_zero
    with pytest.raises(ValueError):
        TradeFee.from_json({"fee_type": "Bogus"})
    assert AddedToCostTradeFee() != DeductedFromReturnsTradeFee()


def test_fee_rejects_bad_numbers():
    with pytest.raises(ValueError):
        TradeFee(percent="nan")
    with pytest.raises(ValueError):
        TradeFee(flat_fees=[("BNB", "inf")])


def test_token_amount_unpacks():
    token, amount = TokenAmount("BNB", "0.5")
    assert token == "BNB" and amount == D("0.5")
    assert TokenAmount.from_json(TokenAmount("X", D("1.10")).to_json()) == TokenAmount("X", D("1.10"))


def test_position_and_funding_info():
    p = Position("BTC-USDT", PositionSide.SHORT, D("-2"), D("100"), D("-3"), 5)
    assert p.position_side is PositionSide.SHORT and not p.is_empty
    assert Position.from_json(json.loads(json.dumps(p.to_json()))) == p
    f = FundingInfo("BTC-USDT", D("100"), D("101"), 1_700_000_000.0, D("0.0001"))
    f.update(rate=D("-0.0002"), mark_price=D("99"))
    assert (f.rate, f.mark_price, f.index_price) == (D("-0.0002"), D("99"), D("100"))


def test_position_and_funding_money_fields_are_always_decimal():
    p = Position("BTC-USDT", PositionSide.LONG, 0.1, "100.5", 3)
    assert (p.amount, p.entry_price, p.unrealized_pnl) == (D("0.1"), D("100.5"), D(3))
    assert all(type(v) is D for v in (p.amount, p.entry_price, p.unrealized_pnl))
    f = FundingInfo("BTC-USDT", 100, "101", 0.0, 0.0001)
    f.update(mark_price=99.5)
    assert (f.index_price, f.mark_price, f.rate) == (D(100), D("99.5"), D("0.0001"))
    assert all(type(v) is D for v in (f.index_price, f.mark_price, f.rate))
    with pytest.raises(ValueError):
        Position("BTC-USDT", PositionSide.LONG, float("nan"), D(1))


# ---- errors ----
def test_error_hierarchy():
    for cls in (OrderRejected, InsufficientBalance, OrderNotFound, InvalidOrder, AuthenticationError,
                TimeSyncError, RateLimitError, ServiceUnavailable, NetworkError, RequestTimeout):
        assert issubclass(cls, ExchangeError) and issubclass(cls, HBConnectError)
    assert issubclass(InsufficientBalance, OrderRejected) and issubclass(InvalidOrder, OrderRejected)
    assert issubclass(RequestTimeout, NetworkError)
    assert RequestTimeout().outcome_unknown is True
    assert NetworkError().outcome_unknown is False
    assert NetworkError(outcome_unknown=True).outcome_unknown is True
    assert OrderRejected(-2010, "x").outcome_unknown is False


def test_error_text_and_fields():
    e = RateLimitError(-1003, "Too many requests", retry_after=2.5, http_status=429, venue="binance")
    assert e.retry_after == 2.5 and e.code == -1003 and e.http_status == 429
    assert str(e) == "[binance] HTTP 429 code -1003: Too many requests (retry after 2.5 s)"
    assert str(OrderNotFound()) == "OrderNotFound"
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is RateLimitError and back.retry_after == 2.5 and str(back) == str(e)


SECRET = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


@pytest.mark.parametrize("text", [
    f"GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature={SECRET}",
    f'{{"apiKey": "{SECRET}", "code": -2014}}',
    f"passphrase: {SECRET}",
    f"Authorization: Bearer {SECRET}",  # Coinbase JWT
    f"{{'ACCESS-KEY': 'bg_1', 'ACCESS-SIGN': '{SECRET}', 'ACCESS-PASSPHRASE': 'x'}}",  # Bitget
    f"CB-ACCESS-SIGN: {SECRET}",
    f"GET /v1/order/orders?AccessKeyId={SECRET}&SignatureMethod=HmacSHA256",  # HTX
    f"KEY: {SECRET}",  # Gate.io header
    f"X-Auth: BITSTAMP {SECRET}",
    f"API-Sign: {SECRET}",  # Kraken
])
def test_sanitize_removes_credentials(text):
    out = sanitize(text)
    assert SECRET not in out
    assert "***" in out


def test_venue_modules_add_the_field_names_their_credentials_travel_under():
    token = "Qx7-never-registered-token-0042"  # a value no other test registers
    assert token in sanitize(f"X-Venue-Token: {token}")  # not a name the core knows
    register_secret_field("X-VENUE-TOKEN")
    for text in (f"x-venue-token: {token}", f"{{'X-Venue-Token': '{token}'}}", f"x-venue-token={token}&a=1"):
        assert token not in sanitize(text) and "***" in sanitize(text)


def test_exceptions_never_carry_secrets():
    e = AuthenticationError(-1022, f"Signature for this request is not valid. signature={SECRET}")
    assert SECRET not in str(e) and SECRET not in repr(e) and SECRET not in e.message
    assert "Signature for this request is not valid" in str(e)


def test_registered_secret_is_masked_anywhere(monkeypatch):
    monkeypatch.setattr(errors, "_owned", {})
    monkeypatch.setattr(errors, "_unowned", errors.collections.OrderedDict())
    register_secret("Zq9hiddenvalue")
    register_secret("abc")  # too short to register
    assert sanitize("oops Zq9hiddenvalue leaked, abc stays") == "oops *** leaked, abc stays"
    assert "Zq9hiddenvalue" not in str(InvalidOrder(1, "bad Zq9hiddenvalue"))
    assert sanitize("plain message, no secrets: price=1") == "plain message, no secrets: price=1"
