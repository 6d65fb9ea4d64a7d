"""Unit tests: TradingRule quantization and validation."""
from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbconnect.core.trading_rule import TradingRule, quantize_to_step, round_significant
from hbconnect.core.types import OrderType, TradeType


def binance_like() -> TradingRule:
    # BTCUSDT-like filters: tick 0.01, step 0.00001, min qty 0.00001, min notional 5
    return TradingRule("BTC-USDT", min_order_size=D("0.00001"), max_order_size=D("9000"),
                       min_price_increment=D("0.01"), min_base_amount_increment=D("0.00001"),
                       min_notional_size=D("5"))


def test_quantize_price_rounds_down_to_tick():
    r = binance_like()
    assert r.quantize_price(D("27123.456")) == D("27123.45")
    assert r.quantize_price("27123.459999") == D("27123.45")
    assert r.quantize_price(D("27123.4")) == D("27123.40")
    assert str(r.quantize_price(D("27123"))) == "27123.00"  # carries the tick's exponent
    assert r.quantize_price(D("0.004")) == D("0")


def test_quantize_with_non_decimal_power_step():
    assert quantize_to_step(D("10.74"), D("0.25")) == D("10.50")
    assert quantize_to_step(D("10.75"), D("0.25")) == D("10.75")
    assert quantize_to_step(D("1234"), D("5")) == D("1230")
    assert quantize_to_step(D("1234"), D("0")) == D("1234")  # no step
    assert quantize_to_step(D("-1.239"), D("0.01")) == D("-1.23")  # toward zero


def test_quantize_step_with_trailing_zeros():
    # Binance sends "0.01000000"; the result must still be a multiple of 0.01
    r = TradingRule("ETH-USDT", min_price_increment=D("0.01000000"))
    assert r.quantize_price(D("1800.129")) == D("1800.12")


def test_significant_digits():
    assert round_significant(D("123.456"), 4) == D("123.4")
    assert round_significant(D("0.000123456"), 3) == D("0.000123")
    assert round_significant(D("987654"), 3) == D("987000")
    r = TradingRule("X-Y", min_price_increment=D("0.0001"), max_price_significant_digits=5)
    assert r.quantize_price(D("12.345678")) == D("12.345")
    assert r.validate(D("1"), D("12.3456")) == "X-Y: price 12.3456 has more than 5 significant digits"
    assert r.validate(D("1"), D("12.345")) is None


def test_quantize_amount_below_min_is_zero():
    r = binance_like()
    assert r.quantize_amount(D("0.123456789")) == D("0.12345")
    assert r.quantize_amount(D("0.000009")) == D("0")
    assert r.quantize_amount(D("0")) == D("0")
    assert r.quantize_amount(D("-1")) == D("0")
    # with a price: below min notional -> 0
    assert r.quantize_amount(D("0.0001"), price=D("27000")) == D("0")  # 2.7 < 5
    assert r.quantize_amount(D("0.0002"), price=D("27000")) == D("0.00020")  # 5.4 >= 5
    assert r.quantize_quote_amount(D("10.123")) == D("10.123")  # no quote step
    assert TradingRule("A-B", min_quote_amount_increment=D("0.1")).quantize_quote_amount("10.19") == D("10.1")


@pytest.mark.parametrize("amount, price, order_type, expected", [
    (D("0.001"), D("27000.00"), OrderType.LIMIT, None),
    (D("0.000001"), D("27000.00"), OrderType.LIMIT, "below the minimum order size"),
    (D("9001"), D("27000.00"), OrderType.LIMIT, "above the maximum order size"),
    (D("0.0010001"), D("27000.00"), OrderType.LIMIT, "not a multiple of the step size"),
    (D("0.001"), D("27000.001"), OrderType.LIMIT, "not a multiple of the tick size"),
    (D("0.0001"), D("27000.00"), OrderType.LIMIT, "order value 2.700000 is below the minimum notional 5"),
    (D("0"), D("27000"), OrderType.LIMIT, "amount must be positive"),
    (D("-1"), D("27000"), OrderType.LIMIT_MAKER, "amount must be positive"),
    (D("0.001"), None, OrderType.LIMIT, "needs a price"),
    (D("0.001"), D("0"), OrderType.LIMIT_MAKER, "price must be positive"),
    (D("0.001"), "nan", OrderType.LIMIT, "invalid price"),
    ("abc", D("1"), OrderType.LIMIT, "invalid amount"),
    (D("0.001"), None, OrderType.MARKET, None),  # no reference: notional unknown
])
def test_validate_reasons(amount, price, order_type, expected):
    reason = binance_like().validate(amount, price, order_type)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason and reason.startswith("BTC-USDT: ")


