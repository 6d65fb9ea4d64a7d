"""Unit tests: InFlightOrder state machine, fills, waiting helpers and persistence."""
from __future__ import annotations

import asyncio
import json
import logging
import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbconnect.core.in_flight_order import ALLOWED_TRANSITIONS, InFlightOrder, OrderUpdate, TradeUpdate
from hbconnect.core.types import (
    AddedToCostTradeFee,
    OrderState,
    OrderType,
    PositionAction,
    TokenAmount,
    TradeType,
)

S = OrderState
PAIR = "BTC-USDT"


def new_order(amount="1", price="100", cid="cid-1", **kw) -> InFlightOrder:
    return InFlightOrder(cid, PAIR, kw.pop("order_type", OrderType.LIMIT), kw.pop("trade_type", TradeType.BUY),
                         D(amount), 1000.0, price=None if price is None else D(price), **kw)


def ou(state, ts=1001.0, cid="cid-1", eid=None, **kw) -> OrderUpdate:
    return OrderUpdate(trading_pair=PAIR, update_timestamp=ts, new_state=state, client_order_id=cid,
                       exchange_order_id=eid, **kw)


def tu(trade_id, amount, price="100", cid="cid-1", eid=None, fee=None, ts=1002.0) -> TradeUpdate:
    return TradeUpdate(trade_id=trade_id, client_order_id=cid, exchange_order_id=eid, trading_pair=PAIR,
                       fill_price=D(price), fill_base_amount=D(amount), fill_timestamp=ts,
                       fee=fee or AddedToCostTradeFee(flat_fees=[TokenAmount("USDT", D("0.01"))]))


def test_happy_path_open_partial_filled():
    o = new_order()
    assert o.is_pending_create and o.is_open and not o.is_done
    assert o.update_with_order_update(ou(S.OPEN, eid="E1"))
    assert o.current_state is S.OPEN and o.exchange_order_id == "E1"
    assert o.update_with_trade_update(tu("t1", "0.4", "100"))
    assert o.current_state is S.PARTIALLY_FILLED
    assert o.update_with_trade_update(tu("t2", "0.6", "101"))
    assert o.current_state is S.FILLED and o.is_done and o.is_filled
    assert o.executed_amount_base == D("1")
    assert o.executed_amount_quote == D("40") + D("60.6")
    assert o.average_executed_price == D("100.6")
    assert o.cumulative_fees == {"USDT": D("0.02")}
    assert o.cumulative_fee_paid("USDT") == D("0.02")
    assert o.last_update_timestamp == 1002.0


def test_duplicate_fill_is_counted_once():
    o = new_order()
    o.update_with_order_update(ou(S.OPEN))
    assert o.update_with_trade_update(tu("t1", "0.5"))
    assert not o.update_with_trade_update(tu("t1", "0.5"))
    # same trade id, even with different content: still the same trade
    assert not o.update_with_trade_update(tu("t1", "0.3"))
    assert o.executed_amount_base == D("0.5") and len(o.order_fills) == 1


def test_overfill_is_refused_and_logged(caplog):
    o = new_order(amount="1")
    assert o.update_with_trade_update(tu("t1", "0.7"))
    with caplog.at_level(logging.WARNING, logger="hbconnect.core.in_flight_order"):
        assert not o.update_with_trade_update(tu("t2", "0.4"))
    assert "refusing fill t2" in caplog.text
    assert o.executed_amount_base == D("0.7") and "t2" not in o.order_fills
    assert o.update_with_trade_update(tu("t3", "0.3"))
    assert o.is_done


@pytest.mark.parametrize("amount, price", [("0", "100"), ("-1", "100"), ("0.1", "0"), ("0.1", "-5")])
def test_bad_fills_are_refused(amount, price):
    o = new_order()
    assert not o.update_with_trade_update(tu("t", amount, price))
    assert o.executed_amount_base == 0 and o.current_state is S.PENDING_CREATE


def test_nan_fill_cannot_even_be_built():
    with pytest.raises(ValueError):
        tu("t", "nan")
    with pytest.raises(ValueError):
        TradeUpdate(trade_id="t", trading_pair=PAIR, fill_price="inf", fill_base_amount="1")


