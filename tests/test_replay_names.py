"""Replay without --pairs: a recording's configuration names mapped to registry pairs, frames of
instruments and channels nobody subscribed to counted as ignored (never bad), and the replay
engine taking a venue object (the registry lookup is the command's)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import Ignored
from hbconnect.market.replay import load_session, map_configured_names, pairs_of, replay

RECORDINGS = Path(__file__).resolve().parent / "data" / "recordings"
OKX_NAMES = ["BTC-USD-22K27", "UNI-USD-PERP", "BTC-USDT"]  # OKX.0's configuration (cryptofeed's names)


def test_perpetual_names_map_on_perpetual_venues_only():
    pairs, unmapped = map_configured_names(["SUSHI-USDT-PERP", "akro-usdt-perp"], perpetual=True)
    assert pairs == ["SUSHI-USDT", "AKRO-USDT"] and unmapped == {}
    pairs, unmapped = map_configured_names(["SUSHI-USDT-PERP"], perpetual=False)
    assert pairs == [] and "perpetual" in unmapped["SUSHI-USDT-PERP"]


def test_dated_futures_options_and_junk_are_reported_not_mapped():
    names = ["BTC-USD-22K27", "BTC-USD-220527", "BTC-USD-22K27-30000-C", "BTCUSDT", "BTC-US D", "ETH-BTC"]
    pairs, unmapped = map_configured_names(names, perpetual=False)
    assert pairs == ["ETH-BTC"]
    assert "dated futures" in unmapped["BTC-USD-22K27"] and "dated futures" in unmapped["BTC-USD-220527"]
    assert "option" in unmapped["BTC-USD-22K27-30000-C"]
    assert "BASE-QUOTE" in unmapped["BTCUSDT"] and "BASE-QUOTE" in unmapped["BTC-US D"]


def test_plain_pairs_are_spot_next_to_suffixed_names_and_registry_pairs_otherwise():
    pairs, unmapped = map_configured_names(OKX_NAMES, perpetual=True)
    assert pairs == ["UNI-USD"] and "spot" in unmapped["BTC-USDT"]
    pairs, unmapped = map_configured_names(OKX_NAMES, perpetual=False)
    assert pairs == ["BTC-USDT"] and set(unmapped) == {"BTC-USD-22K27", "UNI-USD-PERP"}
    # hbconnect's recorder writes registry pairs for a perpetual venue too
    assert map_configured_names(["BTC-USDT", "ETH-USDT"], perpetual=True) == (["BTC-USDT", "ETH-USDT"], {})


def _okx_session():
    session = load_session([RECORDINGS / "OKX.ws.1.0"])
    session.configuration = {"l2_book": OKX_NAMES}
    return session


@pytest.mark.parametrize("venue,pair,ignored", [("okx", "BTC-USDT", 225), ("okx_perpetual", "UNI-USD", 298)])
def test_okx_frames_of_other_instrument_types_are_ignored_not_bad(venue, pair, ignored):
    md = market_data_venue(venue)
    session = _okx_session()
    assert pairs_of(md, session) == [pair]
    result = replay([], md, session=session)
    assert list(result.pairs) == [pair] and result.frames == 410
    assert result.bad_frames == 0 and result.ignored_frames == ignored
    assert result.to_dict()["ignored_frames_total"] == ignored and result.to_dict()["bad_frames_total"] == 0
    r = result.pairs[pair]
    assert r["state"] == "live" and r["checksums_failed"] == 0 and r["bad_frames"] == 0
    assert result.checksums  # OKX declares its checksum: the report shows the columns


def test_frames_of_pairs_not_tracked_are_ignored():
    """--pairs narrower than the recording: the other pairs' well-formed frames are ignored."""
    files = sorted(RECORDINGS.glob("GATEIO_FUTURES.*"))
    md = market_data_venue("gate_io_perpetual")
    whole = replay(files, md)
    one = replay(files, market_data_venue("gate_io_perpetual"), pairs=["OMG-USDT"])
    assert whole.bad_frames == one.bad_frames == 0
    others = sum(r["frames"] for p, r in whole.pairs.items() if p != "OMG-USDT")
    # each book or trade frame of this recording carries one pair: the others' frames become ignored
    assert others > 200 and one.ignored_frames == whole.ignored_frames + others
    assert one.pairs["OMG-USDT"]["diffs_applied"] == whole.pairs["OMG-USDT"]["diffs_applied"]
    assert not whole.checksums  # Gate.io sends no book checksum


def test_htx_other_channels_are_ignored():
    import gzip
    import json

    htx = market_data_venue("htx")
    frame = gzip.compress(json.dumps({"ch": "market.btcusdt.kline.1min", "ts": 1, "tick": {}}).encode())
    (ev,) = htx.parse_message(frame)
    assert isinstance(ev, Ignored) and "kline" in ev.what


def test_replay_takes_a_venue_object_not_a_registry_name():
    with pytest.raises(TypeError, match="market_data_venue"):
        replay([RECORDINGS / "OKX.ws.1.0"], "okx")
    source = (Path(__file__).resolve().parents[1] / "hbconnect" / "market" / "replay.py").read_text()
    assert "from hbconnect.exchanges" not in source and "import hbconnect.exchanges" not in source


def test_a_venue_the_urls_name_is_accepted_even_when_few_of_the_frames_are_its_own():
    """One OKX socket with many spot book pushes and a few swap ones: both OKX ids look right
    (the URLs say OKX; each module turns some frames into books), spot first."""
    from hbconnect.commands.replay import recording_venues
    from hbconnect.market.replay import RECV

    session = _okx_session()
    swap_books = [r for r in session.records
                  if r.kind == RECV and '"books"' in str(r.data) and "-SWAP" in str(r.data)]
    drop = {id(r) for r in swap_books[3:]}
    session.records = [r for r in session.records if id(r) not in drop]
    venues, evidence = recording_venues(session)
    assert venues == ["okx", "okx_perpetual"] and "okx" in evidence
