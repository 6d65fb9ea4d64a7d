"""Binance WebSocket API order entry: spot (``/ws-api/v3``) and USDⓈ-M (``/ws-fapi/v1``).

Requests are ``{"id", "method", "params"}`` text frames; answers ``{"id", "status", "result" |
"error", "rateLimits"}``. A ``TRADE`` / ``USER_DATA`` request is signed like REST, except that
the signature payload is *every* parameter but ``signature`` (``apiKey`` included) sorted by
name and joined as ``name=value`` with ``&`` (Binance "SIGNED request example (HMAC)"): HMAC-SHA256
in hex, or the private key's signature in base64 (Ed25519, RSA).

With an Ed25519 key the session is logged in once (``session.logon``, the only key type Binance
accepts for it, spot and USDⓈ-M) and later requests carry neither ``apiKey`` nor ``signature``,
only ``timestamp``. HMAC and RSA keys sign every request.

``timestamp`` and ``recvWindow`` are JSON integers (USDⓈ-M: "INT parameters ... are expected as
JSON integers, not strings"), decimals JSON strings.
"""
from __future__ import annotations

from typing import Any as _Any, Optional as _Optional, Union as _Union

from hbconnect.connector.contract import AccountSettings, WsOrderReply, WsSessionNotice, WsUserData
from hbconnect.core.codecs import fast_loads as _loads, json_dumps as _dumps
from hbconnect.core.errors import AuthenticationError
from hbconnect.exchanges._trading import fmt_decimal

#: the request id of the session's ``session.logon`` (order requests use counters)
LOGON_ID = "session.logon"

#: ``rateLimits`` / header interval letters -> seconds
_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def ws_signature_payload(params: dict) -> str:
    """The WebSocket API's signature payload: all params but ``signature``, sorted by name."""
    return "&".join([f"{k}={params[k]}" for k in sorted(params) if k != "signature"])


