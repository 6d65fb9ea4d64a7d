"""Binance USDⓈ-M futures REST + WebSocket front end of the embedded exchange.

Shapes follow https://developers.binance.com/docs/derivatives/usds-margined-futures (``/fapi``
REST, ``depthUpdate`` with ``U``/``u``/``pu``, ``aggTrade``, ``markPriceUpdate``, and the
listenKey user stream's ``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE`` / ``listenKeyExpired``).
Post-only is ``timeInForce=GTX``; a GTX order that would take is rejected with -5022.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Optional

from aiohttp import web

from hbconnect.sim.accounts import MAX_LEVERAGE, Account, FuturesLedger
from hbconnect.sim.binance_base import (KLINE_INTERVALS, POSITION_SIDE_FROM_WIRE, POSITION_SIDE_WIRE, STP_WIRE,
                                        BinanceError, BinanceFrontEnd, fmt, illegal, mandatory, not_required,
                                        parse_bool, parse_decimal, parse_int, select_trades, wire_status)
from hbconnect.sim.errors import Reject
from hbconnect.sim.matching import (BUY, ZERO, AccountEvent, Fill, Order, OrderEvent, OrderRequest,
                                    SymbolSpec, now_ms)
from hbconnect.sim.vocabulary import EndReason, IncomeKind, MarginMode, PositionSide, TimeInForce as TIF

_UNSUPPORTED = {t: (-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                           "endpoints instead.")
                for t in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")}


# the documented fields of GET /fapi/v2/positionRisk and /fapi/v3/positionRisk
_POSITION_RISK_V2 = ("symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
                     "unRealizedProfit", "liquidationPrice", "leverage", "maxNotionalValue", "marginType",
                     "isolatedMargin", "isAutoAddMargin", "notional", "isolatedWallet", "updateTime")
_POSITION_RISK_V3 = ("symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
                     "unRealizedProfit", "liquidationPrice", "isolatedMargin", "notional", "marginAsset",
                     "isolatedWallet", "initialMargin", "maintMargin", "positionInitialMargin",
                     "openOrderInitialMargin", "adl", "bidNotional", "askNotional", "updateTime")


#: the core's account-event reasons as ACCOUNT_UPDATE "m" names them
#: (the sim closes a liquidated isolated position without an order; Binance reports it as ORDER)
_ACCOUNT_UPDATE_REASONS = {"ORDER": "ORDER", "FUNDING": "FUNDING_FEE", "LIQUIDATION": "ORDER"}
#: ``marginType`` of POST /fapi/v1/marginType, and as position rows name the core's margin modes
_MARGIN_TYPE_FROM_WIRE = {"ISOLATED": MarginMode.ISOLATED, "CROSSED": MarginMode.CROSS}
_MARGIN_TYPE_ROW = {MarginMode.ISOLATED: "isolated", MarginMode.CROSS: "cross"}
#: the core's time in force as ``timeInForce`` names it (post-only is GTX)
_TIF_WIRE = {TIF.GTC: "GTC", TIF.IOC: "IOC", TIF.FOK: "FOK", TIF.POST_ONLY: "GTX"}
_TIF_FROM_WIRE = {wire: tif for tif, wire in _TIF_WIRE.items()}
#: the core's income kinds as ``incomeType`` names them
_INCOME_WIRE = {IncomeKind.REALIZED_PNL: "REALIZED_PNL", IncomeKind.FEE: "COMMISSION",
                IncomeKind.FUNDING: "FUNDING_FEE", IncomeKind.TRANSFER: "TRANSFER"}
_INCOME_FROM_WIRE = {wire: kind for kind, wire in _INCOME_WIRE.items()}
#: ORDER_TRADE_UPDATE "er" (expiry reason) codes of the core's end reasons
_EXPIRY_REASON_CODES = {EndReason.SELF_TRADE: 1, EndReason.IOC_REMAINDER: 2, EndReason.REDUCE_ONLY: 4,
                        EndReason.MARKET_REMAINDER: 9}


def _expiry_reason(o: Order) -> str:
    """"er": 1 self-trade prevention, 3 when that stopped an IOC taker, 2 an IOC remainder, 4 a
    reduce-only order knocked out, 9 a market order's remainder, 0 none of these."""
    if o.end_reason == EndReason.SELF_TRADE and o.time_in_force == TIF.IOC:
        return "3"
    return str(_EXPIRY_REASON_CODES.get(o.end_reason, 0))


