# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottom of the servicenow backend: Table API rows and Batch API calls. FOR INTERNAL COLLECTION USE ONLY.

Every other file of the package talks to the instance through a ServiceNowClient: one HTTP session
(_http.HttpClient: keep-alive, TLS and timeout on every call, retries), rows read with only the fields
asked for, and several Table API calls sent as one ``POST /api/now/v1/batch``.
"""

from __future__ import annotations

import base64
import json
import typing as t
import urllib.parse

from ..._errors import ItsmTransientError
from ..._http import HttpClient, Response, decode_json
from ..._options import ConnectionSettings

TABLE_API = "/api/now/table/"
BATCH_API = "/api/now/v1/batch"
#: one call of a batch: (method, url) or (method, url, JSON body)
Call = t.Union[tuple[str, str], tuple[str, str, t.Any]]


def url(path: str, params: t.Mapping[str, t.Any]) -> str:
    """``path`` with ``params`` as its query string: a call's URL inside a batch."""
    return f"{path}?{urllib.parse.urlencode(params)}"


def list_params(encoded: str, fields: t.Sequence[str], limit: int, display: str = "false") -> dict[str, t.Any]:
    """Table API parameters of a plain read: these fields of at most ``limit`` rows matching ``encoded``."""
    return {"sysparm_query": encoded, "sysparm_fields": ",".join(fields), "sysparm_limit": limit,
            "sysparm_display_value": display, "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


class ServiceNowClient:
    """The instance as the backend's files see it: ``http`` for single requests, rows and batches on top,
    ``warn`` for what a task should tell its user."""

    def __init__(self, settings: ConnectionSettings, warn: t.Callable[[str], None], **http_options: t.Any):
        self.settings = settings
        self.warn = warn
        self.http = HttpClient(settings, warn, **http_options)

    def get_rows(self, table: str, params: t.Mapping[str, t.Any], what: str) -> list[dict]:
        """The ``result`` rows of one Table API GET of ``table``."""
        return self.http.request("GET", TABLE_API + table, params=params, what=what).body["result"]

    def rows(self, table: str, encoded: str, fields: t.Sequence[str], limit: int, what: str,
             display: str = "false") -> list[dict]:
        """These fields of at most ``limit`` rows of ``table`` matching the encoded query."""
        return self.get_rows(table, list_params(encoded, fields, limit, display), what)

    def batch(self, calls: t.Sequence[Call], what: str, idempotent: bool = True,
              recover: t.Callable[[], Response | None] | None = None) -> list[t.Any]:
        """Several Table API calls in one ``POST /api/now/v1/batch``; their JSON bodies, in order.

        [] when the request was recovered after a failure (``recover`` answered): the caller reads again.
        A DELETE answered 404 gives None (already gone: what it wanted); any other failed call raises as
        a single request would.
        """
        requests_ = []
        for index, call in enumerate(calls):
            body = call[2] if len(call) > 2 else None
            encoded = base64.b64encode(json.dumps(body).encode()).decode() if body is not None else ""
            requests_.append({"id": str(index), "method": call[0], "url": call[1], "body": encoded,
                              "headers": [{"name": "Content-Type", "value": "application/json"},
                                          {"name": "Accept", "value": "application/json"}]})
        answer = self.http.request("POST", BATCH_API, json_body={"batch_request_id": "1",
                                   "rest_requests": requests_}, idempotent=idempotent, recover=recover, what=what)
        if answer.body is None:  # recovered: the caller reads again
            return []
        served = {item["id"]: item for item in answer.body.get("serviced_requests") or []}
        results = []
        for index, call in enumerate(calls):
            item = served.get(str(index))
            if item is None:
                raise ItsmTransientError(f"{what}: the instance left part of a batch request unserviced; run again")
            text = base64.b64decode(item.get("body") or "").decode("utf-8", "replace")
            status = int(item.get("status_code") or 0)
            if status == 404 and call[0] == "DELETE":
                results.append(None)  # already gone: what a DELETE wanted
                continue
            results.append(self.http.check_response(Response(status, {}, decode_json(text), text), what).body)
        return results

    def close(self) -> None:
        self.http.close()