def test_validate_market_uses_reference_price():
    r = binance_like()
    assert "minimum notional" in r.validate(D("0.0001"), None, OrderType.MARKET, reference_price=D("27000"))
    assert r.validate(D("0.001"), None, OrderType.MARKET, reference_price=D("27000")) is None
    # a market order's price is a reference only: it is not tick-checked
    assert r.validate(D("0.001"), D("27000.123"), OrderType.MARKET) is None
    assert "minimum notional" in r.validate(D("0.0001"), D("27000.123"), OrderType.MARKET)


def test_validate_order_type_support_and_price_bounds():
    r = TradingRule("A-B", supports_market_orders=False, min_price=D("1"), max_price=D("100"),
                    max_notional_size=D("1000"))
    assert "market orders are not supported" in r.validate(D("1"), None, OrderType.MARKET)
    assert "below the minimum price" in r.validate(D("1"), D("0.5"))
    assert "above the maximum price" in r.validate(D("1"), D("101"))
    assert "above the maximum notional" in r.validate(D("11"), D("100"))
    assert "sell " in TradingRule("A-B").validate(D("0"), D("1"), trade_type=TradeType.SELL)
    r2 = TradingRule("A-B", supports_limit_orders=False)
    assert "limit orders are not supported" in r2.validate(D("1"), D("1"), OrderType.LIMIT_MAKER)


def test_rule_construction_checks_and_defaults():
    r = TradingRule("ETH-BTC", min_order_size="0.001")
    assert r.min_order_size == D("0.001") and isinstance(r.min_order_size, D)
    assert r.buy_order_collateral_token == "BTC" and r.sell_order_collateral_token == "BTC"
    with pytest.raises(ValueError):
        TradingRule("A-B", min_price_increment=D("-0.01"))
    with pytest.raises(ValueError):
        TradingRule("A-B", min_notional_size="nan")
    with pytest.raises(ValueError):
        TradingRule("A-B", max_order_size=D("0"))
    with pytest.raises(ValueError):
        TradingRule("A-B", max_price_significant_digits=0)


def test_rule_json_round_trip():
    r = binance_like()
    back = TradingRule.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r


steps = st.sampled_from([D("0.01"), D("0.00001"), D("0.5"), D("1"), D("5"), D("0.0025"), D("1E-8")])
values = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), allow_nan=False,
                     allow_infinity=False, places=10)


@settings(max_examples=300, deadline=None)
@given(values, steps)
def test_quantize_property(value, step):
    q = quantize_to_step(value, step)
    assert q <= value  # never rounds up
    assert value - q < step  # by less than one step
    assert q % step == 0  # on the grid
    assert quantize_to_step(q, step) == q  # idempotent


@settings(max_examples=200, deadline=None)
@given(values, values, steps, steps)
def test_quantized_order_passes_validation(amount, price, tick, step):
    r = TradingRule("A-B", min_order_size=step, min_price_increment=tick, min_base_amount_increment=step)
    qa, qp = r.quantize_amount(amount), r.quantize_price(price)
    if qa > 0 and qp > 0:
        assert r.validate(qa, qp) is None
    else:
        assert r.validate(qa, qp) is not None


def test_huge_or_long_values_never_raise_decimal_errors_or_round_up():
    rule = TradingRule("BTC-USDT", min_base_amount_increment=D("1e-8"), min_price_increment=D("0.01"))
    assert rule.validate("1e30", "100") is None  # 1e38 steps: beyond the default 28-digit context
    assert rule.quantize_amount("1e30") == D("1e30")
    assert "not a multiple" in rule.validate("1e200", "100")
    with pytest.raises(ValueError):
        rule.quantize_amount("1e200")
    long = D("0.99999999999999999999999999999999")  # 32 digits
    assert quantize_to_step(long, D("1e-32")) == long
    assert quantize_to_step(long, D("1e-31")) == D("0.9999999999999999999999999999999")
