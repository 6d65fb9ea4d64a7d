"""OKX v5 perpetual swaps (linear: USDT/USDC-margined): the spot translation plus contracts,
margin mode (``tdMode`` cross/isolated), position mode (net / long-short), leverage, positions
and funding.

Facts (OKX API v5 docs): sizes on the wire are contracts (``sz``, ``fillSz``, ``accFillSz``,
``pos``); one contract is ``ctVal x ctMult`` base units (the instrument table converts: the
engine sees base amounts). ``posSide`` is ``long``/``short`` in ``long_short_mode`` ("open long:
buy+long, close long: sell+long, open short: sell+short, close short: buy+short") and omitted in
``net_mode``, where a closing order is ``reduceOnly``. The account's mode is ``posMode`` of
``GET /api/v5/account/config``, set with ``POST /api/v5/account/set-position-mode``. Leverage:
``POST /api/v5/account/set-leverage`` (``instId``, ``lever``, ``mgnMode``; ``posSide`` only for
isolated margin in long/short mode). Funding fees are account bills of ``type`` 8 (``balChg``
signed: subType 173 expense, 174 income).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from hbconnect.connector.contract import (
    AccountSettings,
    FundingPayment,
    PositionsSnapshot,
    PositionUpdate,
    VenueRequest,
)
from hbconnect.core.types import (FundingInfo, MarginMode, PositionAction, PositionMode, PositionSide, TradeFee,
                                  TradeType)
from hbconnect.exchanges._trading import ZERO, flat_fee, parse_decimal
from hbconnect.exchanges.okx import constants as k
from hbconnect.exchanges.okx.trading import OkxSpotTrading, first_row, ms_to_seconds, rows

_POS_MODES = {"net_mode": PositionMode.ONEWAY, "long_short_mode": PositionMode.HEDGE}
_TD_MODES = {MarginMode.CROSS: "cross", MarginMode.ISOLATED: "isolated"}


class OkxPerpetualTrading(OkxSpotTrading):
    """OKX perpetual swap translation (``instType`` SWAP)."""

    name = "okx_perpetual"
    is_perpetual = True
    inst_type = "SWAP"
    _channels = ("orders", "account", "positions")

    # -- contracts --

    def contract_size(self, pair: str) -> Decimal:
        """Base units per contract; ``ValueError`` before the pair's instrument is loaded (a
        size in contracts must never be read as base units)."""
        ins = self.instruments.get(pair)
        if ins is None:
            raise ValueError(f"okx: no contract size for {pair[:40]} (instruments not loaded, or not listed)")
        return ins.contract_size

    def to_size(self, pair: str, base_amount: Decimal) -> Decimal:
        return base_amount / self.contract_size(pair)

    def to_base(self, pair: str, size: Any) -> Decimal:
        return parse_decimal(size, ZERO) * self.contract_size(pair)

    # -- orders --

    def _td_mode(self, pair: str, account: Optional[AccountSettings]) -> str:
        return _TD_MODES[account.margin_mode_of(pair) if account is not None else MarginMode.CROSS]

    def _position_args(self, order: Any, account: Optional[AccountSettings]) -> dict:
        action = getattr(order, "position", None)
        if account is not None and account.position_mode is PositionMode.HEDGE:
            is_buy = order.trade_type is TradeType.BUY
            opening = action is not PositionAction.CLOSE
            return {"posSide": "long" if is_buy == opening else "short"}
        if action is PositionAction.CLOSE:
            return {"reduceOnly": True}
        return {}

    def _fee(self, f: dict, fee: Decimal, fee_ccy: Any) -> TradeFee:
        return flat_fee(-fee, fee_ccy or None, is_perpetual=True, position_action=_position_action(f))

    # -- private stream --

    def _other_push(self, channel: Any, data: list) -> list:
        if channel != "positions":
            return []
        return [self._position(p) for p in data if isinstance(p, dict) and self.knows(p.get("instId"))]

    def _position(self, p: dict) -> PositionUpdate:
        pair = self.from_venue_symbol(p["instId"])
        amount = self.to_base(pair, p.get("pos"))
        pos_side = p.get("posSide")
        if pos_side == "long":
            side = PositionSide.LONG
        elif pos_side == "short":
            side, amount = PositionSide.SHORT, -abs(amount)
        elif amount == 0:  # net: the sign of pos is the direction
            side = PositionSide.BOTH
        else:
            side = PositionSide.LONG if amount > 0 else PositionSide.SHORT
        lever = p.get("lever")
        return PositionUpdate(pair=pair, side=side, amount=amount,
                              entry_price=parse_decimal(p.get("avgPx"), ZERO),
                              unrealized_pnl=parse_decimal(p.get("upl"), ZERO),
                              leverage=int(parse_decimal(lever)) if lever not in (None, "") else None,
                              timestamp=ms_to_seconds(p.get("uTime")))

    # -- perp account --

    def positions_request(self) -> VenueRequest:
        return VenueRequest("GET", k.POSITIONS, {"instType": self.inst_type}, signed=True)

    def parse_positions(self, data: Any) -> PositionsSnapshot:
        return PositionsSnapshot([self._position(p) for p in rows(data)
                                  if isinstance(p, dict) and self.knows(p.get("instId"))])

    def set_leverage_request(self, pair: str, leverage: int, account: Optional[AccountSettings] = None) -> VenueRequest:
        mode = account.margin_mode_of(pair) if account is not None else MarginMode.CROSS
        if mode is MarginMode.ISOLATED and account is not None and account.position_mode is PositionMode.HEDGE:
            raise ValueError("okx: isolated margin in long/short mode sets leverage per position side "
                             "(posSide), which one request cannot do; use net mode or cross margin")
        return VenueRequest("POST", k.SET_LEVERAGE, {"instId": self.to_venue_symbol(pair), "lever": str(int(leverage)),
                                                      "mgnMode": _TD_MODES[mode]}, signed=True)

    def parse_set_leverage(self, data: Any) -> int:
        return int(parse_decimal(first_row(data)["lever"]))

    def position_mode_request(self) -> VenueRequest:
        return VenueRequest("GET", k.ACCOUNT_CONFIG, signed=True)

    def parse_position_mode(self, data: Any) -> PositionMode:
        mode = _POS_MODES.get(first_row(data).get("posMode"))
        if mode is None:
            raise ValueError("okx: unknown posMode")
        return mode

    def set_position_mode_request(self, mode: PositionMode) -> VenueRequest:
        return VenueRequest("POST", k.SET_POSITION_MODE,
                            {"posMode": "long_short_mode" if mode is PositionMode.HEDGE else "net_mode"}, signed=True)

    def set_margin_mode_request(self, pair: str, mode: MarginMode) -> VenueRequest:
        """OKX has no margin-mode setting: each order says it (``tdMode``) and leverage is kept per
        margin mode. The request reads the pair's leverage in ``mode`` (``GET
        /api/v5/account/leverage-info``), which the venue refuses for an instrument or account that
        cannot trade in that mode; the engine then sends ``tdMode`` = ``mode`` with its orders."""
        return VenueRequest("GET", k.LEVERAGE_INFO, {"instId": self.to_venue_symbol(pair), "mgnMode": _TD_MODES[mode]},
                            signed=True)

    def funding_info_request(self, pair: str) -> VenueRequest:
        return VenueRequest("GET", k.FUNDING_RATE, {"instId": self.to_venue_symbol(pair)})

    def parse_funding_info(self, data: Any) -> FundingInfo:
        """``fundingRate`` and ``fundingTime`` (the next settlement). OKX's funding-rate answer
        has no mark or index price: they stay 0 here (the mark-price endpoint carries them)."""
        row = first_row(data)
        return FundingInfo(trading_pair=self.from_venue_symbol(row["instId"]), index_price=ZERO, mark_price=ZERO,
                           next_funding_utc_timestamp=ms_to_seconds(row.get("fundingTime")),
                           rate=parse_decimal(row.get("fundingRate"), ZERO))

    def funding_payments_request(self, since_ms: int) -> VenueRequest:
        """Bills of type 8 (funding fee) since ``since_ms`` (the endpoint covers 7 days)."""
        return VenueRequest("GET", k.BILLS, {"instType": self.inst_type, "type": "8",
                                             "begin": str(int(since_ms))}, signed=True)

    def parse_funding_payments(self, data: Any) -> list:
        out = []
        for b in rows(data):
            if not isinstance(b, dict) or str(b.get("type")) != "8" or not self.knows(b.get("instId")):
                continue
            out.append(FundingPayment(pair=self.from_venue_symbol(b["instId"]), amount=parse_decimal(b["balChg"]),
                                      asset=str(b.get("ccy") or ""), timestamp=ms_to_seconds(b.get("ts")),
                                      payment_id=str(b["billId"])))
        return out


def _position_action(f: dict) -> PositionAction:
    """Opening or closing, from a fill's side and position side (net mode: its reduce-only flag)."""
    pos_side, side = f.get("posSide"), f.get("side")
    if pos_side == "long":
        return PositionAction.OPEN if side == "buy" else PositionAction.CLOSE
    if pos_side == "short":
        return PositionAction.OPEN if side == "sell" else PositionAction.CLOSE
    return PositionAction.CLOSE if str(f.get("reduceOnly")).lower() == "true" else PositionAction.OPEN
