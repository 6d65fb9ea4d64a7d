"""Unit tests: event shapes (Hummingbot field names) and the EventHub."""
from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from hbconnect.core import events as ev_mod
from hbconnect.core.events import EventHub, MarketEvent, OrderCancelledEvent, TaggedEvent


# Field names as in hummingbot/core/event/events.py (checked against its source).
HB_FIELDS = {
    "BuyOrderCreatedEvent": ["timestamp", "type", "trading_pair", "amount", "price", "order_id",
                             "creation_timestamp", "exchange_order_id", "leverage", "position"],
    "SellOrderCreatedEvent": ["timestamp", "type", "trading_pair", "amount", "price", "order_id",
                              "creation_timestamp", "exchange_order_id", "leverage", "position"],
    "OrderFilledEvent": ["timestamp", "order_id", "trading_pair", "trade_type", "order_type", "price", "amount",
                         "trade_fee", "exchange_trade_id", "exchange_order_id", "leverage", "position"],
    "BuyOrderCompletedEvent": ["timestamp", "order_id", "base_asset", "quote_asset", "base_asset_amount",
                               "quote_asset_amount", "order_type", "exchange_order_id"],
    "SellOrderCompletedEvent": ["timestamp", "order_id", "base_asset", "quote_asset", "base_asset_amount",
                                "quote_asset_amount", "order_type", "exchange_order_id"],
    "OrderCancelledEvent": ["timestamp", "order_id", "exchange_order_id"],
    "MarketOrderFailureEvent": ["timestamp", "order_id", "order_type"],
    "FundingPaymentCompletedEvent": ["timestamp", "market", "trading_pair", "amount", "funding_rate"],
    "BalanceUpdateEvent": ["timestamp", "asset_name", "total_balance", "available_balance"],
    "PositionUpdateEvent": ["timestamp", "trading_pair", "position_side", "unrealized_pnl", "entry_price",
                            "amount", "leverage"],
}


@pytest.mark.parametrize("name", sorted(HB_FIELDS))
def test_event_fields_match_hummingbot(name):
    fields = [f.name for f in dataclasses.fields(getattr(ev_mod, name))]
    expected = HB_FIELDS[name]
    assert fields[:len(expected)] == expected  # same order, so positional construction works too


def test_market_event_values_match_hummingbot():
    assert MarketEvent.BuyOrderCompleted.value == 102
    assert MarketEvent.SellOrderCompleted.value == 103
    assert MarketEvent.OrderCancelled.value == 106
    assert MarketEvent.OrderFilled.value == 107
    assert MarketEvent.OrderFailure.value == 198
    assert MarketEvent.BuyOrderCreated.value == 200
    assert MarketEvent.SellOrderCreated.value == 201
    assert MarketEvent.FundingPaymentCompleted.value == 202
    for name in ("BalanceUpdate", "PositionUpdate", "OrderBookUpdate", "TradeUpdate"):
        assert name in MarketEvent.__members__


def cancelled(i):
    return OrderCancelledEvent(float(i), f"o{i}")


def test_listeners_add_remove_and_order():
    hub = EventHub()
    seen = []
    a = lambda e: seen.append(("a", e.order_id))  # noqa: E731
    b = lambda e: seen.append(("b", e.order_id))  # noqa: E731
    hub.add_listener(MarketEvent.OrderCancelled, a)
    hub.add_listener(MarketEvent.OrderCancelled, b)
    hub.add_listener(MarketEvent.OrderCancelled, a)  # no double registration
    hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
    hub.trigger_event(MarketEvent.OrderFilled, cancelled(2))  # other tag: nobody listens
    assert seen == [("a", "o1"), ("b", "o1")]
    assert hub.remove_listener(MarketEvent.OrderCancelled, a)
    assert not hub.remove_listener(MarketEvent.OrderCancelled, a)
    hub.trigger_event(MarketEvent.OrderCancelled, cancelled(3))
    assert seen[-1] == ("b", "o3") and len(seen) == 3
    assert hub.get_listeners(MarketEvent.OrderCancelled) == (b,)


def test_listener_removing_itself_during_delivery():
    hub = EventHub()
    seen = []

    def once(e):
        seen.append("once")
        hub.remove_listener(MarketEvent.OrderCancelled, once)

    hub.add_listener(MarketEvent.OrderCancelled, once)
    hub.add_listener(MarketEvent.OrderCancelled, lambda e: seen.append("other"))
    hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
    hub.trigger_event(MarketEvent.OrderCancelled, cancelled(2))
    assert seen == ["once", "other", "other"]


def test_raising_callback_is_logged_and_isolated(caplog):
    hub = EventHub()
    seen = []

    def bad(e):
        raise ValueError("strategy bug")

    hub.add_listener(MarketEvent.OrderCancelled, bad)
    hub.add_listener(MarketEvent.OrderCancelled, lambda e: seen.append(e.order_id))
    with caplog.at_level(logging.ERROR, logger="hbconnect.core.events"):
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
    assert seen == ["o1"]
    assert hub.callback_errors == 1
    assert "strategy bug" in caplog.text and "OrderCancelled" in caplog.text


