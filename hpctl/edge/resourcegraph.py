"""Azure Resource Graph: run a KQL query across subscriptions, follow $skipToken pages, respect the quota."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from hpctl.core.graph_queries import PAGE_SIZE
from hpctl.edge.clients import Connection

log = logging.getLogger(__name__)

MAX_QUOTA_WAITS = 8
MAX_WAIT_SECONDS = 60.0
# Replaced in playback so recorded waits cost nothing (like azure-core's own retry sleep).
pause = time.sleep


def quota_wait(headers: Any) -> float | None:
    """Seconds until ARG's per-user quota refills when it is spent (x-ms-user-quota-* headers), else None.

    ARG throttles per user (15 queries per 5 s by default) and says so in these headers rather than with
    Retry-After, so azure-core's retry policy does not wait on them: hpctl does.
    """
    if headers is None:
        return None
    remaining = headers.get("x-ms-user-quota-remaining")
    resets = headers.get("x-ms-user-quota-resets-after")
    if remaining is None or resets is None:
        return None
    try:
        if int(remaining) > 0:
            return None
        hours, minutes, seconds = (float(part) for part in str(resets).split(":"))
    except ValueError:
        return None
    return min(MAX_WAIT_SECONDS, hours * 3600 + minutes * 60 + seconds)


def _page(conn: Connection, request: QueryRequest) -> tuple[Any, Any]:
    for attempt in range(MAX_QUOTA_WAITS + 1):
        try:
            return conn.graph.resources(
                request, cls=lambda pipeline, result, headers: (result, pipeline.http_response.headers))
        except HttpResponseError as exc:
            wait = quota_wait(getattr(exc.response, "headers", None)) if exc.status_code == 429 else None
            if wait is None or attempt == MAX_QUOTA_WAITS:
                raise
            log.info("Resource Graph quota spent; waiting %.1f s", wait)
            pause(wait)
    raise AssertionError("unreachable")


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
        response, headers = _page(conn, request)
        pages += 1
        rows.extend(response.data or [])
        skip_token = response.skip_token
        log.debug("Resource Graph page %d: %d rows (total %s)", pages, len(response.data or []),
                  response.total_records)
        if not skip_token:
            return rows, pages
        wait = quota_wait(headers)
        if wait:
            # Spending the last of the quota on a page: wait before the next rather than provoke a 429.
            log.info("Resource Graph quota spent; waiting %.1f s before the next page", wait)
            pause(wait)
