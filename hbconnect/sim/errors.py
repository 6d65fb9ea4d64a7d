"""Binance error codes as the embedded exchange answers them.

Messages follow Binance's published error list (spot and USDⓈ-M futures), so that a
connector's error mapping is exercised against the real texts.
"""
from __future__ import annotations


class BinanceError(Exception):
    """An error the venue answers as ``{"code": code, "msg": msg}`` with ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def bad_param(name: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}(\\.[0-9]{{1,20}})?$'.")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


INVALID_SYMBOL = (-1121, "Invalid symbol.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")
INSUFFICIENT_BALANCE = (-2010, "Account has insufficient balance for requested action.")
WOULD_TAKE = (-2010, "Order would immediately match and take.")
DUPLICATE_ORDER = (-2010, "Duplicate order sent.")
DUPLICATE_CID_FUTURES = (-4116, "ClientOrderId is duplicated.")
MARGIN_INSUFFICIENT = (-2019, "Margin is insufficient.")
REDUCE_ONLY_REJECTED = (-2022, "ReduceOnly Order is rejected.")
GTX_REJECTED = (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.")
BAD_SIGNATURE = (-1022, "Signature for this request is not valid.")
BAD_API_KEY_FORMAT = (-2014, "API-key format invalid.")
REJECTED_API_KEY = (-2015, "Invalid API-key, IP, or permissions for action.")
TS_OUTSIDE_WINDOW = (-1021, "Timestamp for this request is outside of the recvWindow.")
TS_AHEAD = (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
UNKNOWN_STATUS = (-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.")
INVALID_LISTEN_KEY = (-1125, "This listenKey does not exist.")


def err(pair: tuple[int, str], status: int = 400) -> BinanceError:
    return BinanceError(pair[0], pair[1], status)
