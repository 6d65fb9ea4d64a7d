"""Bybit v5 linear perpetual trading translation (USDT / USDC perpetuals): pure, no I/O.

Facts from Bybit's v5 docs (``bybit-exchange/docs`` ``docs/v5``):

* Instruments: ``contractType`` ``LinearPerpetual``; quantities are in the base coin (contract
  size 1): ``lotSizeFilter.qtyStep`` / ``minOrderQty`` / ``maxOrderQty`` / ``minNotionalValue``.
* Position mode ("Switch Position Mode"): ``POST /v5/position/switch-mode`` with ``mode`` ``0``
  (merged single, one-way) or ``3`` (both sides, hedge), per ``symbol`` or per settle ``coin``;
  orders carry ``positionIdx`` ``0`` (one-way), ``1`` (hedge buy side) or ``2`` (hedge sell side);
  one-way closes are ``reduceOnly``. The mode is read from ``/v5/position/list?symbol=``, which
  answers every position slot of the symbol (one slot with ``positionIdx`` 0 in one-way mode).
* Margin mode ("Set Margin Mode"): account wide on a Unified account, ``setMarginMode``
  ``ISOLATED_MARGIN`` / ``REGULAR_MARGIN`` (cross); read from ``GET /v5/account/info``. Setting
  it for one pair sets it for the whole account.
* Leverage ("Set Leverage"): ``buyLeverage`` = ``sellLeverage``; the answer is empty
  (``result: {}``), 110043 when unchanged (a success: the leverage is as asked).
* Funding: ``/v5/market/tickers`` (``fundingRate``, ``nextFundingTime``, ``markPrice``,
  ``indexPrice``); payments in the transaction log, ``type=SETTLEMENT``, ``funding`` signed
  ("Positive fee value means receive funding"); the execution stream's ``execType=Funding`` says
  one was booked.
"""
from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any, Optional

from hbconnect.connector.contract import (AccountSettings, FundingPayment, PositionsSnapshot, PositionUpdate,
                                          VenueRequest)
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import FundingInfo, MarginMode, PositionAction, PositionMode, PositionSide, TradeType
from hbconnect.exchanges._trading import ZERO, flat_fee, parse_decimal
from hbconnect.exchanges.bybit import constants as K
from hbconnect.exchanges.bybit.trading import BybitSpotTrading, ms, result_list, result_of

#: the engine's margin modes <-> Bybit's account margin modes
MARGIN_MODES = {MarginMode.CROSS: "REGULAR_MARGIN", MarginMode.ISOLATED: "ISOLATED_MARGIN"}


