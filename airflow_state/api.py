"""One shape for a call to Airflow 3's public REST API (`/api/v2`), whatever carries it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

#: (method, path, query parameters, JSON body) -> the decoded JSON response; raises ApiError on an HTTP error.
Call = Callable[[str, str, Mapping[str, Any] | None, Any], Any]
BASE = "/api/v2"
#: A page of a list endpoint: small enough for InvokeRestApi's 10-second limit per call (AWS's MWAA API reference).
PAGE = 100


def endpoint(*parts: str) -> str:
    """An endpoint's path under BASE, each part quoted: a run id holds `:` and `+`, and a DAG or pool name may hold `/`."""
    return "/".join([BASE, *(quote(part, safe="") for part in parts)])


class ApiError(Exception):
    """The API answered with an HTTP error."""

    def __init__(self, status: int, method: str, path: str, detail: Any) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {detail}")
        self.status = status


def pages(call: Call, path: str, key: str, query: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a list endpoint, page by page (`limit`/`offset` until `total_entries`)."""
    offset = 0
    while True:
        page = call("GET", path, {**(query or {}), "limit": PAGE, "offset": offset}, None)
        items = page[key]
        yield from items
        offset += len(items)
        if not items or offset >= page["total_entries"]:
            return
