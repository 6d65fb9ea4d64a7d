"""The README's venue table: one row for every registry venue, each with its channel, sync rule,
integrity check and the data it is proven on, and the recordings it names are in the repository."""
from __future__ import annotations

import re
from pathlib import Path

from hbconnect.exchanges import VENUES, market_data_venue

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "tests" / "data" / "recordings"
HEADER = "| venue (registry id) | book channel | sync rule | integrity check | proven on |"


def venue_rows() -> list[list[str]]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2  # after the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def test_every_registry_venue_has_exactly_one_row_with_every_column():
    rows = venue_rows()
    seen: dict[str, int] = {}
    for n, cells in enumerate(rows):
        assert len(cells) == 5 and all(cells), cells
        for vid in re.findall(r"`([a-z0-9_]+)`", cells[0]):
            if vid in VENUES:
                assert vid not in seen, f"{vid} in two rows"
                seen[vid] = n
    assert sorted(seen) == sorted(VENUES), set(VENUES) ^ set(seen)


def test_proven_on_names_real_recordings_that_exist_or_documented_examples():
    for cells in venue_rows():
        proven = cells[4]
        assert "real recording" in proven or "documented examples" in proven, cells[0]
        for name in re.findall(r"cryptofeed `([A-Z_]+)`", proven):
            assert list(RECORDINGS.glob(f"{name}.*")), f"{cells[0]}: no recording {name}.* in {RECORDINGS}"
        for gen in re.findall(r"`([A-Z_.]+\.gen)`", proven):
            assert (RECORDINGS / gen).is_file(), f"{cells[0]}: no {gen}"


def test_integrity_column_says_checksum_exactly_for_venues_that_send_one():
    for cells in venue_rows():
        ids = [v for v in re.findall(r"`([a-z0-9_]+)`", cells[0]) if v in VENUES]
        says_checksum = "CRC32" in cells[3]
        for vid in ids:
            assert market_data_venue(vid).sends_checksum is says_checksum, (vid, cells[3])
