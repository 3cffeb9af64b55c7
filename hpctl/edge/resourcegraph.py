"""Azure Resource Graph: run a KQL query across subscriptions and follow $skipToken pages."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from hpctl.core.graph_queries import PAGE_SIZE
from hpctl.edge.clients import Connection

log = logging.getLogger(__name__)


def query(conn: Connection, kql: str, subscriptions: Sequence[str] | None = None,
          *, page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """All rows of `kql` over the given subscriptions (None: every subscription the identity can read).

    Returns (rows, pages requested).
    """
    rows: list[dict[str, Any]] = []
    skip_token: str | None = None
    pages = 0
    while True:
        options = QueryRequestOptions(top=None if skip_token else page_size, skip_token=skip_token,
                                      result_format="objectArray")
        request = QueryRequest(subscriptions=list(subscriptions) if subscriptions else None, query=kql,
                               options=options)
        response = conn.graph.resources(request)
        pages += 1
        rows.extend(response.data or [])
        skip_token = response.skip_token
        log.debug("Resource Graph page %d: %d rows (total %s)", pages, len(response.data or []),
                  response.total_records)
        if not skip_token:
            return rows, pages
