"""The connector engine, written once for every venue: ``Connector`` (spot) and
``PerpConnector`` (perpetual), driven by a venue's trading translation object."""
from __future__ import annotations

from hbconnect.connector.connector import CancellationResult, Connector
from hbconnect.connector.perp import PerpConnector

__all__ = ["Connector", "PerpConnector", "CancellationResult"]