class BinanceWsOrderEntry:
    """WebSocket order entry for :class:`BinanceSpotTrading` / :class:`BinancePerpetualTrading`
    (mixed into both; reads their ``credentials``, ``recv_window_ms``, ``ws_api_url``,
    ``place_order_request``, ``cancel_order_request``, ``order_status_request``, ``_error_of`` and ``_budget_ids``)."""

    ws_order_entry = True
    _ws_api_path = "/ws-api/v3"

    # -- session --

    def ws_order_url(self) -> str:
        return self.ws_api_url  # type: ignore[attr-defined]

    @property
    def ws_session_logon(self) -> bool:
        """True when the key is Ed25519: one ``session.logon``, then unsigned requests (read
        once per credentials object: every order message asks)."""
        creds = self.credentials  # type: ignore[attr-defined]
        cached = self.__dict__.get("_ws_logon_of")
        if cached is None or cached[0] is not creds:
            cached = self.__dict__["_ws_logon_of"] = (creds, creds.private_key_kind == "ed25519")
        return cached[1]

    def _sign_ws(self, params: dict) -> None:
        creds = self.credentials  # type: ignore[attr-defined]
        params["apiKey"] = creds.api_key
        payload = ws_signature_payload(params)
        params["signature"] = (creds.private_key_sign_base64(payload) if creds.has_private_key
                               else creds.hmac_sha256_hex(payload))

    def ws_order_login(self, timestamp_ms: int) -> _Optional[str]:
        """``session.logon`` for an Ed25519 key; None otherwise (every request signed)."""
        if not self.ws_session_logon:
            return None
        params: dict = {"timestamp": int(timestamp_ms)}
        self._sign_ws(params)
        return _dumps({"id": LOGON_ID, "method": "session.logon", "params": params})

    def parse_login_reply(self, raw: _Union[str, bytes]) -> _Optional[bool]:
        """True for the ``session.logon`` success; ``AuthenticationError`` for its refusal; None
        for other frames."""
        msg = _loads(raw)
        if not isinstance(msg, dict) or msg.get("id") != LOGON_ID:
            return None
        if msg.get("status") == 200:
            return True
        error = msg.get("error") if isinstance(msg.get("error"), dict) else {}
        raise AuthenticationError(error.get("code"), f"session.logon refused: {str(error.get('msg', ''))[:200]}",
                                  venue=self.name)  # type: ignore[attr-defined]

    # -- user data on this socket --

    def ws_user_stream_message(self, request_id: str, timestamp_ms: int) -> str:
        """The user-data subscription on the order socket ("User Data Stream requests"):
        ``userDataStream.subscribe`` (no parameters) in a ``session.logon`` session (Ed25519),
        else ``userDataStream.subscribe.signature`` with ``apiKey``, ``timestamp`` and
        ``signature`` (the request's own signature, HMAC or RSA)."""
        if self.ws_session_logon:
            return _dumps({"id": request_id, "method": "userDataStream.subscribe"})
        params: dict = {"timestamp": int(timestamp_ms)}
        self._sign_ws(params)
        return _dumps({"id": request_id, "method": "userDataStream.subscribe.signature", "params": params})

    # -- requests --

    def _ws_request(self, method: str, params: dict, request_id: str, timestamp_ms: int) -> str:
        out = {k: v if type(v) is str else fmt_decimal(v) for k, v in params.items() if v is not None}
        out["recvWindow"] = self.recv_window_ms  # type: ignore[attr-defined]
        out["timestamp"] = int(timestamp_ms)
        if not self.ws_session_logon:
            self._sign_ws(out)
        return _dumps({"id": request_id, "method": method, "params": out})

    def ws_place_order_message(self, order: _Any, account: AccountSettings, request_id: str,
                               timestamp_ms: int) -> str:
        request = self.place_order_request(order, account)  # type: ignore[attr-defined]
        return self._ws_request("order.place", request.params, request_id, timestamp_ms)

    def ws_cancel_order_message(self, order: _Any, request_id: str, timestamp_ms: int) -> str:
        request = self.cancel_order_request(order)  # type: ignore[attr-defined]
        return self._ws_request("order.cancel", request.params, request_id, timestamp_ms)

    def ws_order_status_message(self, order: _Any, request_id: str, timestamp_ms: int) -> str:
        request = self.order_status_request(order)  # type: ignore[attr-defined]
        return self._ws_request("order.status", request.params, request_id, timestamp_ms)

    # -- answers --

    def parse_ws_order_reply(self, raw: _Union[str, bytes]) -> _Union[WsOrderReply, WsSessionNotice, None]:
        """An answer -> WsOrderReply (``result``, or the error classified as on REST, with the
        venue's ``rateLimits`` counts in ``usage``); a WsSessionNotice for the session's end
        (``{"id": null, "status": 401, "error": {"code": -2015}}``: "If during an active session
        the API key becomes invalid for any reason ... after the next request the session will
        be revoked") and for ``{"event": {"e": "serverShutdown"}}`` ("Please establish a new
        connection as soon as possible"); a WsUserData for a user-data event
        (``{"subscriptionId": 0, "event": {...}}``, "Event format"); None for other frames that
        answer no request (the logon answer, other ``id: null`` answers)."""
        msg = _loads(raw)
        if type(msg) is not dict:
            raise ValueError("WebSocket API frame is not an object")
        rid = msg.get("id")
        status = msg.get("status")
        if status == 200 and rid is not None and rid != LOGON_ID:  # the common case: a success
            return WsOrderReply(str(rid), data=msg.get("result"), usage=self.parse_rate_limit_counts(msg.get("rateLimits")))
        if rid is None:
            if msg.get("status") == 401:
                error = msg.get("error") if isinstance(msg.get("error"), dict) else {}
                return WsSessionNotice(f"session revoked ({error.get('code')}: {str(error.get('msg', ''))[:100]})",
                                       revoked=True)
            event = msg.get("event")
            if isinstance(event, dict):
                if event.get("e") == "serverShutdown":
                    return WsSessionNotice("serverShutdown: the server is about to shut down")
                # a user-data event of a subscription on this connection
                return WsUserData(self.user_stream_events(event))  # type: ignore[attr-defined]
            return None
        if rid == LOGON_ID or status is None:
            return None
        usage = self.parse_rate_limit_counts(msg.get("rateLimits"))
        status = int(status)
        if status == 200:
            return WsOrderReply(str(rid), data=msg.get("result"), usage=usage)
        error = msg.get("error") if isinstance(msg.get("error"), dict) else {}
        headers = None
        detail = error.get("data") if isinstance(error.get("data"), dict) else None
        if detail and detail.get("retryAfter") is not None and detail.get("serverTime") is not None:
            # the WebSocket API names the end of the back-off as a time on its clock
            try:
                seconds = max(0.0, (int(detail["retryAfter"]) - int(detail["serverTime"])) / 1000.0)
                headers = {"Retry-After": f"{seconds:g}"}
            except (TypeError, ValueError):
                headers = None
        return WsOrderReply(str(rid), error=self._error_of(status, error, headers), usage=usage)  # type: ignore[attr-defined]

    def parse_rate_limit_counts(self, rate_limits: _Any) -> dict:
        """``rateLimits`` entries -> {throttler limit id: the venue's count} for the budgets this
        translation keeps (unknown entries are ignored)."""
        out: dict = {}
        if type(rate_limits) is not list:
            return out
        ids = self.__dict__.get("_rate_limit_ids")
        if ids is None:  # (type, interval, intervalNum) -> limit id (None: not kept), per object
            ids = self.__dict__["_rate_limit_ids"] = {}
        for entry in rate_limits:
            try:
                key = (entry["rateLimitType"], entry["interval"], entry["intervalNum"])
                count = entry["count"]
                if type(count) is not int:
                    count = int(count)
                limit_id = ids[key]
            except KeyError:  # a key not seen yet (or a field missing: skipped below)
                try:
                    seconds = _INTERVAL_SECONDS[entry["interval"]] * int(entry["intervalNum"])
                    count = int(entry["count"])
                    key = (entry["rateLimitType"], entry["interval"], entry["intervalNum"])
                except (KeyError, TypeError, ValueError):
                    continue
                limit_id = self._budget_ids.get((key[0], seconds))  # type: ignore[attr-defined]
                if len(ids) < 64:  # bounded: a venue sends a handful of kinds
                    ids[key] = limit_id
            except (TypeError, ValueError):
                continue
            if limit_id is not None:
                out[limit_id] = count
        return out

    def rate_limit_usage(self, headers: _Any) -> dict:
        """``X-MBX-USED-WEIGHT-<n><unit>`` / ``X-MBX-ORDER-COUNT-<n><unit>`` headers -> {throttler
        limit id: the venue's count}."""
        out: dict = {}
        if not headers:
            return out
        units = {"S": 1, "M": 60, "H": 3600, "D": 86400}
        for name, value in headers.items():
            upper = name.upper()
            if upper.startswith("X-MBX-USED-WEIGHT-"):
                kind, spec = "REQUEST_WEIGHT", upper[18:]
            elif upper.startswith("X-MBX-ORDER-COUNT-"):
                kind, spec = "ORDERS", upper[18:]
            else:
                continue
            try:
                seconds = int(spec[:-1]) * units[spec[-1]]
                count = int(value)
            except (KeyError, ValueError, IndexError):
                continue
            limit_id = self._budget_ids.get((kind, seconds))  # type: ignore[attr-defined]
            if limit_id is not None:
                out[limit_id] = count
        return out