class BybitPerpetualTrading(BybitSpotTrading):
    """Bybit v5 linear perpetual translation (``category=linear``)."""

    name = "bybit_perpetual"
    category = "linear"
    is_perpetual = True

    def __init__(self, *args: Any, settle_coin: str = "USDT", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settle_coin = settle_coin
        #: leverages asked, oldest first: the set-leverage answer does not repeat it
        self._leverage_asked: deque = deque(maxlen=64)

    # ---- rules ----

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("contractType") == "LinearPerpetual"

    def _rule(self, pair: str, entry: dict) -> TradingRule:
        lot = entry["lotSizeFilter"]
        price = entry["priceFilter"]
        tick, step = parse_decimal(price["tickSize"]), parse_decimal(lot["qtyStep"])
        if tick <= 0 or step <= 0:
            raise ValueError("tickSize and qtyStep must be positive")
        max_qty = parse_decimal(lot.get("maxOrderQty"), ZERO)
        max_price = parse_decimal(price.get("maxPrice"), ZERO)
        settle = entry.get("settleCoin") or pair.split("-")[1]
        return TradingRule(
            trading_pair=pair,
            min_order_size=parse_decimal(lot["minOrderQty"]),
            max_order_size=max_qty if max_qty > 0 else None,
            min_price_increment=tick,
            min_base_amount_increment=step,
            min_notional_size=parse_decimal(lot.get("minNotionalValue"), ZERO),
            min_price=parse_decimal(price.get("minPrice"), ZERO),
            max_price=max_price if max_price > 0 else None,
            supports_limit_orders=True,
            supports_market_orders=True,
            buy_order_collateral_token=settle,
            sell_order_collateral_token=settle,
        )

    # ---- orders ----

    def _market_params(self) -> dict:
        return {}  # derivatives: "always order by qty"

    @staticmethod
    def position_idx(is_buy: bool, action: Any, mode: PositionMode) -> int:
        """``positionIdx``: 0 in one-way mode; in hedge mode the side of the position the order
        opens or closes (1 = long / buy side, 2 = short / sell side)."""
        if mode != PositionMode.HEDGE:
            return 0
        opening = action != PositionAction.CLOSE
        return 1 if is_buy == opening else 2

    def _position_params(self, order: Any, account: AccountSettings) -> dict:
        action = getattr(order, "position", None)
        mode = account.position_mode
        params: dict = {"positionIdx": self.position_idx(order.trade_type == TradeType.BUY, action, mode)}
        if action == PositionAction.CLOSE and mode != PositionMode.HEDGE:
            params["reduceOnly"] = True
        return params

    def _fee(self, e: dict, pair: str) -> Any:
        asset = e.get("feeCurrency") or self._settle.get(e.get("symbol")) or pair.partition("-")[2]
        closed = parse_decimal(e.get("closedSize"), ZERO)
        return flat_fee(parse_decimal(e.get("execFee"), ZERO), asset, is_perpetual=True,
                        position_action=PositionAction.CLOSE if closed > 0 else PositionAction.OPEN)

    # ---- private stream ----

    def user_stream_topics(self) -> list:
        return ["order", "execution", "wallet", "position"]

    def _positions_event(self, data: list, msg: dict) -> list:
        return [self._position(p, entry_key="entryPrice") for p in data if p.get("category") == self.category]

    def _position(self, p: dict, entry_key: str) -> PositionUpdate:
        size = parse_decimal(p.get("size"), ZERO)
        idx = int(p.get("positionIdx") or 0)
        side_text = p.get("side")
        if idx == 1:
            side = PositionSide.LONG
        elif idx == 2:
            side = PositionSide.SHORT
        elif size == 0:
            side = PositionSide.BOTH
        else:
            side = PositionSide.SHORT if side_text == "Sell" else PositionSide.LONG
        amount = -size if (side_text == "Sell" or side is PositionSide.SHORT) else size
        lev = p.get("leverage")
        return PositionUpdate(pair=self.from_venue_symbol(p["symbol"]), side=side, amount=amount,
                              entry_price=parse_decimal(p.get(entry_key), ZERO),
                              unrealized_pnl=parse_decimal(p.get("unrealisedPnl"), ZERO),
                              leverage=int(Decimal(lev)) if lev not in (None, "") else None,
                              timestamp=ms(p.get("updatedTime")))

    # ---- positions, leverage, modes ----

    def positions_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/position/list", {"category": self.category, "settleCoin": self.settle_coin,
                                                         "limit": K.POSITIONS_PAGE}, signed=True)

    def parse_positions(self, data: Any) -> PositionsSnapshot:
        return PositionsSnapshot([self._position(p, entry_key="avgPrice") for p in result_list(data)
                                  if self.instruments.by_symbol(p.get("symbol")) is not None])

    def set_leverage_request(self, pair: str, leverage: int, account: Optional[AccountSettings] = None) -> VenueRequest:
        lev = str(int(leverage))
        self._leverage_asked.append(int(leverage))
        return VenueRequest("POST", "/v5/position/set-leverage", {
            "category": self.category, "symbol": self.to_venue_symbol(pair),
            "buyLeverage": lev, "sellLeverage": lev}, signed=True)

    def parse_set_leverage(self, data: Any) -> int:
        """The answer is empty (``result: {}``): success means the leverage asked holds (the
        oldest request not yet answered)."""
        if not self._leverage_asked:
            raise ValueError("a set-leverage answer without a request")
        return self._leverage_asked.popleft()

    def position_mode_request(self) -> VenueRequest:
        """The position slots of one listed symbol (``symbol``: "returns data regardless of having
        position or not"); before the instruments are known, the settle coin's open positions."""
        params: dict = {"category": self.category, "limit": K.POSITIONS_PAGE}
        listed = next(iter(self._settle.items()), None)
        if listed is not None:
            params["symbol"] = listed[0]
        else:
            params["settleCoin"] = self.settle_coin
        return VenueRequest("GET", "/v5/position/list", params, signed=True)

    def parse_position_mode(self, data: Any) -> PositionMode:
        """HEDGE when the slots are ``positionIdx`` 1/2, ONEWAY for 0; ONEWAY ("System default:
        one-way mode") when no slot is listed."""
        for p in result_list(data):
            idx = p.get("positionIdx")
            if idx in (1, 2, "1", "2"):
                return PositionMode.HEDGE
            if idx in (0, "0"):
                return PositionMode.ONEWAY
        return PositionMode.ONEWAY

    def set_position_mode_request(self, mode: PositionMode) -> VenueRequest:
        """Per settle coin: every symbol of the coin without positions or orders switches."""
        return VenueRequest("POST", "/v5/position/switch-mode", {
            "category": self.category, "coin": self.settle_coin, "mode": 3 if mode == PositionMode.HEDGE else 0},
            signed=True)

    def margin_mode_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/account/info", signed=True)

    def parse_margin_mode(self, data: Any) -> MarginMode:
        mode = (result_of(data) or {}).get("marginMode")
        for ours, theirs in MARGIN_MODES.items():
            if mode == theirs:
                return ours
        raise ValueError(f"unsupported Bybit margin mode {str(mode)[:40]!r}")

    def set_margin_mode_request(self, pair: str, mode: MarginMode) -> VenueRequest:
        """Account wide on a Unified account (``pair`` does not narrow it)."""
        if mode not in MARGIN_MODES:
            raise ValueError(f"unsupported margin mode {mode!r}")
        return VenueRequest("POST", "/v5/account/set-margin-mode", {"setMarginMode": MARGIN_MODES[mode]},
                            signed=True)

    # ---- funding ----

    def funding_info_request(self, pair: str) -> VenueRequest:
        return VenueRequest("GET", "/v5/market/tickers", {"category": self.category,
                                                          "symbol": self.to_venue_symbol(pair)})

    def parse_funding_info(self, data: Any) -> FundingInfo:
        items = result_list(data)
        if not items:
            raise ValueError("tickers answer is empty")
        t = items[0]
        return FundingInfo(trading_pair=self.from_venue_symbol(t["symbol"]),
                           index_price=parse_decimal(t.get("indexPrice"), ZERO),
                           mark_price=parse_decimal(t["markPrice"]),
                           next_funding_utc_timestamp=ms(t.get("nextFundingTime")),
                           rate=parse_decimal(t.get("fundingRate"), ZERO))

    def funding_payments_request(self, since_ms: int) -> VenueRequest:
        return VenueRequest("GET", "/v5/account/transaction-log", {
            "accountType": "UNIFIED", "category": self.category, "type": "SETTLEMENT",
            "startTime": int(since_ms), "limit": K.TRANSACTION_LOG_PAGE}, signed=True)

    def parse_funding_payments(self, data: Any) -> list:
        out = []
        for item in result_list(data):
            if item.get("type") != "SETTLEMENT" or item.get("funding") in (None, ""):
                continue
            ins = self.instruments.by_symbol(item.get("symbol"))
            if ins is None:
                continue
            rate = item.get("feeRate")
            out.append(FundingPayment(
                pair=ins.pair, amount=parse_decimal(item["funding"]),
                asset=item.get("currency") or self.settle_coin, timestamp=ms(item["transactionTime"]),
                payment_id=f"{item.get('id') or ins.symbol}-{item['transactionTime']}",
                rate=parse_decimal(rate) if rate not in (None, "") else None))
        return out