def test_fill_of_another_order_or_exchange_id_is_refused():
    o = new_order()
    o.update_with_order_update(ou(S.OPEN, eid="E1"))
    assert not o.update_with_trade_update(tu("t1", "0.1", cid="other"))
    assert not o.update_with_trade_update(tu("t1", "0.1", cid=None, eid="E2"))
    assert o.update_with_trade_update(tu("t1", "0.1", cid=None, eid="E1"))
    assert not o.update_with_order_update(ou(S.CANCELED, cid="other"))
    assert not o.update_with_order_update(ou(S.CANCELED, eid="E9"))
    assert o.current_state is S.PARTIALLY_FILLED


def test_fills_before_open():
    o = new_order()
    assert o.update_with_trade_update(tu("t1", "0.25", eid="E7"))
    assert o.current_state is S.PARTIALLY_FILLED and o.exchange_order_id == "E7"
    # the late OPEN acknowledgement must not move the order back
    assert not o.update_with_order_update(ou(S.OPEN, eid="E7"))
    assert o.current_state is S.PARTIALLY_FILLED
    assert o.update_with_trade_update(tu("t2", "0.75"))
    assert o.current_state is S.FILLED and o.is_done


def test_whole_fill_before_ack_completes():
    o = new_order()
    assert o.update_with_trade_update(tu("t1", "1"))
    assert o.current_state is S.FILLED and o.is_done
    assert not o.update_with_order_update(ou(S.OPEN))
    assert o.current_state is S.FILLED


def test_filled_before_fills_waits_for_fills():
    o = new_order(amount="2")
    o.update_with_order_update(ou(S.OPEN))
    assert o.update_with_order_update(ou(S.FILLED, executed_amount_base=D("2")))
    assert o.current_state is S.FILLED
    assert o.awaiting_fills and o.fills_pending and not o.is_done and not o.is_filled
    assert o.is_open is False  # the venue says it no longer trades
    o.update_with_trade_update(tu("t1", "1.5"))
    assert not o.is_done and o.awaiting_fills
    o.update_with_trade_update(tu("t2", "0.5"))
    assert o.is_done and not o.awaiting_fills and not o.fills_pending


def test_waive_fills_completes_filled_order():
    o = new_order(amount="2")
    o.update_with_order_update(ou(S.FILLED))
    o.update_with_trade_update(tu("t1", "1.5"))
    assert not o.is_done
    assert o.waive_fills()
    assert o.is_done and o.is_filled and not o.awaiting_fills
    assert not o.waive_fills()
    assert not new_order().waive_fills()  # only a FILLED order awaiting fills


def test_late_open_after_filled_does_not_reopen(caplog):
    o = new_order()
    o.update_with_trade_update(tu("t1", "1"))
    with caplog.at_level(logging.INFO, logger="hbconnect.core.in_flight_order"):
        for late in (S.OPEN, S.PENDING_CANCEL, S.CANCELED, S.FAILED, S.PENDING_CREATE):
            assert not o.update_with_order_update(ou(late))
    assert o.current_state is S.FILLED and o.is_done
    refusals = {r.getMessage(): r.levelno for r in caplog.records}
    assert refusals["order cid-1: refused transition FILLED -> OPEN"] == logging.INFO  # stale
    assert refusals["order cid-1: refused transition FILLED -> CANCELED"] == logging.WARNING  # contradiction


def test_cancel_after_fill_is_refused():
    o = new_order()
    o.update_with_order_update(ou(S.OPEN))
    o.update_with_trade_update(tu("t1", "1"))
    assert not o.update_with_order_update(ou(S.CANCELED))
    assert o.current_state is S.FILLED


def test_partial_fill_then_cancel_then_late_fill():
    o = new_order(amount="1")
    o.update_with_order_update(ou(S.OPEN))
    o.update_with_trade_update(tu("t1", "0.3"))
    assert o.update_with_order_update(ou(S.PENDING_CANCEL))
    # a partial fill while the cancel is pending keeps it pending
    o.update_with_trade_update(tu("t2", "0.2"))
    assert o.current_state is S.PENDING_CANCEL
    assert not o.update_with_order_update(ou(S.OPEN))  # stale poll
    assert o.update_with_order_update(ou(S.CANCELED, executed_amount_base=D("0.6")))
    assert o.is_done and o.is_cancelled and o.fills_pending
    # the venue traded before cancelling: the late fill counts, the state stays CANCELED
    assert o.update_with_trade_update(tu("t3", "0.1"))
    assert o.current_state is S.CANCELED and o.executed_amount_base == D("0.6") and not o.fills_pending
    assert not o.update_with_order_update(ou(S.OPEN))


