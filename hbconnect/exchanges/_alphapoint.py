"""AlphaPoint WebSocket framing (NDAX's gateway; FoxBit's retired v2 gateway used the same).

Every message is ``{"m": type, "i": sequence, "n": function name, "o": payload}`` where the payload
``o`` is itself JSON *text* (double encoding). ``m``: 0 request, 1 reply, 2 subscribe to event,
3 event, 4 unsubscribe from event, 5 error. ``i`` is the client's sequence number, non-zero and
increasing with every message it sends (NDAX API documentation, ``NDAXlO/ndax-api-documentation``
README "Websocket API"; FoxBit's former API page, foxbit.com.br/api "Message Frame").

Prices and quantities inside ``o`` are JSON numbers: :func:`decode` keeps their exact text
(``parse_float=str``, ``parse_int=str``), so ``0.00011502`` stays ``"0.00011502"`` and an integer
``6423`` becomes ``"6423"``; ids are read back with ``as_int``.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterator

from hbconnect.exchanges import _common as c
from hbconnect.market.messages import ParseError

REQUEST, REPLY, SUBSCRIBE, EVENT, UNSUBSCRIBE, ERROR = 0, 1, 2, 3, 4, 5


class Framer:
    """Encodes requests with the connection's increasing sequence number ``i``."""

    __slots__ = ("_seq",)

    def __init__(self) -> None:
        self._seq: Iterator[int] = itertools.count(2, 2)  # even numbers: "non zero and increased"

    def request(self, function: str, payload: dict) -> str:
        return c.dumps({"m": REQUEST, "i": next(self._seq), "n": function, "o": c.dumps(payload)})

    def __deepcopy__(self, memo: dict) -> "Framer":
        return Framer()


def decode(raw: Any, what: str) -> tuple[int, str, Any]:
    """(m, n, payload) of a received frame; the payload decoded with every number kept as text."""
    msg = c.as_dict(c.load_json(raw), what)
    m, n, o = msg.get("m"), msg.get("n"), msg.get("o")
    if type(m) is not int or type(n) is not str:
        raise ParseError(f"{what}: not an AlphaPoint frame {c.excerpt(msg, 80)}")
    if type(o) is str:
        o = c.load_json_exact(o, f"{what} {n} payload", int_text=True) if o else None
    return m, n, o