class FuturesFrontEnd(BinanceFrontEnd):
    market = "futures"
    ws_api_path = "/ws-fapi/v1"
    ws_api_weights = {"order.place": 1, "order.cancel": 1, "order.status": 1,
                      "session.logon": 2, "session.status": 2, "session.logout": 2}
    ping_interval = 180.0
    long_order_header = "X-MBX-ORDER-COUNT-1M"
    ws_incoming_per_second = 10
    max_streams = 200
    stream_re = re.compile(r"^([a-z0-9]+)@(depth(?:5|10|20)?(?:@100ms|@250ms|@500ms)?|trade|aggTrade|"
                           r"bookTicker|markPrice(?:@1s)?|ticker|miniTicker|kline_[0-9]+[smhdwM]|forceOrder)$")
    #: ``forceOrder`` streams are served and stay silent: the sim never liquidates
    all_market_streams = ("!ticker@arr", "!miniTicker@arr", "!bookTicker", "!markPrice@arr",
                          "!markPrice@arr@1s", "!forceOrder@arr")
    depth_intervals = (100, 250, 500)
    default_depth_ms = 250
    ticker_time = True
    kline_intervals = tuple(i for i in KLINE_INTERVALS if i != "1s")
    max_kline_limit = 1500
    ticker_period = 2.0             # @ticker / @miniTicker: 2000 ms on USDⓈ-M
    kline_period = 0.25
    rejects = {
        Reject.DUPLICATE_CLIENT_ID: (-4116, "ClientOrderId is duplicated."),
        Reject.POST_ONLY_WOULD_TAKE: (-5022, "Due to the order could not be executed as maker, the Post Only "
                                             "order will be rejected."),
    }

    @property
    def ledger(self) -> FuturesLedger:
        return self.engine.ledger       # type: ignore[return-value]

    def add_routes(self) -> None:
        r = self.route
        r("GET", "/fapi/v1/ping", self.ping, 1, fault_exempt=True)
        r("GET", "/fapi/v1/time", self.time, 1, fault_exempt=True)
        r("GET", "/fapi/v1/exchangeInfo", self.exchange_info, 1, fault_exempt=True)
        r("GET", "/fapi/v1/depth", self.depth, self.depth_weight)
        r("GET", "/fapi/v1/trades", self.recent_trades, 5)
        r("GET", "/fapi/v1/aggTrades", self.agg_trades, 20)
        r("GET", "/fapi/v1/klines", self.klines, self.kline_weight)
        # coin-margined futures (dapi.binance.com), served here: no COIN-M contract is listed
        r("GET", "/dapi/v1/exchangeInfo", self.coinm_exchange_info, 1, fault_exempt=True)
        r("GET", "/fapi/v1/premiumIndex", self.premium_index, lambda p: 1 if p.get("symbol") else 10)
        r("GET", "/fapi/v1/fundingRate", self.funding_rate_history, 1)
        r("GET", "/fapi/v1/ticker/bookTicker", self.book_ticker, 2)
        r("GET", "/fapi/v1/ticker/price", self.ticker_price, 1)
        r("GET", "/fapi/v1/ticker/24hr", self.ticker_24hr, lambda p: 1 if p.get("symbol") else 40)
        r("POST", "/fapi/v1/order", self.new_order, 1, "SIGNED", order=True)
        r("DELETE", "/fapi/v1/order", self.cancel_order, 1, "SIGNED", order=True)
        r("GET", "/fapi/v1/order", self.get_order, 1, "SIGNED")
        r("GET", "/fapi/v1/openOrders", self.open_orders, lambda p: 1 if p.get("symbol") else 40, "SIGNED")
        r("GET", "/fapi/v1/allOrders", self.all_orders, 5, "SIGNED")
        r("DELETE", "/fapi/v1/allOpenOrders", self.cancel_all, 1, "SIGNED")
        r("GET", "/fapi/v2/account", self.account_v2, 5, "SIGNED")
        r("GET", "/fapi/v3/account", self.account_v3, 5, "SIGNED")
        r("GET", "/fapi/v2/balance", self.balance, 5, "SIGNED")
        r("GET", "/fapi/v3/balance", self.balance, 5, "SIGNED")
        r("GET", "/fapi/v2/positionRisk", self.position_risk, 5, "SIGNED")
        r("GET", "/fapi/v3/positionRisk", self.position_risk, 5, "SIGNED")
        r("POST", "/fapi/v1/leverage", self.set_leverage, 1, "SIGNED")
        r("GET", "/fapi/v1/leverageBracket", self.leverage_bracket, 1, "SIGNED")
        r("POST", "/fapi/v1/marginType", self.set_margin_type, 1, "SIGNED")
        r("GET", "/fapi/v1/commissionRate", self.commission_rate, 20, "SIGNED")
        r("GET", "/fapi/v1/positionSide/dual", self.get_dual, 30, "SIGNED")
        r("POST", "/fapi/v1/positionSide/dual", self.set_dual, 1, "SIGNED")
        r("GET", "/fapi/v1/income", self.income, 30, "SIGNED")
        r("GET", "/fapi/v1/userTrades", self.user_trades, 5, "SIGNED")
        r("POST", "/fapi/v1/listenKey", self.listen_key_new, 1, "API_KEY")
        r("PUT", "/fapi/v1/listenKey", self.listen_key_keepalive, 1, "API_KEY")
        r("DELETE", "/fapi/v1/listenKey", self.listen_key_close, 1, "API_KEY")

    @staticmethod
    def kline_weight(params: dict) -> int:
        try:
            limit = int(params.get("limit", 500))
        except ValueError:
            return 1
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10

    @staticmethod
    def depth_weight(params: dict) -> int:
        try:
            limit = int(params.get("limit", 500))
        except ValueError:
            return 2
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20

    def fp(self, spec: SymbolSpec, d: Optional[Decimal]) -> str:
        return fmt(d, spec.price_decimals)

    def fq(self, spec: SymbolSpec, d: Optional[Decimal]) -> str:
        return fmt(d, spec.qty_decimals)

    p, q = fp, fq

    # ------------------------------------------------------------------ public
    def symbol_info(self, spec: SymbolSpec) -> dict:
        return {
            "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": spec.base, "quoteAsset": spec.quote, "marginAsset": spec.quote,
            "pricePrecision": spec.price_decimals, "quantityPrecision": spec.qty_decimals,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
            "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": str(spec.min_price), "maxPrice": str(spec.max_price),
                 "tickSize": str(spec.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": str(spec.min_qty), "maxQty": str(spec.max_qty),
                 "stepSize": str(spec.step_size)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": str(spec.min_qty),
                 "maxQty": str(spec.market_max_qty), "stepSize": str(spec.step_size)},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                 "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }

    async def exchange_info(self, request: web.Request, params: dict, account: Any) -> dict:
        lim = self.limits
        return {
            "timezone": "UTC", "serverTime": self.server_time(), "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": lim.weight_1m},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": lim.orders_long},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_10s},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [self.symbol_info(s) for s in self.engine.specs.values()],
        }

    async def depth(self, request: web.Request, params: dict, account: Any) -> dict:
        spec = self.spec(params)
        limit = parse_int(params, "limit") or 500
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise illegal("limit", "5, 10, 20, 50, 100, 500, 1000")
        book = self.engine.books[spec.symbol]
        ts = now_ms()
        return {"lastUpdateId": book.update_id, "E": ts, "T": ts,
                "bids": self.levels(spec, book.depth(BUY, limit)),
                "asks": self.levels(spec, book.depth("SELL", limit))}

    async def coinm_exchange_info(self, request: web.Request, params: dict, account: Any) -> dict:
        """GET /dapi/v1/exchangeInfo in its documented shape, with no symbol listed."""
        return {"exchangeFilters": [], "rateLimits": [
            {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
            {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"}],
            "serverTime": self.server_time(), "symbols": [], "timezone": "UTC"}

    def premium(self, spec: SymbolSpec) -> dict:
        mark = self.exchange.mark_price_of(spec.symbol)
        return {"symbol": spec.symbol, "markPrice": fmt(mark), "indexPrice": fmt(mark),
                "estimatedSettlePrice": fmt(mark),
                "lastFundingRate": fmt(self.exchange.funding_rate(spec.symbol)),
                "interestRate": "0.00010000", "nextFundingTime": self.exchange.next_funding_ms,
                "time": now_ms()}

    async def premium_index(self, request: web.Request, params: dict, account: Any) -> Any:
        if params.get("symbol"):
            return self.premium(self.spec(params))
        return [self.premium(s) for s in self.engine.specs.values()]

    async def funding_rate_history(self, request: web.Request, params: dict, account: Any) -> list:
        symbol = self.spec(params).symbol if params.get("symbol") else None
        limit = max(1, min(parse_int(params, "limit") or 100, 1000))
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        rows = [h for h in self.exchange.funding_history
                if (symbol is None or h["symbol"] == symbol)
                and (start is None or h["fundingTime"] >= start) and (end is None or h["fundingTime"] <= end)]
        return [{"symbol": h["symbol"], "fundingRate": fmt(h["fundingRate"]), "fundingTime": h["fundingTime"],
                 "markPrice": fmt(h["markPrice"])} for h in rows[-limit:]]

    # ------------------------------------------------------------------ orders
    def parse_order(self, params: dict, account: Account) -> tuple[OrderRequest, str]:
        spec, side, otype = self.parse_side_type(params, ("LIMIT", "MARKET"), _UNSUPPORTED)
        qty = parse_decimal(params, "quantity")
        price = parse_decimal(params, "price")
        tif = params.get("timeInForce")
        position_side = POSITION_SIDE_FROM_WIRE.get(params.get("positionSide") or "BOTH")
        if position_side is None:
            raise BinanceError(-4006, "Invalid position side.")
        reduce_only = parse_bool(params, "reduceOnly") or False
        if params.get("reduceOnly") is not None and account.futures.hedge_mode:
            raise not_required("reduceonly")
        if qty is None:
            raise mandatory("quantity")
        if otype == "LIMIT":
            if not tif:
                raise mandatory("timeInForce")
            tif = _TIF_FROM_WIRE.get(tif)
            if tif is None:
                raise BinanceError(-1115, "Invalid timeInForce.")
            if price is None:
                raise mandatory("price")
        else:
            if price is not None:
                raise not_required("price")
            tif = "GTC"
        cid, stp = self.parse_cid_stp(params)
        resp_type = self.parse_resp_type(params, "ACK", ("ACK", "RESULT"))
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if price is not None:
            if price <= 0:
                raise BinanceError(-4001, "Price less than 0.")
            if price < spec.min_price:
                raise BinanceError(-4013, "Price less than min price.")
            if price > spec.max_price:
                raise BinanceError(-4016, "Limit price can't be higher than max price.")
            if price % spec.tick_size:
                raise BinanceError(-4014, "Price not increased by tick size.")
        if qty % spec.step_size:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < spec.min_qty:
            raise BinanceError(-4004, "Quantity less than min quantity.")
        if qty > (spec.market_max_qty if otype == "MARKET" else spec.max_qty):
            raise BinanceError(-4005, "Quantity greater than max quantity.")
        ref = price if price is not None else self.exchange.mark_price_of(spec.symbol)
        if not reduce_only and qty * ref < spec.min_notional:
            raise BinanceError(-4164, f"Order's notional must be no smaller than {spec.min_notional} "
                                      "(unless you choose reduce only).")
        return OrderRequest(spec.symbol, side, otype, tif, qty, None, price, cid, stp, reduce_only,
                            position_side), resp_type

    def order_json(self, o: Order, with_time: bool = False) -> dict:
        spec = self.engine.specs[o.symbol]
        d = {"clientOrderId": o.client_order_id, "cumQty": self.q(spec, o.executed_qty),
             "cumQuote": fmt(o.cum_quote), "executedQty": self.q(spec, o.executed_qty),
             "orderId": o.order_id, "avgPrice": fmt(o.avg_price, max(5, spec.price_decimals)),
             "origQty": self.q(spec, o.orig_qty), "price": self.p(spec, o.price),
             "reduceOnly": o.reduce_only, "side": o.side, "positionSide": POSITION_SIDE_WIRE[o.position_side],
             "status": wire_status(o.status), "stopPrice": "0", "closePosition": o.close_position,
             "symbol": o.symbol, "timeInForce": _TIF_WIRE[o.time_in_force], "type": o.type, "origType": o.type,
             "updateTime": o.update_time, "workingType": "CONTRACT_PRICE", "priceProtect": False,
             "priceMatch": "NONE", "selfTradePreventionMode": STP_WIRE[o.stp_mode], "goodTillDate": 0}
        if with_time:
            d["time"] = o.time
        return d

    def query_json(self, o: Order) -> dict:
        return self.order_json(o, True)

    async def new_order(self, request: web.Request, params: dict, account: Account) -> dict:
        req, _ = self.parse_order(params, account)
        return self.order_json(self.engine.submit(account.account_id, req))

    async def cancel_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self.order_ids(params)
        return self.order_json(self.engine.cancel(account.account_id, spec.symbol, oid, cid))

    async def get_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self.order_ids(params)
        return self.order_json(self.engine.query(account.account_id, spec.symbol, oid, cid), True)

    async def open_orders(self, request: web.Request, params: dict, account: Account) -> list:
        symbol = self.spec(params).symbol if params.get("symbol") else None
        return [self.order_json(o, True) for o in self.engine.open_orders(account.account_id, symbol)]

    async def cancel_all(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        self.engine.cancel_all(account.account_id, spec.symbol)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ------------------------------------------------------------------ account
    def _positions_rows(self, account: Account, only_open: bool) -> list[dict]:
        fa = account.futures
        rows = []
        keys: list[tuple[str, str]] = []
        for symbol in self.engine.specs:
            sides = (PositionSide.LONG, PositionSide.SHORT) if fa.hedge_mode else (PositionSide.NET,)
            keys += [(symbol, s) for s in sides]
        for key in keys:
            pos = fa.positions.get(key)
            amount = pos.amount if pos else ZERO
            if only_open and not amount:
                continue
            spec = self.engine.specs[key[0]]
            mark = self.exchange.mark_price_of(key[0])
            lev = fa.lev(key[0])
            notional = amount * mark
            isolated = fa.isolated(key[0])
            iso_wallet = pos.isolated_margin if pos and isolated else ZERO
            liq = self.ledger.liquidation_price(fa, key[0], pos) if pos else None
            rows.append({"symbol": key[0], "positionSide": POSITION_SIDE_WIRE[key[1]], "positionAmt": self.q(spec, amount),
                         "entryPrice": fmt(pos.entry_price if pos else ZERO), "breakEvenPrice": fmt(pos.entry_price if pos else ZERO),
                         "markPrice": fmt(mark), "unRealizedProfit": fmt(pos.unrealized(mark) if pos else ZERO),
                         "liquidationPrice": fmt(liq) if liq else "0", "leverage": str(lev),
                         "maxNotionalValue": "20000000", "marginType": _MARGIN_TYPE_ROW[fa.margin_mode.get(
                             key[0], MarginMode.CROSS)],
                         "isolatedMargin": fmt(iso_wallet + (pos.unrealized(mark) if pos and isolated else ZERO)),
                         "isAutoAddMargin": "false", "notional": fmt(notional),
                         "isolatedWallet": fmt(iso_wallet) if isolated else "0",
                         "initialMargin": fmt(abs(notional) / lev), "maintMargin": fmt(abs(notional) * Decimal("0.004")),
                         "marginAsset": spec.quote, "positionInitialMargin": fmt(abs(notional) / lev),
                         "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                         "updateTime": pos.update_time if pos else 0})
        return rows

    def _account_totals(self, account: Account) -> dict:
        fa = account.futures
        led = self.ledger
        wallet = fa.wallet.get("USDT", ZERO)
        upnl = led.unrealized(fa)
        pos_margin = led.position_margin(fa)
        order_margin = sum((o.reserved for o in self.engine.open_orders(account.account_id)), ZERO)
        avail = led.available(account.account_id)
        return {"wallet": wallet, "upnl": upnl, "pos_margin": pos_margin, "order_margin": order_margin,
                "avail": avail, "cross_wallet": wallet - led.isolated_margin(fa)}

    def _asset_rows(self, account: Account, t: dict) -> list[dict]:
        fa = account.futures
        rows = []
        for asset in sorted(set(fa.wallet) | {"USDT"}):
            usdt = asset == "USDT"
            wallet = fa.wallet.get(asset, ZERO)
            rows.append({"asset": asset, "walletBalance": fmt(wallet),
                         "unrealizedProfit": fmt(t["upnl"] if usdt else ZERO),
                         "marginBalance": fmt(wallet + (t["upnl"] if usdt else ZERO)),
                         "maintMargin": fmt(t["pos_margin"] * Decimal("0.08") if usdt else ZERO),
                         "initialMargin": fmt(t["pos_margin"] + t["order_margin"] if usdt else ZERO),
                         "positionInitialMargin": fmt(t["pos_margin"] if usdt else ZERO),
                         "openOrderInitialMargin": fmt(t["order_margin"] if usdt else ZERO),
                         "crossWalletBalance": fmt(t["cross_wallet"] if usdt else wallet),
                         "crossUnPnl": fmt(t["upnl"] if usdt else ZERO),
                         "availableBalance": fmt(t["avail"] if usdt else wallet),
                         "maxWithdrawAmount": fmt(max(ZERO, t["avail"]) if usdt else wallet),
                         "marginAvailable": True, "updateTime": fa.update_time})
        return rows

    def _account(self, account: Account, v3: bool) -> dict:
        t = self._account_totals(account)
        d = {"totalInitialMargin": fmt(t["pos_margin"] + t["order_margin"]),
             "totalMaintMargin": fmt(t["pos_margin"] * Decimal("0.08")),
             "totalWalletBalance": fmt(t["wallet"]), "totalUnrealizedProfit": fmt(t["upnl"]),
             "totalMarginBalance": fmt(t["wallet"] + t["upnl"]),
             "totalPositionInitialMargin": fmt(t["pos_margin"]),
             "totalOpenOrderInitialMargin": fmt(t["order_margin"]),
             "totalCrossWalletBalance": fmt(t["cross_wallet"]), "totalCrossUnPnl": fmt(t["upnl"]),
             "availableBalance": fmt(t["avail"]), "maxWithdrawAmount": fmt(max(ZERO, t["avail"])),
             "assets": self._asset_rows(account, t)}
        if not v3:
            d.update({"feeTier": 0, "canTrade": account.can_trade, "canDeposit": True,
                      "canWithdraw": True, "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1})
        rows = self._positions_rows(account, only_open=v3)
        d["positions"] = [{"symbol": r["symbol"], "positionSide": r["positionSide"],
                           "positionAmt": r["positionAmt"], "unrealizedProfit": r["unRealizedProfit"],
                           "isolatedMargin": r["isolatedMargin"] if r["marginType"] == "isolated" else "0",
                           "notional": r["notional"],
                           "isolatedWallet": r["isolatedWallet"],
                           "initialMargin": r["initialMargin"], "maintMargin": r["maintMargin"],
                           "updateTime": r["updateTime"],
                           **({} if v3 else {"leverage": r["leverage"], "entryPrice": r["entryPrice"],
                                             "isolated": r["marginType"] == "isolated",
                                             "maxNotional": "20000000",
                                             "positionInitialMargin": r["initialMargin"],
                                             "openOrderInitialMargin": "0", "bidNotional": "0",
                                             "askNotional": "0", "breakEvenPrice": r["breakEvenPrice"]})}
                          for r in rows]
        return d

    async def account_v2(self, request: web.Request, params: dict, account: Account) -> dict:
        return self._account(account, v3=False)

    async def account_v3(self, request: web.Request, params: dict, account: Account) -> dict:
        return self._account(account, v3=True)

    async def balance(self, request: web.Request, params: dict, account: Account) -> list:
        t = self._account_totals(account)
        return [{"accountAlias": "SgsR", "asset": r["asset"], "balance": r["walletBalance"],
                 "crossWalletBalance": r["crossWalletBalance"], "crossUnPnl": r["crossUnPnl"],
                 "availableBalance": r["availableBalance"], "maxWithdrawAmount": r["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": r["updateTime"]} for r in self._asset_rows(account, t)]

    async def position_risk(self, request: web.Request, params: dict, account: Account) -> list:
        v3 = request.path.startswith("/fapi/v3")
        rows = self._positions_rows(account, only_open=v3)
        if params.get("symbol"):
            symbol = self.spec(params).symbol
            rows = [r for r in rows if r["symbol"] == symbol]
        keys = _POSITION_RISK_V3 if v3 else _POSITION_RISK_V2
        return [{k: r[k] for k in keys} for r in rows]

    async def set_leverage(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        lev = parse_int(params, "leverage", required=True)
        old = account.futures.lev(spec.symbol)
        self.ledger.set_leverage(account.account_id, spec.symbol, lev)     # type: ignore[arg-type]
        if lev != old:
            ts = now_ms()
            self.push_user(account.account_id, {"e": "ACCOUNT_CONFIG_UPDATE", "E": ts, "T": ts,
                                                "ac": {"s": spec.symbol, "l": lev}})
        return {"leverage": lev, "maxNotionalValue": "20000000", "symbol": spec.symbol}

    def brackets(self, spec: SymbolSpec, leverage_cap: int) -> list[dict]:
        """One notional bracket: the sim's margin model has a single tier (maintenance as in
        positionRisk's maintMargin: 0.4 % of the notional)."""
        return [{"bracket": 1, "initialLeverage": leverage_cap, "notionalCap": 20000000, "notionalFloor": 0,
                 "maintMarginRatio": 0.004, "cum": 0.0}]

    async def leverage_bracket(self, request: web.Request, params: dict, account: Account) -> Any:
        if params.get("symbol"):
            spec = self.spec(params)
            return {"symbol": spec.symbol, "brackets": self.brackets(spec, MAX_LEVERAGE)}
        return [{"symbol": s.symbol, "brackets": self.brackets(s, MAX_LEVERAGE)} for s in self.engine.specs.values()]

    async def set_margin_type(self, request: web.Request, params: dict, account: Account) -> dict:
        """ISOLATED / CROSSED per symbol: -4046 if already so, -4047 with open orders, -4048 with
        a position (the ledger's margin mode)."""
        spec = self.spec(params)
        mtype = params.get("marginType")
        if not mtype:
            raise mandatory("marginType")
        mode = _MARGIN_TYPE_FROM_WIRE.get(mtype)
        if mode is None:
            raise illegal("marginType", "ISOLATED, CROSSED")
        self.ledger.set_margin_mode(account.account_id, spec.symbol, mode)
        return {"code": 200, "msg": "success"}

    async def commission_rate(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        fa = account.futures
        return {"symbol": spec.symbol, "makerCommissionRate": str(fa.maker_fee.normalize()),
                "takerCommissionRate": str(fa.taker_fee.normalize())}

    async def get_dual(self, request: web.Request, params: dict, account: Account) -> dict:
        return {"dualSidePosition": account.futures.hedge_mode}

    async def set_dual(self, request: web.Request, params: dict, account: Account) -> dict:
        want = parse_bool(params, "dualSidePosition")
        if want is None:
            raise mandatory("dualSidePosition")
        self.ledger.set_position_mode(account.account_id, want)
        return {"code": 200, "msg": "success"}

    async def income(self, request: web.Request, params: dict, account: Account) -> list:
        symbol = self.spec(params).symbol if params.get("symbol") else None
        itype = _INCOME_FROM_WIRE.get(params.get("incomeType"), params.get("incomeType"))
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        limit = max(1, min(parse_int(params, "limit") or 100, 1000))
        rows = [i for i in account.futures.income
                if (symbol is None or i.symbol == symbol) and (itype is None or i.income_type == itype)
                and (start is None or i.time >= start) and (end is None or i.time <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [{"symbol": i.symbol, "incomeType": _INCOME_WIRE[i.income_type], "income": fmt(i.income),
                 "asset": i.asset, "info": _INCOME_WIRE[i.income_type], "time": i.time, "tranId": i.tran_id,
                 "tradeId": i.trade_id} for i in rows]

    async def user_trades(self, request: web.Request, params: dict, account: Account) -> list:
        spec = self.spec(params)
        return [{"buyer": t.is_buyer, "commission": fmt(t.commission), "commissionAsset": t.commission_asset,
                 "id": t.trade_id, "maker": t.is_maker, "orderId": t.order_id,
                 "price": self.p(spec, t.price), "qty": self.q(spec, t.qty), "quoteQty": fmt(t.quote_qty),
                 "realizedPnl": fmt(t.realized_pnl), "side": t.side,
                 "positionSide": POSITION_SIDE_WIRE[t.position_side],
                 "symbol": t.symbol, "time": t.time}
                for t in select_trades(account.futures.trades, spec.symbol, params)]

    async def listen_key_keepalive(self, request: web.Request, params: dict, account: Account) -> dict:
        return {"listenKey": self.keepalive_listen_key(account, params.get("listenKey"))}

    async def listen_key_close(self, request: web.Request, params: dict, account: Account) -> dict:
        self.close_listen_key(account, params.get("listenKey"))
        return {}

    # ------------------------------------------------------------------ user stream
    def on_engine_event(self, ev: Any) -> None:
        if isinstance(ev, OrderEvent):
            if self.has_user_listeners(ev.owner):
                self.push_user(ev.owner, self.order_update(ev))
        elif isinstance(ev, AccountEvent):
            if self.has_user_listeners(ev.owner):
                self.push_user(ev.owner, self.account_update(ev))

    def order_update(self, ev: OrderEvent) -> dict:
        o, s, fs = ev.order, ev.snapshot, ev.fill
        spec = self.engine.specs[o.symbol]
        avg = s["cum_quote"] / s["executed_qty"] if s["executed_qty"] else ZERO
        return {"e": "ORDER_TRADE_UPDATE", "E": ev.time, "T": ev.time, "o": {
            "s": o.symbol, "c": o.client_order_id, "S": o.side, "o": o.type, "f": _TIF_WIRE[o.time_in_force],
            "q": self.q(spec, s["orig_qty"]), "p": self.p(spec, o.price), "ap": fmt(avg, max(5, spec.price_decimals)),
            "sp": "0", "x": "EXPIRED" if ev.exec_type == "PREVENTED" else ev.exec_type,
            "X": wire_status(s["status"]), "i": o.order_id,
            "l": self.q(spec, fs.fill.qty if fs else ZERO), "z": self.q(spec, s["executed_qty"]),
            "L": self.p(spec, fs.fill.price if fs else ZERO), "N": fs.commission_asset if fs else "USDT",
            "n": fmt(fs.commission if fs else ZERO), "T": ev.time, "t": fs.fill.trade_id if fs else 0,
            "b": "0", "a": "0", "m": fs.is_maker if fs else False, "R": o.reduce_only,
            "wt": "CONTRACT_PRICE", "ot": o.type, "ps": POSITION_SIDE_WIRE[o.position_side],
            "cp": o.close_position,
            "rp": fmt(fs.realized_pnl if fs else ZERO), "pP": False, "si": 0, "ss": 0,
            "V": STP_WIRE[o.stp_mode], "pm": "NONE", "gtd": 0,
            "er": _expiry_reason(o) if ev.exec_type in ("EXPIRED", "PREVENTED") else "0"}}

    def account_update(self, ev: AccountEvent) -> dict:
        balances = [{"a": a, "wb": fmt(wb), "cw": fmt(cw), "bc": fmt(bc)} for a, wb, cw, bc in ev.balances]
        positions = []
        for p in ev.positions:
            spec = self.engine.specs[p["symbol"]]
            positions.append({"s": p["symbol"], "pa": self.q(spec, p["amount"]), "ep": fmt(p["entry_price"]),
                              "bep": fmt(p["entry_price"]), "cr": "0", "up": fmt(p["unrealized"]),
                              "mt": _MARGIN_TYPE_ROW[p["margin_mode"]], "iw": fmt(p["isolated_margin"])
                              if p["margin_mode"] == MarginMode.ISOLATED else "0",
                              "ps": POSITION_SIDE_WIRE[p["position_side"]]})
        return {"e": "ACCOUNT_UPDATE", "E": ev.time, "T": ev.time,
                "a": {"m": _ACCOUNT_UPDATE_REASONS.get(ev.reason, ev.reason), "B": balances, "P": positions}}

    # ------------------------------------------------------------------ market streams
    def trade_event(self, kind: str, fill: Fill) -> dict:
        spec = self.engine.specs[fill.symbol]
        buyer_maker = fill.maker.side == BUY
        if kind == "trade":
            return {"e": "trade", "E": fill.time, "T": fill.time, "s": fill.symbol, "t": fill.trade_id,
                    "p": self.p(spec, fill.price), "q": self.q(spec, fill.qty), "X": "MARKET", "m": buyer_maker}
        return {"e": "aggTrade", "E": fill.time, "s": fill.symbol, "a": fill.trade_id,
                "p": self.p(spec, fill.price), "q": self.q(spec, fill.qty), "f": fill.trade_id,
                "l": fill.trade_id, "T": fill.time, "m": buyer_maker}

    def depth_diff_event(self, spec: SymbolSpec, prev_u: int, last_u: int, bids: list, asks: list) -> dict:
        ts = now_ms()
        return {"e": "depthUpdate", "E": ts, "T": ts, "s": spec.symbol, "U": prev_u + 1, "u": last_u,
                "pu": prev_u, "b": bids, "a": asks}

    def partial_depth_event(self, book: Any, n: int) -> dict:
        ts = now_ms()
        u = book.update_id
        return {"e": "depthUpdate", "E": ts, "T": ts, "s": book.spec.symbol, "U": u, "u": u, "pu": u,
                "b": self.levels(book.spec, book.depth(BUY, n)),
                "a": self.levels(book.spec, book.depth("SELL", n))}

    def ticker_event(self, book: Any, st: Any) -> dict:
        spec = book.spec
        return {"e": "24hrTicker", "E": now_ms(), "s": spec.symbol, "p": self.p(spec, st.change),
                "P": fmt(st.change_percent, 3), "w": self.p(spec, st.vwap), "c": self.p(spec, st.last),
                "Q": self.q(spec, st.last_qty), "o": self.p(spec, st.open), "h": self.p(spec, st.high),
                "l": self.p(spec, st.low), "v": self.q(spec, st.volume), "q": fmt(st.quote_volume),
                "O": st.open_time, "C": st.close_time, "F": st.first_id, "L": st.last_id, "n": st.count}

    def book_ticker_event(self, book: Any, top: tuple) -> dict:
        spec, (bid, ask), ts = book.spec, top, now_ms()
        return {"e": "bookTicker", "u": book.update_id, "E": ts, "T": ts, "s": spec.symbol,
                "b": self.p(spec, bid[0] if bid else ZERO), "B": self.q(spec, bid[1] if bid else ZERO),
                "a": self.p(spec, ask[0] if ask else ZERO), "A": self.q(spec, ask[1] if ask else ZERO)}

    def mark_price_event(self, symbol: str) -> dict:
        mark = self.exchange.mark_price_of(symbol)
        return {"e": "markPriceUpdate", "E": now_ms(), "s": symbol, "p": fmt(mark), "i": fmt(mark),
                "P": fmt(mark), "r": fmt(self.exchange.funding_rate(symbol)), "T": self.exchange.next_funding_ms}

    def publish_other(self, stream: str, kind: str, book: Any, now: float) -> None:
        if kind.startswith("markPrice") and self.due(("mark", stream), now, 1.0 if kind.endswith("@1s") else 3.0):
            self.push_market(stream, self.mark_price_event(book.spec.symbol))

    def publish_all_other(self, stream: str, now: float) -> None:
        if stream.startswith("!markPrice@arr") and self.due(("mark", stream), now,
                                                            1.0 if stream.endswith("@1s") else 3.0):
            self.push_market(stream, [self.mark_price_event(s) for s in self.engine.specs])
