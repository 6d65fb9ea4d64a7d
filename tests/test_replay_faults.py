"""Injected faults on the recorded Binance session: each one is detected (or proven harmless),
counted, repaired by resync, and the book equals the venue's again afterwards.

The venue's REST endpoint is played by ``BinanceTruth``: when the tracker asks for a snapshot at
replay time T it gets the venue's book at T (computed independently from the recording)."""
from __future__ import annotations

import json

import pytest

from binance_truth import BinanceTruth
from conftest import fixture_files
from hbconnect.exchanges import market_data_venue
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_session
from refbook import book_levels

PAIR = "NKN-USDT"
SYM = "NKNUSDT"


@pytest.fixture(scope="module")
def files():
    return fixture_files("BINANCE")


@pytest.fixture(scope="module")
def truth(files):
    return BinanceTruth(files)


@pytest.fixture(scope="module")
def session(files):
    return load_session(files)


def run(session, truth, faults):
    venue = market_data_venue("binance").with_urls()
    states = {sym: truth.by_update_id(sym) for sym in truth.snapshots}
    mismatches = []
    checked = []

    def source(pair, req, now):
        return truth.at(pair.replace("-", ""), now).body()

    def on_book(upd):
        ref = states[upd.pair.replace("-", "")].get(upd.update_id)
        got = book_levels(r.tracker.book(upd.pair))
        if ref is None or got != (ref.top_bids(), ref.top_asks()):
            mismatches.append((upd.pair, upd.update_id))
        checked.append(upd.pair)

    r = Replayer(venue, inject(session, faults), snapshot_source=source, tracker_kwargs={"on_book": on_book})
    result = r.run()
    assert not mismatches, f"book differed from the venue after updates {mismatches[:5]}"
    for pair in result.pairs:
        ref = truth.final(pair.replace("-", ""))
        assert result.tracker.state(pair).value == "live", pair
        assert book_levels(result.tracker.book(pair)) == (ref.top_bids(), ref.top_asks()), pair
    return result


def nkn_frames(session):
    idx = book_frame_indices(session, market_data_venue("binance").with_urls(), PAIR)
    assert len(idx) > 100
    return idx


def test_baseline_no_fault(session, truth):
    res = run(session, truth, [])
    rep = res.pairs[PAIR]
    assert rep["gaps"] == rep["resyncs"] == rep["bad_frames"] == 0


def test_dropped_frame_detected_and_repaired(session, truth):
    i = nkn_frames(session)[60]
    rep = run(session, truth, [Fault("drop", i)]).pairs[PAIR]
    assert rep["gaps"] == 1 and rep["resyncs"] == 1 and rep["snapshots"] == 2


def test_duplicated_frame_is_harmless_and_counted(session, truth):
    i = nkn_frames(session)[60]
    base = run(session, truth, []).pairs[PAIR]
    rep = run(session, truth, [Fault("duplicate", i)]).pairs[PAIR]
    assert rep["gaps"] == 0 and rep["resyncs"] == 0
    assert rep["stale_dropped"] == base["stale_dropped"] + 1
    assert rep["diffs_applied"] == base["diffs_applied"]


def test_swapped_frames_detected_and_repaired(session, truth):
    idx = nkn_frames(session)
    rep = run(session, truth, [Fault("swap", idx[70], other=idx[71])]).pairs[PAIR]
    assert rep["gaps"] == 1 and rep["resyncs"] == 1
    assert rep["stale_dropped"] >= 1  # the late frame is recognised as already covered


def _mutate_first_size(value):
    def mutate(raw):
        msg = json.loads(raw)
        side = "b" if msg["data"]["b"] else "a"
        msg["data"][side][0][1] = value
        return json.dumps(msg)
    return mutate


def _mutate_first_price(value):
    def mutate(raw):
        msg = json.loads(raw)
        side = "b" if msg["data"]["b"] else "a"
        msg["data"][side][0][0] = value
        return json.dumps(msg)
    return mutate


@pytest.mark.parametrize("mutate", [
    _mutate_first_size("-5.0"), _mutate_first_size("NaN"), _mutate_first_size("1e999"),
    _mutate_first_size("abc"), _mutate_first_price("-0.35"), _mutate_first_price("0x1p3"),
    _mutate_first_price(""),
], ids=["negative-size", "nan-size", "inf-size", "text-size", "negative-price", "hex-price", "empty-price"])
def test_corrupted_level_rejected_counted_and_repaired(session, truth, mutate):
    i = nkn_frames(session)[80]
    res = run(session, truth, [Fault("corrupt", i, mutate=mutate)])
    rep = res.pairs[PAIR]
    assert rep["bad_frames"] == 1 and rep["resyncs"] == 1 and rep["gaps"] == 0
    assert res.bad_frames == 1


def test_corrupted_ids_detected(session, truth):
    def mutate(raw):
        msg = json.loads(raw)
        msg["data"]["U"] = "x"
        return json.dumps(msg)

    i = nkn_frames(session)[80]
    res = run(session, truth, [Fault("corrupt", i, mutate=mutate)])
    rep = res.pairs[PAIR]
    # unparseable -> counted on the connection; the next update reveals the hole
    assert res.bad_frames == 1 and rep["gaps"] == 1 and rep["resyncs"] == 1


@pytest.mark.parametrize("kind", ["truncate", "garbage"])
def test_truncated_or_non_json_frame(session, truth, kind):
    i = nkn_frames(session)[90]
    res = run(session, truth, [Fault(kind, i)])
    rep = res.pairs[PAIR]
    assert res.bad_frames == 1
    assert rep["gaps"] == 1 and rep["resyncs"] == 1


def test_socket_closed_mid_stream_resyncs_every_pair(session, truth):
    i = nkn_frames(session)[100]
    res = run(session, truth, [Fault("close", i)])
    conn = res.tracker.books[PAIR].conn
    assert conn.reconnects == 1
    for pair, rep in res.pairs.items():
        # every pair that was live at the drop is rebuilt; all end live and equal to the venue
        assert rep["gaps"] == 0
        assert rep["resyncs"] <= 1
    assert res.pairs[PAIR]["resyncs"] == 1 and res.pairs[PAIR]["snapshots"] == 2


def test_many_faults_at_once(session, truth):
    idx = nkn_frames(session)
    other = book_frame_indices(session, market_data_venue("binance").with_urls(), "LRC-BTC")
    faults = [Fault("drop", idx[20]), Fault("duplicate", idx[40]), Fault("swap", idx[55], other=idx[56]),
              Fault("corrupt", idx[75], mutate=_mutate_first_size("-1")), Fault("truncate", idx[95]),
              Fault("garbage", idx[110]), Fault("close", idx[125]), Fault("drop", other[8])]
    res = run(session, truth, faults)
    rep = res.pairs[PAIR]
    assert rep["gaps"] >= 4 and rep["resyncs"] >= 6 and rep["bad_frames"] == 1
    assert res.pairs["LRC-BTC"]["gaps"] == 1
    # the untouched pair is not disturbed except by the socket drop they share
    assert res.pairs["BLZ-ETH"]["gaps"] == 0 and res.pairs["BLZ-ETH"]["bad_frames"] == 0
