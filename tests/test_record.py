"""``hbconnect record`` against a local server, its output replayed with ``hbconnect replay``; the
``watch`` and ``replay`` commands end to end."""
from __future__ import annotations

import asyncio
import io
import json

import pytest

from binance_server import FakeBinance
from conftest import fixture_files
from hbconnect import cli
from hbconnect.exchanges import market_data_venue
from hbconnect.market.record import SessionRecorder, record_session
from hbconnect.market.replay import load_session, replay
from refbook import book_levels

PAIRS = ["NKN-USDT", "BLZ-ETH", "LRC-BTC", "RUNE-EUR"]


def test_recorder_format(tmp_path):
    clock = iter([1.5, 2.5, 3.5, 4.5, 5.5, 6.5]).__next__
    path = tmp_path / "s"
    with SessionRecorder(path, clock=clock, configuration={"l2_book": ["A-B"]}) as rec:
        rec.opened(7, "wss://x/stream")
        rec.sent(7, "wss://x/stream", '{"op":\n"sub"}')
        rec.received(7, '{"a":1}')
        rec.received(7, b"\x1f\x8b\x00'")
        rec.rest("https://x/depth", {"symbol": "AB", "limit": 5}, b'{"id":\n1}')
        rec.closed(7, "wss://x/stream")
    lines = path.read_text().splitlines()
    assert lines == [
        'configuration: {"l2_book":["A-B"]}',
        "wss://x/stream <-> 1.5",
        'wss://x/stream <- 2.5: {"op": "sub"}',
        '3.5: {"a":1}',
        "4.5: " + repr(b"\x1f\x8b\x00'"),
        'https://x/depth?symbol=AB&limit=5 -> 5.5: {"id": 1}',
        "wss://x/stream <x> 6.5",
    ]
    s = load_session([path])
    kinds = [r.kind for r in s.records]
    assert kinds == ["open", "send", "recv", "recv", "close"]
    assert s.records[3].data == b"\x1f\x8b\x00'" and s.rest[0].data == '{"id": 1}'
    assert s.configuration == {"l2_book": ["A-B"]}


def test_record_then_replay_reproduces_the_books(tmp_path):
    files = fixture_files("BINANCE")
    out = tmp_path / "binance.rec"

    async def main():
        async with FakeBinance(files, close_after=150) as server:
            venue = market_data_venue("binance").with_urls(rest=server.rest_url, ws=server.ws_url)
            stop = asyncio.Event()

            def tick(tracker):
                if server.done.is_set() and tracker.ready and all(
                        tracker.books[p].last_id == server.truth.final(p.replace("-", "")).update_id for p in PAIRS):
                    stop.set()

            rec, tracker = await record_session(
                venue, PAIRS, out, duration=20, stop=stop, on_tick=tick,
                tracker_kwargs={"reconnect_backoff": (0.05, 0.1)})
            assert stop.is_set(), "live session did not complete"
            return rec, tracker, server

    rec, tracker, server = asyncio.run(main())
    assert rec.frames >= 260 and rec.rest_bodies >= 8  # 4 snapshots, again after the reconnect
    text = out.read_text()
    assert text.count(" <-> ") == 2 and text.count(" <x> ") == 1 and "SUBSCRIBE" in text
    result = replay(rec.paths, market_data_venue("binance"))
    assert result.unanswered_snapshots == 0 and result.bad_frames == 0
    for p in PAIRS:
        ref = server.truth.final(p.replace("-", ""))
        assert result.tracker.state(p).value == "live"
        assert book_levels(result.tracker.book(p)) == (ref.top_bids(), ref.top_asks()), p
        assert result.pairs[p]["gaps"] == 0
        assert result.pairs[p]["resyncs"] == tracker.stats(p).resyncs  # the replay saw the same drop


def test_record_and_watch_commands(tmp_path, capsys):
    files = fixture_files("BINANCE")
    out = tmp_path / "cli.rec"

    async def serve(argv_list):
        async with FakeBinance(files) as server:
            results = []
            for argv in argv_list:
                argv = [a.replace("REST", server.rest_url).replace("WS", server.ws_url) for a in argv]
                results.append(await asyncio.to_thread(cli.main, argv))
            return results

    codes = asyncio.run(serve([
        ["record", "-e", "binance", "-p", "NKN-USDT,LRC-BTC", "--rest-url", "REST", "--ws-url", "WS",
         "--out", str(out), "--duration", "1.5"],
        ["watch", "-e", "binance", "-p", "NKN-USDT", "--rest-url", "REST", "--ws-url", "WS",
         "--duration", "1.0", "--interval", "0.3", "--depth", "2"],
    ]))
    assert codes == [0, 0]
    printed = capsys.readouterr().out
    assert "recorded" in printed and str(out) in printed
    assert "NKN-USDT" in printed and "live" in printed and "|" in printed
    assert out.exists() and out.read_text().count(" -> ") >= 2
    # the recording of a local server (no venue's URL) replays with the venue it was made with:
    # the frames, not the URLs, say which venue it looks like
    recorded = sorted(str(p) for p in tmp_path.glob("cli.rec*"))
    assert cli.main(["replay", *recorded, "--exchange", "binance"]) == 0
    assert "NKN-USDT [live]" in capsys.readouterr().out
    assert cli.main(["replay", *recorded, "--exchange", "kraken"]) == 1
    assert "did you mean --exchange binance?" in capsys.readouterr().err


def test_replay_command_text_and_json(capsys):
    files = [str(p) for p in fixture_files("BINANCE")]
    assert cli.main(["replay", *files, "--exchange", "binance", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["venue"] == "binance" and doc["frames"] == 265 and doc["frames_per_second"] > 0
    nkn = doc["pairs"]["NKN-USDT"]
    assert nkn["gaps"] == 0 and nkn["checksums_failed"] == 0 and len(nkn["bids"]) == 5 and len(nkn["asks"]) == 5
    assert all(isinstance(x, str) for lvl in nkn["bids"] for x in lvl)
    assert cli.main(["replay", *files, "--exchange", "binance"]) == 0
    text = capsys.readouterr()
    assert "NKN-USDT [live]" in text.out and "frames/s" in text.out and "0.35270000" in text.out
    assert "replay [" not in text.err  # no progress bar when stderr is not a terminal
    with pytest.raises(SystemExit) as exc:  # an unknown venue is an argparse usage error
        cli.main(["replay", *files, "--exchange", "nope"])
    assert exc.value.code == 2
    assert cli.main(["replay", "/nonexistent/file", "--exchange", "binance"]) == 2


def test_progress_bar_on_a_terminal(monkeypatch):
    from hbconnect.market import replay as replay_mod

    class TTY(io.StringIO):
        def isatty(self):
            return True

    tty = TTY()
    monkeypatch.setattr(replay_mod.sys, "stderr", tty)
    assert replay_mod.progress_stream() is tty
    replay([str(p) for p in fixture_files("BINANCE")], market_data_venue("binance"), progress=tty)
    out = tty.getvalue()
    assert "replay [" in out and "100.0%" in out