def test_async_callbacks_are_scheduled_and_errors_contained(caplog):
    async def main():
        hub = EventHub()
        seen = []

        async def good(e):
            await asyncio.sleep(0)
            seen.append(e.order_id)

        async def bad(e):
            raise RuntimeError("async strategy bug")

        hub.add_listener(MarketEvent.OrderCancelled, good)
        hub.add_listener(MarketEvent.OrderCancelled, bad)
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
        assert seen == []  # trigger_event did not wait for the coroutine
        for _ in range(5):
            await asyncio.sleep(0)
        assert seen == ["o1"]
        assert hub.callback_errors == 1
    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "async strategy bug" in caplog.text


def test_async_callback_outside_loop_is_counted():
    hub = EventHub()

    async def cb(e):
        pass

    hub.add_listener(MarketEvent.OrderCancelled, cb)
    hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
    assert hub.callback_errors == 1


def test_subscription_iterates_in_order_and_filters_tags():
    async def main():
        hub = EventHub()
        sub = hub.subscribe([MarketEvent.OrderCancelled, MarketEvent.OrderFilled])
        everything = hub.subscribe()
        got = []

        async def consume():
            async for tag, event in sub:
                got.append((tag, event.order_id))

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
        hub.trigger_event(MarketEvent.BuyOrderCreated, cancelled(2))  # not subscribed by `sub`
        hub.trigger_event(MarketEvent.OrderFilled, cancelled(3))
        await asyncio.sleep(0)
        sub.close()
        await asyncio.wait_for(task, 1)
        assert got == [(MarketEvent.OrderCancelled, "o1"), (MarketEvent.OrderFilled, "o3")]
        assert everything.qsize() == 3
        assert isinstance(everything.get_nowait(), TaggedEvent)
        # a closed subscription receives nothing more
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(4))
        assert sub.qsize() == 0
        assert sub not in hub.subscriptions and everything in hub.subscriptions
    asyncio.run(main())


def test_overflow_drop_oldest_and_newest():
    hub = EventHub()
    oldest = hub.subscribe([MarketEvent.OrderCancelled], maxsize=3)
    newest = hub.subscribe([MarketEvent.OrderCancelled], maxsize=3, overflow="drop_newest")
    for i in range(10):
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(i))
    assert oldest.dropped == 7 and newest.dropped == 7 and hub.dropped_events == 14
    assert [oldest.get_nowait().event.order_id for _ in range(3)] == ["o7", "o8", "o9"]
    assert [newest.get_nowait().event.order_id for _ in range(3)] == ["o0", "o1", "o2"]
    with pytest.raises(LookupError):
        oldest.get_nowait()
    with pytest.raises(ValueError):
        hub.subscribe(maxsize=0)
    with pytest.raises(ValueError):
        hub.subscribe(overflow="block")


def test_get_with_timeout_and_context_manager():
    async def main():
        hub = EventHub()
        async with hub.subscribe([MarketEvent.OrderCancelled]) as sub:
            with pytest.raises(asyncio.TimeoutError):
                await sub.get(timeout=0.01)
            hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
            tag, event = await sub.get(timeout=1)
            assert event.order_id == "o1" and sub.delivered == 1
        assert sub.closed
        with pytest.raises(StopAsyncIteration):
            await sub.get()
    asyncio.run(main())


def test_close_wakes_waiting_consumer_and_hub_close():
    async def main():
        hub = EventHub()
        sub = hub.subscribe()
        task = asyncio.ensure_future(sub.get())
        await asyncio.sleep(0)
        hub.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(task, 1)
        assert hub.subscriptions == []
    asyncio.run(main())


def test_buffered_events_drain_after_close():
    async def main():
        hub = EventHub()
        sub = hub.subscribe()
        for i in range(3):
            hub.trigger_event(MarketEvent.OrderCancelled, cancelled(i))
        sub.close()
        got = [e.order_id async for _, e in sub]
        assert got == ["o0", "o1", "o2"]
    asyncio.run(main())


def test_several_consumers_of_one_subscription_and_a_cancelled_one():
    async def main():
        hub = EventHub()
        sub = hub.subscribe([MarketEvent.OrderCancelled])
        got = []

        async def consume():
            got.append((await sub.get(timeout=5)).event.order_id)

        quitter = asyncio.ensure_future(sub.get())
        consumers = [asyncio.ensure_future(consume()) for _ in range(2)]
        await asyncio.sleep(0)
        quitter.cancel()  # a consumer that gives up must not take a wake-up with it
        await asyncio.sleep(0)
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(1))
        hub.trigger_event(MarketEvent.OrderCancelled, cancelled(2))
        await asyncio.wait_for(asyncio.gather(*consumers), 5)
        return sorted(got), sub.qsize()

    assert asyncio.run(main()) == (["o1", "o2"], 0)
