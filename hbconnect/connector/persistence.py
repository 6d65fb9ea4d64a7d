"""Saving in-flight orders to a JSON file (atomic replace) and loading them back."""
from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any, Dict

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def save_orders(path: str, venue: str, tracking_states: Dict[str, Any]) -> None:
    """Write ``tracking_states`` for ``venue`` to ``path`` atomically (tmp file + rename)."""
    data = {"version": FORMAT_VERSION, "venue": venue, "orders": tracking_states}
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".orders-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_orders(path: str, venue: str) -> Dict[str, Any]:
    """The saved tracking states for ``venue``; {} when the file is absent, unreadable or of
    another venue (logged)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.error("cannot read saved orders from %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("orders"), dict):
        logger.error("saved orders file %s has an unexpected shape; ignored", path)
        return {}
    if data.get("venue") not in (None, venue):
        logger.error("saved orders file %s belongs to %s, not %s; ignored", path, data.get("venue"), venue)
        return {}
    return data["orders"]
