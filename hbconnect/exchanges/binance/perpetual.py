"""Binance USDⓈ-M perpetual trading translation (``/fapi``): the spot translation plus positions,
leverage, position mode and funding."""
from __future__ import annotations

from typing import Any as _Any, Union as _Union

from hbconnect.connector.contract import (
    AccountSettings,
    BalanceEntry,
    BalanceUpdate,
    FundingHint,
    FundingPayment,
    PositionsSnapshot,
    PositionUpdate,
    StreamExpired,
    VenueRequest,
)
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.types import (
    FundingInfo,
    MarginMode,
    OrderState,
    PositionAction,
    PositionMode,
    PositionSide,
    TradeType,
)
from hbconnect.exchanges.binance.constants import (
    PERP_BUDGET_IDS,
    PERP_CANCEL_ORDER,
    PERP_REST_URL,
    PERP_USER_WS_URL,
    PERP_WS_API_PATH,
    PERP_WS_API_URL,
    perp_rate_limits,
)
from hbconnect.exchanges._trading import flat_fee, parse_decimal
from hbconnect.exchanges.binance.trading import _DZERO, _SPOT_STATES, BinanceSpotTrading, _loads


_PERP_STATES = dict(_SPOT_STATES)
_PERP_STATES["NEW_INSURANCE"] = OrderState.OPEN
_PERP_STATES["NEW_ADL"] = OrderState.OPEN


