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
  ``ISOLATED_MARGIN`` / ``REGULAR_MARGIN`` (cross); read from ``GET /v5/account/info``.
* Leverage ("Set Leverage"): ``buyLeverage`` = ``sellLeverage``; 110043 when unchanged.
* Funding: ``/v5/market/tickers`` (``fundingRate``, ``nextFundingTime``, ``markPrice``,
  ``indexPrice``); payments in the transaction log, ``type=SETTLEMENT``, ``funding`` signed
  ("Positive fee value means receive funding"); the execution stream's ``execType=Funding`` says
  one was booked.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from hbconnect.connector.contract import FundingPayment, PositionsSnapshot, PositionUpdate, VenueRequest
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import FundingInfo, PositionAction, PositionMode, PositionSide, TokenAmount, TradeFee, TradeType
from hbconnect.exchanges.bybit import constants as K
from hbconnect.exchanges.bybit.trading import BybitSpotTrading, dec, ms, result_list, result_of

_ZERO = Decimal(0)
#: the engine's margin modes -> Bybit's account margin modes
MARGIN_MODES = {"cross": "REGULAR_MARGIN", "isolated": "ISOLATED_MARGIN"}


class BybitPerpetualTrading(BybitSpotTrading):
    """Bybit v5 linear perpetual translation (``category=linear``)."""

    name = "bybit_perpetual"
    category = "linear"
    is_perpetual = True
    #: linear contracts are quoted in the base coin: one contract is one unit of base
    contract_size = Decimal(1)

    def __init__(self, *args: Any, settle_coin: str = "USDT", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settle_coin = settle_coin
        #: the engine keeps this in step with the account (set_position_mode / position_mode)
        self.position_mode = PositionMode.ONEWAY

    # ---- rules ----

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("contractType") == "LinearPerpetual"

    def _rule(self, pair: str, entry: dict) -> TradingRule:
        lot = entry["lotSizeFilter"]
        price = entry["priceFilter"]
        tick, step = dec(price["tickSize"]), dec(lot["qtyStep"])
        if tick <= 0 or step <= 0:
            raise ValueError("tickSize and qtyStep must be positive")
        max_qty = dec(lot.get("maxOrderQty"), _ZERO)
        max_price = dec(price.get("maxPrice"), _ZERO)
        settle = entry.get("settleCoin") or pair.split("-")[1]
        return TradingRule(
            trading_pair=pair,
            min_order_size=dec(lot["minOrderQty"]),
            max_order_size=max_qty if max_qty > 0 else None,
            min_price_increment=tick,
            min_base_amount_increment=step,
            min_notional_size=dec(lot.get("minNotionalValue"), _ZERO),
            min_price=dec(price.get("minPrice"), _ZERO),
            max_price=max_price if max_price > 0 else None,
            supports_limit_orders=True,
            supports_market_orders=True,
            buy_order_collateral_token=settle,
            sell_order_collateral_token=settle,
        )

    # ---- orders ----

    def _market_params(self) -> dict:
        return {}  # derivatives: "always order by qty"

    def position_idx(self, is_buy: bool, action: Any) -> int:
        """``positionIdx``: 0 in one-way mode; in hedge mode the side of the position the order
        opens or closes (1 = long / buy side, 2 = short / sell side)."""
        if self.position_mode != PositionMode.HEDGE:
            return 0
        opening = action != PositionAction.CLOSE
        return 1 if is_buy == opening else 2

    def _position_params(self, order: Any) -> dict:
        action = getattr(order, "position", None)
        params: dict = {"positionIdx": self.position_idx(order.trade_type == TradeType.BUY, action)}
        if action == PositionAction.CLOSE and self.position_mode != PositionMode.HEDGE:
            params["reduceOnly"] = True
        return params

    def _fee(self, e: dict, pair: str) -> TradeFee:
        amount = dec(e.get("execFee"), _ZERO)
        asset = e.get("feeCurrency") or self._settle.get(e.get("symbol")) or pair.partition("-")[2]
        flat = [TokenAmount(asset, amount)] if amount else []
        closed = dec(e.get("closedSize"), _ZERO)
        return TradeFee.new_perpetual_fee(PositionAction.CLOSE if closed > 0 else PositionAction.OPEN,
                                          flat_fees=flat)

    # ---- private stream ----

    def user_stream_topics(self) -> list:
        return ["order", "execution", "wallet", "position"]

    def _positions_event(self, data: list, msg: dict) -> list:
        return [self._position(p, entry_key="entryPrice") for p in data if p.get("category") == self.category]

    def _position(self, p: dict, entry_key: str) -> PositionUpdate:
        size = dec(p.get("size"), _ZERO)
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
                              entry_price=dec(p.get(entry_key), _ZERO),
                              unrealized_pnl=dec(p.get("unrealisedPnl"), _ZERO),
                              leverage=int(Decimal(lev)) if lev not in (None, "") else None,
                              timestamp=ms(p.get("updatedTime")))

    # ---- positions, leverage, modes ----

    def positions_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/position/list", {"category": self.category, "settleCoin": self.settle_coin,
                                                         "limit": K.POSITIONS_PAGE}, signed=True)

    def parse_positions(self, data: Any) -> PositionsSnapshot:
        return PositionsSnapshot([self._position(p, entry_key="avgPrice") for p in result_list(data)
                                  if p.get("symbol") in self._symbol_to_pair])

    def set_leverage_request(self, pair: str, leverage: int) -> VenueRequest:
        lev = str(int(leverage))
        return VenueRequest("POST", "/v5/position/set-leverage", {
            "category": self.category, "symbol": self.to_venue_symbol(pair),
            "buyLeverage": lev, "sellLeverage": lev}, signed=True)

    def parse_set_leverage(self, data: Any, leverage: Optional[int] = None) -> int:
        """The answer is empty (``result: {}``): success means the asked leverage holds."""
        if leverage is None:
            raise ValueError("Bybit's set-leverage answer does not repeat the leverage")
        return int(leverage)

    def position_mode_request(self, pair: Optional[str] = None) -> VenueRequest:
        params: dict = {"category": self.category, "limit": K.POSITIONS_PAGE}
        if pair is not None:
            params["symbol"] = self.to_venue_symbol(pair)
        else:
            params["settleCoin"] = self.settle_coin
        return VenueRequest("GET", "/v5/position/list", params, signed=True)

    def parse_position_mode(self, data: Any) -> Any:
        """HEDGE when the slots are ``positionIdx`` 1/2, ONEWAY for 0; None when nothing says."""
        for p in result_list(data):
            idx = p.get("positionIdx")
            if idx in (1, 2, "1", "2"):
                return PositionMode.HEDGE
            if idx in (0, "0"):
                return PositionMode.ONEWAY
        return None

    def set_position_mode_request(self, mode: Any, pair: Optional[str] = None) -> VenueRequest:
        params: dict = {"category": self.category, "mode": 3 if mode == PositionMode.HEDGE else 0}
        if pair is not None:
            params["symbol"] = self.to_venue_symbol(pair)
        else:
            params["coin"] = self.settle_coin
        return VenueRequest("POST", "/v5/position/switch-mode", params, signed=True)

    def margin_mode_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/account/info", signed=True)

    def parse_margin_mode(self, data: Any) -> str:
        mode = (result_of(data) or {}).get("marginMode")
        for name, venue_name in MARGIN_MODES.items():
            if mode == venue_name:
                return name
        raise ValueError(f"unsupported Bybit margin mode {mode!r}")

    def set_margin_mode_request(self, mode: str, pair: Optional[str] = None) -> VenueRequest:
        """Account wide on a Unified account (``pair`` is accepted and ignored)."""
        if mode not in MARGIN_MODES:
            raise ValueError(f"margin mode must be one of {sorted(MARGIN_MODES)}, got {mode!r}")
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
                           index_price=dec(t.get("indexPrice"), _ZERO), mark_price=dec(t["markPrice"]),
                           next_funding_utc_timestamp=ms(t.get("nextFundingTime")),
                           rate=dec(t.get("fundingRate"), _ZERO))

    def funding_payments_request(self, since_ms: int) -> VenueRequest:
        return VenueRequest("GET", "/v5/account/transaction-log", {
            "accountType": "UNIFIED", "category": self.category, "type": "SETTLEMENT",
            "startTime": int(since_ms), "limit": K.TRANSACTION_LOG_PAGE}, signed=True)

    def parse_funding_payments(self, data: Any) -> list:
        out = []
        for item in result_list(data):
            if item.get("type") != "SETTLEMENT" or item.get("funding") in (None, ""):
                continue
            symbol = item.get("symbol")
            if symbol not in self._symbol_to_pair:
                continue
            rate = item.get("feeRate")
            out.append(FundingPayment(
                pair=self._symbol_to_pair[symbol], amount=dec(item["funding"]),
                asset=item.get("currency") or self.settle_coin, timestamp=ms(item["transactionTime"]),
                payment_id=f"{item.get('id') or symbol}-{item['transactionTime']}",
                rate=dec(rate) if rate not in (None, "") else None))
        return out
