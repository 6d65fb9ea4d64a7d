"""OKX v5 wire shapes of the embedded exchange: instruments, errors, numbers (from OKX's docs).

Sources: OKX API v5 docs (https://www.okx.com/docs-v5/en/, scraped copies in
``rosssaunders/coincise`` ``docs/okx``): "REST Authentication", "Error Code", "Get instruments",
"Place order", "Get order details", "Get balance", "Get positions", "Get bills details".

* Every REST answer is HTTP 200 ``{"code": "0", "msg": "", "data": [...]}``; a failed order
  operation is HTTP 200 ``{"code": "1", "msg": "...", "data": [{..., "sCode", "sMsg"}]}``
  ("``sCode`` and ``sMsg`` represent the request result ... when the return data has ``sCode``");
  authentication and parameter errors use the HTTP status of the error-code table (401, 400).
* SPOT instruments are ``BASE-QUOTE``, perpetual swaps ``BASE-QUOTE-SWAP`` sized in contracts of
  ``ctVal`` base units (``sz`` is "the number of contracts" for SWAP).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, ROUND_CEILING
from typing import Any, Optional

from hbconnect.sim.errors import Reject
from hbconnect.sim.matching import SymbolSpec
from hbconnect.sim.server import WireError

ZERO = Decimal(0)
SPOT, SWAP = "SPOT", "SWAP"
#: how many base-coin steps one swap contract holds (OKX's BTC-USDT-SWAP is 0.01 BTC; the sim
#: makes contracts 10 steps so every order exercises the contract conversion)
CONTRACT_STEPS = 10
#: contracts trade in tenths (``lotSz``), so a lot is one base step of the matching engine
LOT_FRACTION = Decimal("0.1")
#: "The request will expire 30 seconds after the timestamp" (WebSocket login; REST alike)
TIMESTAMP_TOLERANCE_MS = 30_000
MAX_CLORDID = 32
MAX_WS_ID = 32
#: cancelSource of a post-only order that would have taken liquidity
CANCEL_SOURCE_POST_ONLY = "31"
CANCEL_SOURCE_USER = "1"

# (code, HTTP status, message) from OKX's error-code table
RATE_LIMITED = ("50011", 429, "Too Many Requests")
SERVICE_UNAVAILABLE = ("50001", 503, "Service temporarily unavailable. Please try again later.")
REQUEST_TIMEOUT = ("50004", 400, "API endpoint request timeout. (does not mean that the request was successful "
                                 "or failed, please check the request result).")
SYSTEM_ERROR = ("50026", 500, "System error. Try again later")
BODY_EMPTY = ("50000", 400, "Body for POST request cannot be empty.")
JSON_ERROR = ("50002", 400, "JSON syntax error")
TS_EXPIRED = ("50102", 401, "Timestamp request expired.")
KEY_EMPTY = ("50103", 401, 'Request header "OK-ACCESS-KEY" cannot be empty.')
PASSPHRASE_EMPTY = ("50104", 401, 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.')
PASSPHRASE_WRONG = ("50105", 401, 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
SIGN_EMPTY = ("50106", 401, 'Request header "OK-ACCESS-SIGN" cannot be empty.')
TS_EMPTY = ("50107", 401, 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.')
KEY_INVALID = ("50111", 401, "Invalid OK-ACCESS-KEY.")
TS_INVALID = ("50112", 401, "Invalid OK-ACCESS-TIMESTAMP.")
SIGN_INVALID = ("50113", 401, "Invalid signature.")
NOT_FOUND = ("50005", 410, "API endpoint is inactive or unavailable.")
#: business errors (HTTP 200): per order in ``sCode`` / ``sMsg``, otherwise in ``code`` / ``msg``
PARAM_ERROR = "51000"
INSTRUMENT_MISSING = ("51001", "Instrument ID, Instrument ID code or Spread ID doesn't exist.")
EXCEEDS_MAX = ("51005", "Your order amount exceeds the max order amount.")
PRICE_LIMIT = ("51006", "Order price is not within the price limit")
INSUFFICIENT = ("51008", "Order failed. Insufficient {ccy} balance in account")
INSUFFICIENT_MARGIN = ("51008", "Order failed. Insufficient {ccy} margin in account")
ACCOUNT_MODE = ("51010", "Request unsupported under current account mode")
DUPLICATE_CLORDID = ("51016", "Client order ID already exists.")
BELOW_MIN = ("51020", "Your order should meet or exceed the minimum order amount.")
LOT_SIZE = ("51121", "Order quantity must be a multiple of the lot size.")
CANCEL_FAILED = ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist.")
ORDER_MISSING = ("51603", "Order does not exist.")
REDUCE_ONLY = ("51169", "Order failed because you don't have any positions in this direction for this "
                        "contract to reduce or close.")
SETTINGS_BLOCKED = ("59000", "Settings failed. Close any open positions or orders before modifying settings.")
LEVERAGE_BLOCKED = ("59107", "Leverage can't be modified. Please cancel all pending cross-margin orders before "
                             "adjusting the leverage.")
LEVERAGE_INVALID = ("59102", "Leverage exceeds the maximum limit. Please lower the leverage.")

#: neutral core reasons -> (sCode, sMsg) of an order operation
REJECTS: dict = {
    Reject.UNKNOWN_SYMBOL: INSTRUMENT_MISSING,
    Reject.INSUFFICIENT_BALANCE: INSUFFICIENT,
    Reject.MARGIN_INSUFFICIENT: INSUFFICIENT_MARGIN,
    Reject.UNKNOWN_ORDER: CANCEL_FAILED,
    Reject.ORDER_NOT_FOUND: ORDER_MISSING,
    Reject.DUPLICATE_CLIENT_ID: DUPLICATE_CLORDID,
    Reject.PRICE_RANGE: PRICE_LIMIT,
    Reject.QTY_STEP: LOT_SIZE,
    Reject.MIN_QTY: BELOW_MIN,
    Reject.MIN_NOTIONAL: BELOW_MIN,
    Reject.MAX_QTY: EXCEEDS_MAX,
    Reject.REDUCE_ONLY_REJECTED: REDUCE_ONLY,
    Reject.REDUCE_ONLY_IN_HEDGE_MODE: (PARAM_ERROR, "Parameter reduceOnly error"),
    Reject.POSITION_MODE_MISMATCH: (PARAM_ERROR, "Parameter posSide error"),
    Reject.POSITION_MODE_OPEN_ORDERS: SETTINGS_BLOCKED,
    Reject.POSITION_MODE_OPEN_POSITIONS: SETTINGS_BLOCKED,
    Reject.LEVERAGE_INVALID: LEVERAGE_INVALID,
    Reject.LEVERAGE_EXCEEDS_POSITION: LEVERAGE_BLOCKED,
    Reject.BAD_PARAMETER: (PARAM_ERROR, "Parameter error"),
    Reject.PRICE_TICK: (PARAM_ERROR, "Parameter px error"),
}


class OkxError(WireError):
    """``{"code", "msg", "data": []}`` with the documented HTTP status."""

    def __init__(self, code: str, msg: str, status: int = 200, data: Optional[list] = None) -> None:
        super().__init__(status, {"code": code, "msg": msg, "data": data or []})
        self.code = code
        self.msg = msg

    @classmethod
    def of(cls, entry: tuple) -> "OkxError":
        return cls(entry[0], entry[2], entry[1])


def param_error(name: str) -> OkxError:
    return OkxError(PARAM_ERROR, f"Parameter {name} error", 400)


def empty_param(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


def reject_pair(reason: Reject, ccy: str = "") -> tuple[str, str]:
    code, msg = REJECTS.get(reason, (PARAM_ERROR, "Parameter error"))
    return code, msg.replace("{ccy}", ccy or "USDT")


def num(value: Any, name: str, required: bool = True) -> Optional[Decimal]:
    """A positive-or-zero decimal parameter sent as a string (OKX sends numbers as strings)."""
    if value is None or value == "":
        if required:
            raise empty_param(name)
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise param_error(name)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise param_error(name) from None
    if not d.is_finite() or d < 0 or len(str(value)) > 40:
        raise param_error(name)
    return d


def int_param(params: dict, name: str, default: int, low: int = 0, high: int = 10 ** 15) -> int:
    """An integer query parameter (digits only, within [low, high]); ``51000`` otherwise."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 16 or not low <= int(raw) <= high:
        raise param_error(name)
    return int(raw)