def test_fill_of_a_failed_order_counts_keeps_failed_and_warns(caplog):
    o = new_order(amount="1")
    o.update_with_order_update(ou(S.FAILED, error_message="never accepted"))
    with caplog.at_level("WARNING", logger="hbconnect.core.in_flight_order"):
        assert o.update_with_trade_update(tu("t1", "1"))
    assert o.current_state is S.FAILED and o.executed_amount_base == D("1")
    assert "marked FAILED" in caplog.text


def test_pending_cancel_then_filled():
    o = new_order()
    o.update_with_order_update(ou(S.OPEN))
    o.update_with_order_update(ou(S.PENDING_CANCEL))
    o.update_with_trade_update(tu("t1", "1"))
    assert o.current_state is S.FILLED and o.is_done


def test_revert_pending_cancel():
    o = new_order()
    o.update_with_order_update(ou(S.OPEN))
    assert not o.revert_pending_cancel()
    o.update_with_order_update(ou(S.PENDING_CANCEL))
    assert o.revert_pending_cancel() and o.current_state is S.OPEN
    o.update_with_trade_update(tu("t1", "0.5"))
    o.update_with_order_update(ou(S.PENDING_CANCEL))
    assert o.revert_pending_cancel() and o.current_state is S.PARTIALLY_FILLED


def test_failed_keeps_error_and_is_terminal():
    o = new_order()
    assert o.update_with_order_update(ou(S.FAILED, error_message="Account has insufficient balance"))
    assert o.is_done and o.is_failure and o.error_message == "Account has insufficient balance"
    assert not o.update_with_order_update(ou(S.OPEN))


def test_exchange_order_id_set_once():
    o = new_order()
    assert o.update_exchange_order_id(123)
    assert o.exchange_order_id == "123"
    assert not o.update_exchange_order_id("456")
    assert o.exchange_order_id == "123"


def test_repeated_update_is_not_a_change():
    o = new_order()
    assert o.update_with_order_update(ou(S.OPEN, eid="E"))
    assert not o.update_with_order_update(ou(S.OPEN, eid="E"))


def test_transition_table_has_no_exit_from_terminal_states():
    for state in (S.CANCELED, S.FILLED, S.FAILED):
        assert not ALLOWED_TRANSITIONS[state]
    for state, targets in ALLOWED_TRANSITIONS.items():
        assert S.PENDING_CREATE not in targets
        assert state not in targets


def test_invalid_construction():
    with pytest.raises(ValueError):
        new_order(amount="0")
    with pytest.raises(ValueError):
        new_order(amount="nan")


def test_json_round_trip_through_text():
    o = new_order(amount="2", price="99.5", leverage=10, position=PositionAction.OPEN,
                  trade_type=TradeType.SELL, order_type=OrderType.LIMIT_MAKER)
    o.update_with_order_update(ou(S.OPEN, eid="E5", executed_amount_base=D("1.25")))
    o.update_with_trade_update(tu("t1", "0.75", "99.5"))
    o.update_with_trade_update(tu("t2", "0.5", "99.6", fee=AddedToCostTradeFee(D("0.001"))))
    back = InFlightOrder.from_json(json.loads(json.dumps(o.to_json())))
    for attr in ("client_order_id", "exchange_order_id", "trading_pair", "order_type", "trade_type", "amount",
                 "price", "creation_timestamp", "last_update_timestamp", "leverage", "position",
                 "current_state", "executed_amount_base", "executed_amount_quote",
                 "venue_executed_amount_base", "fills_waived"):
        assert getattr(back, attr) == getattr(o, attr), attr
    assert back.order_fills == o.order_fills
    assert back.cumulative_fees == o.cumulative_fees
    # duplicates are still recognised after the restore
    assert not back.update_with_trade_update(tu("t1", "0.75", "99.5"))


