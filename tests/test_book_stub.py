"""The .pyi stub of the compiled book names exactly its public API."""
from __future__ import annotations

import ast
from pathlib import Path

import hbconnect
from hbconnect import _book

STUB = Path(hbconnect.__file__).with_name("_book.pyi")


def _stub_classes() -> dict[str, set[str]]:
    tree = ast.parse(STUB.read_text())
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AnnAssign))
                              and not isinstance(n, ast.AnnAssign)} | \
                             {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            out.setdefault("<module>", set()).add(node.name)
    return out


def test_stub_lists_the_public_api():
    stub = _stub_classes()
    public = {n for n in dir(_book.OrderBook) if not n.startswith("_")}
    assert public == {n for n in stub["OrderBook"] if not n.startswith("_")}
    for dunder in ("__len__", "__repr__", "__copy__", "__deepcopy__", "__init__"):
        assert dunder in stub["OrderBook"] and hasattr(_book.OrderBook, dunder)
    qr = {n for n in dir(_book.OrderBookQueryResult) if not n.startswith("_")}
    assert qr == {n for n in stub["OrderBookQueryResult"] if not n.startswith("_")}
    assert set(_book.OrderBookRow._fields) == stub["OrderBookRow"]
    assert "crc32" in stub["<module>"] and callable(_book.crc32)


def test_stub_and_marker_ship_with_the_package():
    assert STUB.is_file()
    assert STUB.with_name("py.typed").is_file()


def test_crossed_snapshot_rejection_is_documented():
    tree = ast.parse(STUB.read_text())
    book = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "OrderBook")
    snap = next(n for n in book.body if isinstance(n, ast.FunctionDef) and n.name == "apply_snapshot")
    for doc in (ast.get_docstring(snap) or "", _book.OrderBook.apply_snapshot.__doc__ or ""):
        assert "crossed" in doc and "ValueError" in doc and "unchanged" in doc, doc
