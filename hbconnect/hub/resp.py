"""Redis commands as RESP bytes, built by the hub itself, and the connection they go on.

The hub's hot commands (the publish script's EVALSHA, the consumer's XREAD) carry thousands of
arguments that are already bytes: framing them here in one pass (``bulk``) costs a fraction of
redis-py's generic per-argument encoding. They are written on one connection taken from the
client's pool (``DedicatedConnection``), so authentication, database selection, TCP_NODELAY (set
by redis-py on TCP sockets: no Nagle delay) and the reply parser (hiredis when installed) stay
redis-py's.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Union

__all__ = ["bulk", "arg", "command", "DedicatedConnection"]

Arg = Union[bytes, str, int]

_HIGH_WATER = 1 << 20  # bytes left in the transport's buffer after a write before waiting for it


def bulk(b: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(b), b)


def arg(x: Arg) -> bytes:
    """``x`` (bytes, text or int) as a RESP bulk string."""
    if type(x) is not bytes:
        x = x.encode() if isinstance(x, str) else b"%d" % x
    return b"$%d\r\n%b\r\n" % (len(x), x)


def command(args: Iterable[Arg], framed: Iterable[bytes] = (), n_framed: int = 0) -> bytes:
    """A RESP command: ``args`` encoded here, then ``framed`` (``n_framed`` arguments already
    framed with ``bulk``)."""
    head = [arg(a) for a in args]
    return b"*%d\r\n%b%b" % (len(head) + n_framed, b"".join(head), b"".join(framed))


class DedicatedConnection:
    """One connection of a redis-py asyncio client, kept for one writer (or reader) at a time.

    ``call(payload, n)`` sends RESP ``payload`` holding ``n`` commands and returns their ``n``
    replies in order (``send`` then ``replies``: a reader may send its next command before it
    works through the reply it has); an error reply (``ResponseError``, e.g. NOSCRIPT) is returned in its place,
    a lost connection raises (redis-py's ``ConnectionError``). A failure or a cancellation between
    the write and the last reply drops the connection (its replies would be out of step)."""

    __slots__ = ("client", "conn", "_token", "_response_error")

    def __init__(self, client: Any) -> None:
        from redis.exceptions import ResponseError

        self.client = client
        self.conn: Optional[Any] = None
        self._token: Optional[object] = None  # new each time a connection is taken (the pool reuses them)
        self._response_error = ResponseError

    async def call(self, payload: bytes, n: int) -> list:
        return await self.replies(n, await self.send(payload))

    async def send(self, payload: bytes) -> Any:
        """Write ``payload`` (whole commands); returns a token of the connection it went on, for
        ``replies`` to read their replies, in order. A failure drops the connection."""
        conn = self.conn
        if conn is None:
            conn = self.conn = await self.client.connection_pool.get_connection()
            self._token = object()
        try:
            writer = getattr(conn, "_writer", None)
            if writer is not None and conn.is_connected and not writer.transport.is_closing():
                # straight onto the socket: redis-py's send_packed_command runs the write in a new
                # task (asyncio.wait_for, its socket timeout), one more event-loop turn per write;
                # a lost connection shows in the read that follows (the socket timeout applies)
                writer.write(payload)
                if writer.transport.get_write_buffer_size() > _HIGH_WATER:
                    await conn.send_packed_command(b"", check_health=False)  # drain, under the timeout
            else:
                await conn.send_packed_command(payload, check_health=False)
        except BaseException:
            await self.drop()
            raise
        return self._token

    async def replies(self, n: int, sent_on: Any) -> list:
        """The next ``n`` replies of what was sent on ``sent_on`` (an error reply in its place); a
        failure or a cancellation drops the connection (its replies would be out of step). Raises
        ``ConnectionError`` when ``sent_on`` was dropped meanwhile (its replies are lost)."""
        conn = self.conn
        if conn is None or self._token is not sent_on:
            raise ConnectionError("the connection the commands went on was lost")
        out: list = []
        try:
            for _ in range(n):
                try:
                    out.append(await conn.read_response())
                except self._response_error as exc:  # the reply was read whole: the connection is in step
                    out.append(exc)
        except BaseException:
            await self.drop()
            raise
        return out

    async def drop(self) -> None:
        """Disconnect and give the connection back (the next ``call`` takes a fresh one)."""
        conn, self.conn, self._token = self.conn, None, None
        if conn is not None:
            try:
                await conn.disconnect(nowait=True)
            finally:
                await self.client.connection_pool.release(conn)

    async def release(self) -> None:
        """Give the connection back to the pool as it is (between calls)."""
        conn, self.conn, self._token = self.conn, None, None
        if conn is not None:
            await self.client.connection_pool.release(conn)