class BinancePerpetualTrading(BinanceSpotTrading):
    """Binance USDⓈ-M perpetual trading translation (``/fapi``)."""

    name = "binance_perpetual"
    is_perpetual = True
    _prefix = "/fapi/v1"
    _order_path = "/fapi/v1/order"
    _fills_path = "/fapi/v1/userTrades"
    _listen_key_path = "/fapi/v1/listenKey"
    _states = _PERP_STATES
    _new_order_resp_type = "RESULT"
    _post_only_params = {"type": "LIMIT", "timeInForce": "GTX"}   # post-only: GTX
    _ack_time_key = "updateTime"
    _fill_maker_key = "maker"
    _cancel_limit_id = PERP_CANCEL_ORDER
    _budget_ids = PERP_BUDGET_IDS
    first_fill_releases: tuple = ()
    _ws_api_path = PERP_WS_API_PATH
    #: the USDⓈ-M WebSocket API has no user-data subscription: the listen-key stream carries them
    ws_user_stream = False

    def _default_rest(self) -> str:
        return PERP_REST_URL

    def _default_ws(self) -> str:
        return PERP_USER_WS_URL

    def _default_ws_api(self) -> str:
        return PERP_WS_API_URL

    def _default_limits(self) -> list:
        return perp_rate_limits()

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("status") == "TRADING" and entry.get("contractType", "PERPETUAL") == "PERPETUAL"

    def balances_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v2/balance", signed=True)

    def parse_balances(self, data: _Any) -> BalanceUpdate:
        entries = []
        ts = 0
        for b in data:
            entries.append(BalanceEntry(b["asset"], parse_decimal(b["balance"]), parse_decimal(b["availableBalance"])))
            ts = max(ts, int(b.get("updateTime") or 0))
        return BalanceUpdate(entries, ts / 1000.0, complete=True)

    def _position_params(self, order: _Any, account: AccountSettings) -> dict:
        action = getattr(order, "position", None)
        if account.position_mode == PositionMode.HEDGE:
            is_buy = order.trade_type == TradeType.BUY
            opening = action != PositionAction.CLOSE
            return {"positionSide": "LONG" if is_buy == opening else "SHORT"}
        if action == PositionAction.CLOSE:
            return {"reduceOnly": "true"}
        return {}

    def parse_place_order(self, data: _Any, order: _Any, timestamp: float) -> tuple:
        ts = int(data.get(self._ack_time_key) or 0) / 1000.0 or timestamp
        update = self._order_update(data, order, ts, creating=True)
        # a post-only (GTX) order that would take is expired at once: a rejection, not a cancel
        if (data.get("status") == "EXPIRED" and data.get("timeInForce") == "GTX"
                and parse_decimal(data.get("executedQty"), _DZERO) == 0):
            update = OrderUpdate(trading_pair=update.trading_pair, update_timestamp=update.update_timestamp,
                                 new_state=OrderState.FAILED, client_order_id=update.client_order_id,
                                 exchange_order_id=update.exchange_order_id, executed_amount_base=_DZERO,
                                 error_message="post-only order would have taken liquidity (expired)")
        return update, []

    # -- user stream --

    def parse_user_stream(self, raw: _Union[str, bytes]) -> list:
        msg = _loads(raw)
        if not isinstance(msg, dict):
            raise ValueError("user-stream frame is not an object")
        if isinstance(msg.get("data"), dict) and "stream" in msg:
            msg = msg["data"]
        kind = msg.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            return self._parse_order_trade_update(msg)
        if kind == "ACCOUNT_UPDATE":
            return self._parse_account_update(msg)
        if kind == "listenKeyExpired":
            return [StreamExpired(kind)]
        return []

    def _parse_order_trade_update(self, msg: dict) -> list:
        o = msg["o"]
        state = _PERP_STATES.get(o["X"])
        if state is None:
            raise ValueError(f"unknown order status {o['X']!r}")
        pair = self.from_venue_symbol(o["s"])
        ts = int(o.get("T") or msg.get("T") or msg.get("E") or 0) / 1000.0
        client_id = o["c"]
        exchange_id = str(o["i"])
        out: list = []
        if o["x"] == "TRADE":
            qty, price = parse_decimal(o["l"]), parse_decimal(o["L"])
            fee = flat_fee(parse_decimal(o.get("n"), _DZERO), o.get("N"), None, True, None)
            out.append(TradeUpdate(
                trade_id=str(o["t"]), client_order_id=client_id, exchange_order_id=exchange_id,
                trading_pair=pair, fill_timestamp=ts, fill_price=price, fill_base_amount=qty,
                fill_quote_amount=price * qty, fee=fee, is_taker=not o.get("m", False)))
        error = None
        if o["X"] == "EXPIRED" and o.get("f") == "GTX" and parse_decimal(o.get("z"), _DZERO) == 0:
            state = OrderState.FAILED
            error = "post-only order would have taken liquidity (expired)"
        out.append(OrderUpdate(trading_pair=pair, update_timestamp=ts, new_state=state,
                               client_order_id=client_id, exchange_order_id=exchange_id,
                               executed_amount_base=parse_decimal(o.get("z"), _DZERO), error_message=error))
        return out

    def _parse_account_update(self, msg: dict) -> list:
        a = msg["a"]
        ts = int(msg.get("T") or msg.get("E") or 0) / 1000.0
        out: list = []
        # wallet balance only: "cw" (cross wallet) is not the available balance, so the
        # available amount is left unknown and the engine re-reads it over REST
        entries = [BalanceEntry(b["a"], parse_decimal(b["wb"]), None) for b in a.get("B", [])]
        if entries:
            out.append(BalanceUpdate(entries, ts))
        for p in a.get("P", []):
            out.append(self._position(p, ts, amount_key="pa", entry_key="ep", pnl_key="up"))
        if a.get("m") == "FUNDING_FEE":
            out.append(FundingHint(ts))
        return out

    def _position(self, p: dict, ts: float, amount_key: str, entry_key: str, pnl_key: str) -> PositionUpdate:
        amount = parse_decimal(p[amount_key])
        side_text = p.get("ps", p.get("positionSide", "BOTH"))
        if side_text == "LONG":
            side = PositionSide.LONG
        elif side_text == "SHORT":
            side = PositionSide.SHORT
        else:
            side = PositionSide.LONG if amount >= 0 else PositionSide.SHORT
            side = getattr(PositionSide, "BOTH", side) if amount == 0 else side
        lev = p.get("leverage")
        return PositionUpdate(pair=self.from_venue_symbol(p.get("s", p.get("symbol"))), side=side, amount=amount,
                              entry_price=parse_decimal(p.get(entry_key), _DZERO),
                              unrealized_pnl=parse_decimal(p.get(pnl_key), _DZERO),
                              leverage=int(lev) if lev not in (None, "") else None, timestamp=ts)

    # -- perp account --

    def positions_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v2/positionRisk", signed=True)

    def parse_positions(self, data: _Any) -> PositionsSnapshot:
        out = []
        for p in data:
            out.append(self._position(p, int(p.get("updateTime") or 0) / 1000.0, amount_key="positionAmt",
                                      entry_key="entryPrice", pnl_key="unRealizedProfit"))
        return PositionsSnapshot(out)

    def set_leverage_request(self, pair: str, leverage: int, account: AccountSettings) -> VenueRequest:
        return VenueRequest("POST", "/fapi/v1/leverage",
                            {"symbol": self.to_venue_symbol(pair), "leverage": int(leverage)}, signed=True)

    def parse_set_leverage(self, data: _Any) -> int:
        return int(data["leverage"])

    def position_mode_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/positionSide/dual", signed=True)

    def parse_position_mode(self, data: _Any) -> _Any:
        dual = data["dualSidePosition"]
        dual = dual if isinstance(dual, bool) else str(dual).lower() == "true"
        return PositionMode.HEDGE if dual else PositionMode.ONEWAY

    def set_position_mode_request(self, mode: _Any) -> VenueRequest:
        return VenueRequest("POST", "/fapi/v1/positionSide/dual",
                            {"dualSidePosition": "true" if mode == PositionMode.HEDGE else "false"}, signed=True)

    def set_margin_mode_request(self, pair: str, mode: MarginMode) -> VenueRequest:
        """Per symbol (``marginType`` ISOLATED / CROSSED); -4046 "no need to change" is a no-op."""
        return VenueRequest("POST", "/fapi/v1/marginType", {
            "symbol": self.to_venue_symbol(pair),
            "marginType": "ISOLATED" if mode is MarginMode.ISOLATED else "CROSSED"}, signed=True)

    def funding_info_request(self, pair: str) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/premiumIndex", {"symbol": self.to_venue_symbol(pair)})

    def parse_funding_info(self, data: _Any) -> _Any:
        return _make_funding_info(
            trading_pair=self.from_venue_symbol(data["symbol"]),
            index_price=parse_decimal(data.get("indexPrice"), _DZERO),
            mark_price=parse_decimal(data["markPrice"]),
            next_funding_utc_timestamp=int(data.get("nextFundingTime") or 0) / 1000.0,
            rate=parse_decimal(data.get("lastFundingRate"), _DZERO),
        )

    def funding_payments_request(self, since_ms: int) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/income",
                            {"incomeType": "FUNDING_FEE", "startTime": int(since_ms), "limit": 1000}, signed=True)

    def parse_funding_payments(self, data: _Any) -> list:
        out = []
        for item in data:
            if item.get("incomeType") != "FUNDING_FEE":
                continue
            out.append(FundingPayment(pair=self.from_venue_symbol(item["symbol"]), amount=parse_decimal(item["income"]),
                                      asset=item.get("asset", ""), timestamp=int(item["time"]) / 1000.0,
                                      payment_id=str(item.get("tranId") or f"{item['symbol']}-{item['time']}")))
        return out


def _make_funding_info(**kwargs: _Any) -> _Any:
    return FundingInfo(**kwargs)