def text(d: Optional[Decimal], places: int) -> str:
    """Fixed-point text with ``places`` decimals, trailing zeros kept as OKX writes them."""
    return format(d if d is not None else ZERO, f".{max(0, places)}f")


def places(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)


@dataclass
class Instrument:
    """One OKX instrument over one engine symbol."""

    inst_id: str
    inst_type: str
    spec: SymbolSpec
    ct_val: Decimal = Decimal(1)         # base units per contract (SWAP); 1 for SPOT
    lot: Decimal = Decimal(1)            # lotSz (SPOT: base step; SWAP: contracts)
    min_sz: Decimal = Decimal(1)

    @classmethod
    def spot(cls, spec: SymbolSpec) -> "Instrument":
        return cls(f"{spec.base}-{spec.quote}", SPOT, spec, Decimal(1), spec.step_size,
                   max(spec.min_qty, spec.step_size))

    @classmethod
    def swap(cls, spec: SymbolSpec) -> "Instrument":
        ct_val = spec.step_size * CONTRACT_STEPS
        lot = LOT_FRACTION
        min_sz = max(lot, (spec.min_qty / ct_val / lot).to_integral_value(ROUND_CEILING) * lot)
        return cls(f"{spec.base}-{spec.quote}-SWAP", SWAP, spec, ct_val, lot, min_sz)

    @property
    def px_places(self) -> int:
        return places(self.spec.tick_size)

    @property
    def sz_places(self) -> int:
        return places(self.lot)

    def px(self, d: Optional[Decimal]) -> str:
        return text(d, self.px_places) if d else ""

    def sz(self, base_qty: Optional[Decimal]) -> str:
        """Base quantity as OKX's size: base (SPOT) or contracts (SWAP)."""
        return text((base_qty or ZERO) / self.ct_val, self.sz_places)

    def base_qty(self, sz: Decimal) -> Decimal:
        return sz * self.ct_val

    def describe(self, lever: int) -> dict:
        """One ``public/instruments`` entry."""
        s = self.spec
        common = {"instType": self.inst_type, "instId": self.inst_id, "uly": "", "instFamily": "",
                  "baseCcy": "", "quoteCcy": "", "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "",
                  "optType": "", "stk": "", "listTime": "1548133413000", "expTime": "", "lever": "",
                  "tickSz": text(s.tick_size, self.px_places), "lotSz": text(self.lot, self.sz_places),
                  "minSz": text(self.min_sz, self.sz_places), "ctType": "", "alias": "", "state": "live",
                  "ruleType": "normal",
                  "maxLmtSz": text(s.max_qty / self.ct_val, self.sz_places),
                  "maxMktSz": text(s.market_max_qty / self.ct_val, self.sz_places),
                  "maxLmtAmt": "20000000", "maxMktAmt": "1000000", "maxTwapSz": "", "maxIcebergSz": "",
                  "maxTriggerSz": "", "maxStopSz": ""}
        if self.inst_type == SPOT:
            common.update(baseCcy=s.base, quoteCcy=s.quote)
        else:
            common.update(uly=f"{s.base}-{s.quote}", instFamily=f"{s.base}-{s.quote}", settleCcy=s.quote,
                          ctVal=text(self.ct_val, places(self.ct_val)), ctMult="1", ctValCcy=s.base,
                          lever=str(lever), ctType="linear")
        return common