def test_from_json_hummingbot_state_values_and_bad_data():
    data = new_order().to_json()
    data["last_state"] = "1"  # Hummingbot saves the enum value as text
    assert InFlightOrder.from_json(data).current_state is S.OPEN
    data = new_order(amount="1").to_json()
    data["order_fills"] = {"t": tu("t", "1").to_json(), "u": tu("u", "1").to_json()}
    with pytest.raises(ValueError):
        InFlightOrder.from_json(data)


def test_repr_has_no_noise():
    o = new_order()
    r = repr(o)
    assert "cid-1" in r and "BTC-USDT" in r and "PENDING_CREATE" in r
    assert "_waiters" not in r


def test_market_order_without_price():
    o = new_order(price=None, order_type=OrderType.MARKET)
    assert o.price is None and o.average_executed_price is None
    o.update_with_trade_update(tu("t", "1", "250.5"))
    assert o.average_executed_price == D("250.5")


# ---- waiting helpers ----
def test_wait_until_exchange_order_id_set():
    async def main():
        o = new_order()
        waiter = asyncio.ensure_future(o.wait_until_exchange_order_id_set(timeout=5))
        await asyncio.sleep(0)
        assert not waiter.done()
        o.update_with_order_update(ou(S.OPEN, eid="E42"))
        assert await waiter == "E42"
        # already set: returns at once
        assert await o.wait_until_exchange_order_id_set() == "E42"
        # an order that fails without an id wakes its waiter with None
        o2 = new_order(cid="cid-2")
        w2 = asyncio.ensure_future(o2.wait_until_exchange_order_id_set())
        await asyncio.sleep(0)
        o2.update_with_order_update(ou(S.FAILED, cid="cid-2"))
        assert await w2 is None
        o3 = new_order(cid="x")
        for _ in range(3):  # a caller polling with a timeout
            with pytest.raises(asyncio.TimeoutError):
                await o3.wait_until_exchange_order_id_set(timeout=0.01)
        assert not o3._waiters  # timed-out waits leave nothing behind
    asyncio.run(main())


def test_wait_until_completely_filled_and_done():
    async def main():
        o = new_order(amount="1")
        filled = asyncio.ensure_future(o.wait_until_completely_filled(timeout=5))
        done = asyncio.ensure_future(o.wait_until_done(timeout=5))
        await asyncio.sleep(0)
        o.update_with_order_update(ou(S.FILLED))
        await asyncio.sleep(0)
        assert not filled.done() and not done.done()  # FILLED without fills is not complete
        o.update_with_trade_update(tu("t1", "0.5"))
        await asyncio.sleep(0)
        assert not filled.done()
        o.update_with_trade_update(tu("t2", "0.5"))
        assert await filled is True
        assert await done is S.FILLED
        o2 = new_order(cid="c2")
        f2 = asyncio.ensure_future(o2.wait_until_completely_filled())
        await asyncio.sleep(0)
        o2.update_with_order_update(ou(S.CANCELED, cid="c2"))
        assert await f2 is False
    asyncio.run(main())


# ---- property: any interleaving, with duplicates, gives the same counted result ----
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8),
       st.integers(min_value=0, max_value=2**32), st.booleans())
def test_random_orderings_count_each_fill_once(parts, seed, filled_update_first):
    rng = random.Random(seed)
    amount = D(sum(parts)) / D(10)
    fills = [tu(f"t{i}", str(D(p) / D(10))) for i, p in enumerate(parts)]
    events = [("fill", f) for f in fills] + [("fill", rng.choice(fills)) for _ in range(rng.randint(0, 5))]
    events += [("state", S.OPEN), ("state", S.OPEN)]
    rng.shuffle(events)
    if filled_update_first:
        events.insert(0, ("state", S.FILLED))
    else:
        events.append(("state", S.FILLED))
    o = new_order(amount=str(amount))
    done_seen = False
    for kind, item in events:
        if kind == "fill":
            o.update_with_trade_update(item)
        else:
            o.update_with_order_update(ou(item))
        if done_seen:
            assert o.is_done  # once done, always done
        done_seen = done_seen or o.is_done
        assert o.executed_amount_base <= o.amount
    assert o.executed_amount_base == amount
    assert len(o.order_fills) == len(parts)
    assert o.current_state is S.FILLED and o.is_done
    assert o.executed_amount_quote == sum((f.fill_quote_amount for f in fills), D(0))
