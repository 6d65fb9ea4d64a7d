"""Decimals with huge exponents are refused before any text or arithmetic is made: formatting
``Decimal("1e-100000000")`` in full takes 100 MB (200 MB with the copy), and the arithmetic of
such values raises decimal's own signals instead of the documented ValueError."""
from __future__ import annotations

import tracemalloc
from decimal import Decimal as D

import pytest

from hbconnect.core.trading_rule import TradingRule, quantize_to_step, round_significant
from hbconnect.core.types import decimal_text

HUGE = [D("1e-100000000"), D("1e+100000000"), D("-1e-100000000"), D("1e-1001"), D("1e+1001")]


def bounded(fn):
    """Run ``fn``; its peak allocation stays far below the full text of the value."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1_000_000, peak


@pytest.mark.parametrize("value", HUGE + [D("NaN"), D("Infinity"), D("-Infinity")])
def test_decimal_text_refuses_out_of_range_values_before_formatting(value):
    def go():
        with pytest.raises(ValueError, match="out of range|not a finite"):
            decimal_text(value)
    bounded(go)


@pytest.mark.parametrize("value,text", [(D("1E+1"), "10"), (D("0.0100"), "0.01"), (D("100"), "100"),
                                        (D("0E-100000000"), "0"), (D("-0"), "0"), (D("1e-8"), "0.00000001"),
                                        (D("123.4500"), "123.45"), (D("1e-1000"), "0." + "0" * 999 + "1")])
def test_decimal_text_of_ordinary_values(value, text):
    assert decimal_text(value) == text


@pytest.mark.parametrize("value", HUGE)
def test_rounding_helpers_raise_value_error(value):
    def go():
        for step in (D("0.01"), D("0.03")):
            with pytest.raises(ValueError):
                quantize_to_step(value, step)
        with pytest.raises(ValueError):
            round_significant(value, 5)
        rule = TradingRule("BTC-USDT", min_price_increment=D("0.01"), min_base_amount_increment=D("0.001"))
        with pytest.raises(ValueError):
            rule.quantize_price(value)
        with pytest.raises(ValueError):
            rule.quantize_amount(value)
    bounded(go)


def test_zero_with_a_huge_exponent_is_zero():
    assert quantize_to_step(D("0E-100000000"), D("0.01")) == 0
    assert round_significant(D("0E-100000000"), 5) == 0
