"""Azure Resource Graph: run a KQL query across subscriptions, follow $skipToken pages, keep to the user quota."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from hpctl.core.graph_queries import PAGE_SIZE
from hpctl.edge.clients import Connection
from hpctl.edge.errors import raise_arm_error

log = logging.getLogger(__name__)

MAX_QUOTA_WAITS = 8
MAX_WAIT_SECONDS = 60.0
# After a 429 wait at least this long, whatever the header says, so a rounded-down "00:00:00" can't spin.
MIN_THROTTLED_WAIT = 0.5
RESOURCES_PATH = "/providers/Microsoft.ResourceGraph/resources"
# A query whose connection broke before its answer is sent again this many times, after 0.5 s, 1 s, 1.5 s.
MAX_QUERY_RESENDS = 3
RESEND_PAUSE = 0.5
# Replaced in playback so recorded waits cost nothing (like azure-core's own retry sleep).
pause = time.sleep


def _seconds(text: Any) -> float | None:
    try:
        hours, minutes, seconds = (float(part) for part in str(text).split(":"))
    except ValueError:
        return None
    return hours * 3600 + minutes * 60 + seconds


def quota_state(headers: Any) -> tuple[int, float] | None:
    """(queries left, seconds until the window resets) from x-ms-user-quota-*, or None without them."""
    if headers is None:
        return None
    remaining = headers.get("x-ms-user-quota-remaining")
    resets = _seconds(headers.get("x-ms-user-quota-resets-after"))
    if remaining is None or resets is None:
        return None
    try:
        return int(remaining), resets
    except ValueError:
        return None


@dataclass
class QuotaClock:
    """ARG's per-user quota window, timed on hpctl's own clock.

    `x-ms-user-quota-resets-after` is whole seconds, rounded up: sleeping it after the last query of a window
    ends each wait up to a second late. Every answer bounds the window's end from above (received + resets),
    and the first answer of a window gives its full length, so the tightest bound seen is when the next
    window opens. One clock serves all the queries of a command: the quota is the user's, not the query's.
    """

    clock: Callable[[], float] = time.monotonic
    ends_at: float | None = None
    spent: bool = False
    _remaining: int | None = None

    def observe(self, received: float, remaining: int, resets: float) -> None:
        """Record one answer's quota headers (received: our clock when the answer arrived)."""
        bound = received + min(resets, MAX_WAIT_SECONDS)
        new_window = (self.ends_at is None or self._remaining is None or remaining >= self._remaining
                      or received >= self.ends_at)
        if new_window or self.ends_at is None:
            self.ends_at = bound
        else:
            self.ends_at = min(self.ends_at, bound)
        self._remaining = remaining
        self.spent = remaining <= 0

    def throttled(self, received: float, resets: float) -> None:
        """A 429: ARG counted no query; the window ends when the header says (never sooner than a moment)."""
        self.ends_at = received + min(MAX_WAIT_SECONDS, max(resets, MIN_THROTTLED_WAIT))
        self._remaining = 0
        self.spent = True

    def wait(self) -> None:
        """Before a query: when the window's queries are spent, sleep until it ends. The caller's work since the
        last answer (converting the rows it got) has already used part of that time."""
        if not self.spent or self.ends_at is None:
            return
        left = self.ends_at - self.clock()
        if left > 0:
            log.info("Resource Graph quota spent; waiting %.2f s for the next window", left)
            pause(left)
        self.spent = False
        self._remaining = None


def _request(kql: str, subscriptions: Sequence[str] | None, page_size: int, skip_token: str | None,
             api_version: str) -> HttpRequest:
    # The body the SDK's resources() sends; its response model is skipped (below), not its wire format.
    options = QueryRequestOptions(top=None if skip_token else page_size, skip_token=skip_token,
                                  result_format="objectArray")
    body = QueryRequest(subscriptions=list(subscriptions) if subscriptions else None, query=kql,
                        options=options).serialize()
    return HttpRequest("POST", RESOURCES_PATH, params={"api-version": api_version}, json=body,
                       headers={"Accept": "application/json"})


def _send(conn: Connection, request: HttpRequest) -> Any:
    """One query through the SDK client's pipeline (documented: aka.ms/azsdk/dpcodegen/python/send_request).
    A query is a POST that only reads, but azure-core retries a broken connection only for GETs and the like
    (and its status retries would spend the quota on 429s hpctl waits out itself): sent again here."""
    for attempt in range(MAX_QUERY_RESENDS + 1):
        try:
            return conn.graph._send_request(request)
        except (ServiceRequestError, ServiceResponseError):
            if attempt == MAX_QUERY_RESENDS:
                raise
            log.info("A Resource Graph query's connection broke; asking again")
            pause(RESEND_PAUSE * (attempt + 1))
    raise AssertionError("unreachable")


def _page(conn: Connection, quota: QuotaClock, request: HttpRequest) -> dict[str, Any]:
    """One page through the SDK client's pipeline (auth, retries, pacing). The answer is read with the json
    module: the SDK's model deserialiser walks every value of every row, which cost more than the rows did."""
    for attempt in range(MAX_QUOTA_WAITS + 1):
        quota.wait()
        response = _send(conn, request)
        received = quota.clock()
        state = quota_state(response.headers)
        if response.status_code == 200:
            if state is not None:
                quota.observe(received, *state)
            answer: dict[str, Any] = response.json()
            return answer
        if response.status_code == 429 and state is not None and attempt < MAX_QUOTA_WAITS:
            quota.throttled(received, state[1])
            continue
        raise_arm_error(response)
    raise AssertionError("unreachable")


def pages(conn: Connection, kql: str, subscriptions: Sequence[str] | None = None, *, page_size: int = PAGE_SIZE,
          quota: QuotaClock | None = None) -> Iterator[list[dict[str, Any]]]:
    """The rows of `kql` one page at a time, over the given subscriptions (None: every subscription the
    identity can read). A wait for the quota happens when the next page is asked for, so whatever the caller
    does with a page runs inside the wait rather than after it."""
    quota = quota or QuotaClock()
    api_version = conn.graph._config.api_version  # the SDK's own, so requests match what resources() sends
    skip_token: str | None = None
    number = 0
    while True:
        answer = _page(conn, quota, _request(kql, subscriptions, page_size, skip_token, api_version))
        number += 1
        rows = answer.get("data") or []
        log.debug("Resource Graph page %d: %d rows (total %s)", number, len(rows), answer.get("totalRecords"))
        skip_token = answer.get("$skipToken")
        yield rows
        if not skip_token:
            return


def query(conn: Connection, kql: str, subscriptions: Sequence[str] | None = None,
          *, page_size: int = PAGE_SIZE, quota: QuotaClock | None = None) -> tuple[list[dict[str, Any]], int]:
    """All rows of `kql` over the given subscriptions. Returns (rows, pages requested)."""
    rows: list[dict[str, Any]] = []
    count = 0
    for page in pages(conn, kql, subscriptions, page_size=page_size, quota=quota):
        rows.extend(page)
        count += 1
    return rows, count
