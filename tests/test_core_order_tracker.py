"""Unit tests: OrderTracker events (exactly once), lost orders, cache, persistence."""
from __future__ import annotations

import json
import random
from decimal import Decimal as D

import pytest

from hbconnect.core.events import (
    BuyOrderCompletedEvent,
    BuyOrderCreatedEvent,
    EventHub,
    MarketEvent,
    MarketOrderFailureEvent,
    OrderCancelledEvent,
    OrderFilledEvent,
    SellOrderCompletedEvent,
    SellOrderCreatedEvent,
)
from hbconnect.core.in_flight_order import InFlightOrder, OrderUpdate, TradeUpdate
from hbconnect.core.order_tracker import OrderTracker
from hbconnect.core.types import AddedToCostTradeFee, OrderState, OrderType, PositionAction, TokenAmount, TradeType

S = OrderState
PAIR = "ETH-USDT"


class Clock:
    def __init__(self, now: float = 5000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Collects every event the hub emits, in order."""

    def __init__(self, hub: EventHub) -> None:
        self.events = []
        for tag in MarketEvent:
            hub.add_listener(tag, lambda ev, tag=tag: self.events.append((tag, ev)))

    def tags(self):
        return [t for t, _ in self.events]

    def of(self, tag):
        return [e for t, e in self.events if t is tag]


@pytest.fixture
def env():
    clock = Clock()
    hub = EventHub()
    tracker = OrderTracker(hub, lost_order_count_limit=3, cached_order_ttl=60.0, time_fn=clock)
    return tracker, Recorder(hub), clock


def order(cid="c1", amount="2", price="1500", trade_type=TradeType.BUY, order_type=OrderType.LIMIT, **kw):
    return InFlightOrder(cid, PAIR, order_type, trade_type, D(amount), 4000.0,
                         price=None if price is None else D(price), **kw)


def ou(state, cid="c1", eid=None, **kw):
    return OrderUpdate(trading_pair=PAIR, update_timestamp=4001.0, new_state=state, client_order_id=cid,
                       exchange_order_id=eid, **kw)


def tu(tid, amount, price="1500", cid="c1", eid=None):
    return TradeUpdate(trade_id=tid, client_order_id=cid, exchange_order_id=eid, trading_pair=PAIR,
                       fill_price=D(price), fill_base_amount=D(amount), fill_timestamp=4002.0,
                       fee=AddedToCostTradeFee(flat_fees=[TokenAmount("USDT", D("0.1"))]), is_taker=False)


def test_buy_lifecycle_events(env):
    tracker, rec, clock = env
    o = order()
    tracker.start_tracking_order(o)
    assert tracker.active_orders == {"c1": o}
    assert tracker.process_order_update(ou(S.OPEN, eid="E1"))
    assert tracker.process_trade_update(tu("t1", "0.5"))
    assert tracker.process_trade_update(tu("t2", "1.5", "1499"))
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderFilled, MarketEvent.OrderFilled,
                          MarketEvent.BuyOrderCompleted]
    created = rec.of(MarketEvent.BuyOrderCreated)[0]
    assert isinstance(created, BuyOrderCreatedEvent)
    assert (created.order_id, created.trading_pair, created.amount, created.price, created.type,
            created.exchange_order_id, created.creation_timestamp, created.timestamp) == (
        "c1", PAIR, D("2"), D("1500"), OrderType.LIMIT, "E1", 4000.0, 5000.0)
    fill = rec.of(MarketEvent.OrderFilled)[1]
    assert isinstance(fill, OrderFilledEvent)
    assert (fill.order_id, fill.price, fill.amount, fill.exchange_trade_id, fill.exchange_order_id,
            fill.trade_type, fill.order_type, fill.is_taker, fill.position) == (
        "c1", D("1499"), D("1.5"), "t2", "E1", TradeType.BUY, OrderType.LIMIT, False, "NIL")
    assert fill.trade_fee.flat_fees == [TokenAmount("USDT", D("0.1"))]
    done = rec.of(MarketEvent.BuyOrderCompleted)[0]
    assert isinstance(done, BuyOrderCompletedEvent)
    assert (done.base_asset, done.quote_asset, done.base_asset_amount, done.quote_asset_amount,
            done.exchange_order_id) == ("ETH", "USDT", D("2"), D("750") + D("2248.5"), "E1")
    assert tracker.active_orders == {} and tracker.fetch_cached_order("c1") is o


def test_sell_events_use_sell_classes(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(trade_type=TradeType.SELL, amount="1"))
    tracker.process_order_update(ou(S.OPEN))
    tracker.process_trade_update(tu("t1", "1"))
    assert isinstance(rec.of(MarketEvent.SellOrderCreated)[0], SellOrderCreatedEvent)
    assert isinstance(rec.of(MarketEvent.SellOrderCompleted)[0], SellOrderCompletedEvent)
    assert not rec.of(MarketEvent.BuyOrderCreated)


def test_processing_is_idempotent(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order())
    for _ in range(3):
        tracker.process_order_update(ou(S.OPEN, eid="E1"))
        tracker.process_trade_update(tu("t1", "1"))
        tracker.process_trade_update(tu("t1", "1", eid="E1"))  # the same trade seen on another channel
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderFilled]
    assert tracker.duplicate_fills == 5
    tracker.process_trade_update(tu("t2", "1"))
    for _ in range(2):
        tracker.process_trade_update(tu("t2", "1"))
        tracker.process_order_update(ou(S.FILLED))
        tracker.process_order_update(ou(S.OPEN))  # late and stale
    assert rec.tags().count(MarketEvent.BuyOrderCompleted) == 1
    assert rec.tags().count(MarketEvent.OrderFilled) == 2


def test_fill_before_ack_emits_created_first(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order())
    tracker.process_trade_update(tu("t1", "0.5", eid="E9"))
    tracker.process_order_update(ou(S.OPEN, eid="E9"))
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderFilled]
    assert rec.of(MarketEvent.BuyOrderCreated)[0].exchange_order_id == "E9"


def test_filled_before_fills_completes_when_fills_arrive(env):
    tracker, rec, _ = env
    o = order(amount="2")
    tracker.start_tracking_order(o)
    tracker.process_order_update(ou(S.FILLED, eid="E1", executed_amount_base=D("2")))
    assert rec.tags() == [MarketEvent.BuyOrderCreated]
    assert "c1" in tracker.active_orders and o.awaiting_fills
    assert tracker.orders_awaiting_fills == {"c1": o}
    tracker.process_trade_update(tu("t1", "1", eid="E1"))
    assert MarketEvent.BuyOrderCompleted not in rec.tags()
    tracker.process_trade_update(tu("t2", "1", eid="E1"))
    assert rec.tags()[-1] is MarketEvent.BuyOrderCompleted
    assert rec.of(MarketEvent.BuyOrderCompleted)[0].base_asset_amount == D("2")
    assert tracker.orders_awaiting_fills == {} and tracker.active_orders == {}


def test_waive_missing_fills(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(amount="2"))
    tracker.process_order_update(ou(S.FILLED))
    tracker.process_trade_update(tu("t1", "1.5"))
    assert not tracker.waive_missing_fills("unknown")
    assert tracker.waive_missing_fills("c1")
    done = rec.of(MarketEvent.BuyOrderCompleted)
    assert len(done) == 1 and done[0].base_asset_amount == D("1.5")
    assert tracker.active_orders == {}


def test_cancel_and_late_fill_of_cached_order(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(amount="2"))
    tracker.process_order_update(ou(S.OPEN, eid="E1"))
    tracker.process_trade_update(tu("t1", "0.5"))
    tracker.process_order_update(ou(S.CANCELED, executed_amount_base=D("0.8")))
    assert rec.tags()[-1] is MarketEvent.OrderCancelled
    assert isinstance(rec.of(MarketEvent.OrderCancelled)[0], OrderCancelledEvent)
    assert rec.of(MarketEvent.OrderCancelled)[0].exchange_order_id == "E1"
    assert tracker.active_orders == {} and "c1" in tracker.orders_awaiting_fills
    # a fill the venue made before cancelling, arriving late (by exchange id only)
    assert tracker.process_trade_update(tu("t2", "0.3", cid=None, eid="E1"))
    assert rec.tags()[-1] is MarketEvent.OrderFilled
    assert rec.tags().count(MarketEvent.OrderCancelled) == 1
    assert tracker.fetch_order("c1").executed_amount_base == D("0.8")
    assert tracker.orders_awaiting_fills == {}


def test_failure_event(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(order_type=OrderType.LIMIT_MAKER))
    tracker.process_order_update(ou(S.FAILED, error_message="Order would immediately match and take."))
    assert rec.tags() == [MarketEvent.OrderFailure]
    ev = rec.of(MarketEvent.OrderFailure)[0]
    assert isinstance(ev, MarketOrderFailureEvent)
    assert (ev.order_id, ev.order_type, ev.error_message) == (
        "c1", OrderType.LIMIT_MAKER, "Order would immediately match and take.")


def test_ack_then_cancel_emits_created_then_cancelled(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order())
    tracker.process_order_update(ou(S.CANCELED, eid="E1"))  # IOC expired / cancelled at once
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderCancelled]


def test_unknown_updates_are_counted_and_ignored(env):
    tracker, rec, _ = env
    assert not tracker.process_order_update(ou(S.OPEN, cid="nope"))
    assert not tracker.process_trade_update(tu("t", "1", cid="nope"))
    assert tracker.unknown_order_updates == 1 and tracker.unknown_trade_updates == 1
    assert rec.events == []


def test_overfill_counted_as_rejected(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(amount="1"))
    assert not tracker.process_trade_update(tu("t1", "1.5"))
    assert tracker.rejected_fills == 1 and rec.events == []


def test_refused_transition_counted(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order(amount="1"))
    tracker.process_trade_update(tu("t1", "1"))
    tracker.process_order_update(ou(S.CANCELED))
    assert tracker.refused_updates == 1
    assert tracker.fetch_order("c1").current_state is S.FILLED


def test_fetch_by_exchange_id(env):
    tracker, _, _ = env
    o = order()
    tracker.start_tracking_order(o)
    assert tracker.fetch_order(exchange_order_id="E5") is None
    o.update_exchange_order_id("E5")  # set directly by the connector after its REST answer
    assert tracker.fetch_order(exchange_order_id="E5") is o
    assert tracker.fetch_order(client_order_id="zz", exchange_order_id="E5") is o
    assert tracker.process_order_update(ou(S.OPEN, cid=None, eid="E5"))
    assert o.current_state is S.OPEN


def test_done_order_stays_findable_by_an_exchange_id_set_directly(env):
    tracker, _, _ = env
    o = order()
    tracker.start_tracking_order(o)
    o.update_exchange_order_id("E7")  # not indexed by the tracker yet
    tracker.stop_tracking_order("c1")
    assert tracker.fetch_order(exchange_order_id="E7") is o  # from the done-order cache
    assert tracker.fetch_order(exchange_order_id="E8") is None


def test_not_found_three_times_becomes_lost(env):
    tracker, rec, _ = env
    o = order()
    tracker.start_tracking_order(o)
    assert not tracker.process_order_not_found("c1")
    assert not tracker.process_order_not_found("c1")
    assert tracker.not_found_count("c1") == 2 and "c1" in tracker.active_orders
    assert tracker.process_order_not_found("c1")
    assert tracker.lost_orders == {"c1": o} and tracker.active_orders == {}
    assert tracker.orders_lost == 1
    assert o.current_state is S.PENDING_CREATE  # not failed: the connector reconciles
    assert "c1" in tracker.all_updatable_orders and "c1" in tracker.all_fillable_orders
    assert not tracker.process_order_not_found("c1")  # already lost
    assert rec.events == []
    # the venue finally confirms it never had it: the connector fails it
    tracker.process_order_update(ou(S.FAILED, error_message="order does not exist"))
    assert rec.tags() == [MarketEvent.OrderFailure]
    assert tracker.lost_orders == {} and tracker.fetch_cached_order("c1") is o


def test_not_found_count_resets_when_the_venue_speaks(env):
    tracker, _, _ = env
    tracker.start_tracking_order(order())
    tracker.process_order_not_found("c1")
    tracker.process_order_not_found("c1")
    tracker.process_order_update(ou(S.OPEN))
    assert tracker.not_found_count("c1") == 0
    assert not tracker.process_order_not_found("c1")
    assert "c1" in tracker.active_orders


def test_lost_order_found_again_by_fill(env):
    tracker, rec, _ = env
    o = order(amount="2")
    tracker.start_tracking_order(o)
    for _ in range(3):
        tracker.process_order_not_found("c1")
    assert "c1" in tracker.lost_orders
    tracker.process_trade_update(tu("t1", "1"))
    assert "c1" in tracker.active_orders and tracker.lost_orders == {}
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderFilled]
    for _ in range(3):
        tracker.process_order_not_found("c1")
    tracker.process_trade_update(tu("t2", "1"))  # completes while lost
    assert tracker.lost_orders == {} and tracker.active_orders == {}
    assert rec.tags()[-1] is MarketEvent.BuyOrderCompleted


def test_lost_order_cancelled(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order())
    tracker.process_order_update(ou(S.OPEN))
    for _ in range(3):
        tracker.process_order_not_found("c1")
    tracker.process_order_update(ou(S.CANCELED))
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderCancelled]
    assert tracker.lost_orders == {}


def test_configurable_lost_limit():
    tracker = OrderTracker(lost_order_count_limit=1)
    tracker.start_tracking_order(order())
    assert tracker.process_order_not_found("c1")
    with pytest.raises(ValueError):
        OrderTracker(lost_order_count_limit=0)


def test_stop_tracking_and_cache_expiry(env):
    tracker, rec, clock = env
    o = order()
    tracker.start_tracking_order(o)
    tracker.start_tracking_order(o)  # twice: ignored
    o.update_exchange_order_id("E1")
    assert tracker.stop_tracking_order("c1") is o
    assert tracker.stop_tracking_order("c1") is None
    assert tracker.cached_orders == {"c1": o}
    clock.now += 59
    assert tracker.process_trade_update(tu("t1", "1", cid=None, eid="E1"))  # still findable
    clock.now += 2
    assert tracker.cached_orders == {}
    assert tracker.fetch_order("c1") is None and tracker.fetch_order(exchange_order_id="E1") is None
    assert not tracker.process_trade_update(tu("t2", "1"))


def test_cache_is_bounded():
    tracker = OrderTracker(max_cached_orders=5)
    for i in range(20):
        tracker.start_tracking_order(order(cid=f"c{i}"))
        tracker.process_order_update(ou(S.CANCELED, cid=f"c{i}"))
    assert list(tracker.cached_orders) == [f"c{i}" for i in range(15, 20)]


def test_revert_pending_cancel(env):
    tracker, _, _ = env
    tracker.start_tracking_order(order())
    tracker.process_order_update(ou(S.OPEN))
    tracker.process_order_update(ou(S.PENDING_CANCEL))
    assert tracker.revert_pending_cancel("c1")
    assert tracker.fetch_order("c1").current_state is S.OPEN
    assert not tracker.revert_pending_cancel("c1")


def test_tracking_states_round_trip_across_restart(env):
    tracker, rec, _ = env
    a = order("a", amount="2", leverage=5, position=PositionAction.OPEN)
    b = order("b", amount="1", trade_type=TradeType.SELL)
    c = order("c", amount="1")
    for o in (a, b, c):
        tracker.start_tracking_order(o)
    tracker.process_order_update(ou(S.OPEN, cid="a", eid="EA"))
    tracker.process_trade_update(tu("ta1", "0.5", cid="a"))
    tracker.process_order_update(ou(S.OPEN, cid="b", eid="EB"))
    tracker.process_order_update(ou(S.CANCELED, cid="b"))  # done: not saved
    for _ in range(3):
        tracker.process_order_not_found("c")  # lost: saved
    text = json.dumps(tracker.tracking_states)
    assert set(json.loads(text)) == {"a", "c"}

    hub2 = EventHub()
    rec2 = Recorder(hub2)
    t2 = OrderTracker(hub2)
    restored = t2.restore_tracking_states(json.loads(text))
    assert {o.client_order_id for o in restored} == {"a", "c"}
    ra = t2.fetch_order("a")
    assert ra.executed_amount_base == D("0.5") and ra.current_state is S.PARTIALLY_FILLED
    assert ra.leverage == 5 and ra.position is PositionAction.OPEN
    assert t2.fetch_order(exchange_order_id="EA") is ra
    # the fill already counted before the restart is not counted again
    assert not t2.process_trade_update(tu("ta1", "0.5", cid="a"))
    assert t2.process_trade_update(tu("ta2", "1.5", cid="a"))
    assert [t for t, _ in rec2.events] == [MarketEvent.OrderFilled, MarketEvent.BuyOrderCompleted]
    # restoring again keeps the live objects
    # restoring again changes nothing: "c" is still tracked, "a" is done (cached) and stays done
    rc = t2.fetch_tracked_order("c")
    assert t2.restore_tracking_states(json.loads(text)) == []
    assert t2.fetch_tracked_order("c") is rc
    assert t2.fetch_tracked_order("a") is None and t2.fetch_order("a") is ra and ra.is_done


def test_restore_skips_malformed_entries(env, caplog):
    tracker, _, _ = env
    good = order("g").to_json()
    bad = dict(order("b").to_json(), amount="-1")
    missing = {"client_order_id": "m"}
    restored = tracker.restore_tracking_states({"g": good, "b": bad, "m": missing})
    assert [o.client_order_id for o in restored] == ["g"]
    assert "cannot restore saved order b" in caplog.text
    assert "cannot restore saved order m" in caplog.text


def test_restore_does_not_duplicate_tracked_orders(env):
    tracker, _, _ = env
    o = order("x")
    tracker.start_tracking_order(o)
    assert tracker.restore_tracking_states({"x": o.to_json()}) == []
    assert tracker.fetch_tracked_order("x") is o


def test_raising_listener_does_not_break_tracking(env):
    tracker, rec, _ = env

    def boom(ev):
        raise RuntimeError("listener bug")

    tracker.event_hub.add_listener(MarketEvent.OrderFilled, boom)
    tracker.start_tracking_order(order(amount="1"))
    tracker.process_trade_update(tu("t1", "1"))
    assert tracker.event_hub.callback_errors == 1
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderFilled, MarketEvent.BuyOrderCompleted]


def test_slow_subscriber_never_blocks_the_tracker():
    hub = EventHub()
    sub = hub.subscribe([MarketEvent.OrderFilled], maxsize=10)
    tracker = OrderTracker(hub)
    tracker.start_tracking_order(order(amount="1000"))
    for i in range(100):
        tracker.process_trade_update(tu(f"t{i}", "1"))
    assert sub.qsize() == 10 and sub.dropped == 90
    assert tracker.fetch_order("c1").executed_amount_base == D("100")
    last = [sub.get_nowait().event.exchange_trade_id for _ in range(10)]
    assert last == [f"t{i}" for i in range(90, 100)]


def test_soak_random_duplicates_and_reordering():
    """Many orders, every message duplicated and shuffled: each fill is one event, each order
    ends exactly once in the state its last venue statement says."""
    rng = random.Random(7)
    hub = EventHub()
    rec = Recorder(hub)
    tracker = OrderTracker(hub)
    expected_fills = {}
    final = {}
    messages = []
    for i in range(300):
        cid = f"o{i}"
        n = rng.randint(1, 4)
        parts = [rng.randint(1, 9) for _ in range(n)]
        amount = D(sum(parts)) + (D(rng.randint(0, 3)) if rng.random() < 0.5 else 0)
        tracker.start_tracking_order(order(cid, amount=str(amount)))
        fills = [tu(f"{cid}-t{k}", str(p), cid=cid) for k, p in enumerate(parts)]
        expected_fills[cid] = sum(D(p) for p in parts)
        end = S.FILLED if expected_fills[cid] == amount else S.CANCELED
        final[cid] = end
        msgs = [("o", ou(S.OPEN, cid=cid))] + [("t", f) for f in fills] + [("o", ou(end, cid=cid))]
        msgs += [rng.choice(msgs) for _ in range(rng.randint(1, 5))]
        rng.shuffle(msgs)
        messages.extend(msgs)
    for kind, m in messages:
        if kind == "o":
            tracker.process_order_update(m)
        else:
            tracker.process_trade_update(m)
    fills_by_order = {}
    for ev in rec.of(MarketEvent.OrderFilled):
        fills_by_order.setdefault(ev.order_id, []).append(ev)
    for cid, total in expected_fills.items():
        evs = fills_by_order[cid]
        assert len({e.exchange_trade_id for e in evs}) == len(evs)
        assert sum(e.amount for e in evs) == total
        o = tracker.fetch_order(cid)
        assert o.current_state is final[cid] and o.is_done
    done_events = (rec.of(MarketEvent.BuyOrderCompleted), rec.of(MarketEvent.OrderCancelled))
    done_ids = [e.order_id for evs in done_events for e in evs]
    assert sorted(done_ids) == sorted(expected_fills)  # each order ended exactly once
    assert len(rec.of(MarketEvent.BuyOrderCreated)) == 300
    assert tracker.active_orders == {}


def test_local_pending_cancel_is_not_an_acknowledgement(env):
    tracker, rec, _ = env
    tracker.start_tracking_order(order())
    tracker.process_order_update(ou(S.PENDING_CANCEL))  # cancel requested before the ack
    assert rec.events == []
    tracker.process_order_update(ou(S.FAILED, error_message="rejected"))  # it never existed
    assert rec.tags() == [MarketEvent.OrderFailure]


def test_ack_during_pending_cancel_emits_created_once(env):
    tracker, rec, _ = env
    o = order()
    tracker.start_tracking_order(o)
    tracker.process_order_update(ou(S.PENDING_CANCEL))
    tracker.process_order_update(ou(S.OPEN, eid="E1"))  # late ack: state stays PENDING_CANCEL
    assert o.current_state is S.PENDING_CANCEL
    tracker.process_order_update(ou(S.CANCELED, eid="E1"))
    assert rec.tags() == [MarketEvent.BuyOrderCreated, MarketEvent.OrderCancelled]


def test_exchange_id_set_directly_still_emits_created(env):
    tracker, rec, _ = env
    o = order()
    tracker.start_tracking_order(o)
    o.update_exchange_order_id("E1")  # the connector recorded the REST answer's id itself
    tracker.process_order_update(ou(S.OPEN, eid="E1"))
    tracker.process_order_update(ou(S.OPEN, eid="E1"))
    assert rec.tags() == [MarketEvent.BuyOrderCreated]


def test_restored_acknowledged_order_does_not_emit_created_again(env):
    tracker, rec, _ = env
    o = order()
    tracker.start_tracking_order(o)
    tracker.process_order_update(ou(S.OPEN, eid="E1"))
    saved = json.loads(json.dumps(tracker.tracking_states))
    hub2 = EventHub()
    rec2 = Recorder(hub2)
    t2 = OrderTracker(hub2)
    t2.restore_tracking_states(saved)
    t2.process_order_update(ou(S.OPEN, eid="E1"))
    t2.process_order_update(ou(S.CANCELED, eid="E1"))
    assert [t for t, _ in rec2.events] == [MarketEvent.OrderCancelled]
    # a saved order that was never acknowledged gets its created event after the restart
    p = order("p")
    data = {"p": p.to_json()}
    t2.restore_tracking_states(data)
    t2.process_order_update(ou(S.OPEN, cid="p", eid="EP"))
    assert [t for t, _ in rec2.events][-1] is MarketEvent.BuyOrderCreated
