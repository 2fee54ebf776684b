"""Batch API (``POST /api/now/v1/batch``, servicenow-api.md §2.10) as pysnc uses it.

Sub-requests inherit the caller's identity, run through the normal router and come back
base64-encoded with their status and headers; ``batch_request_id`` is echoed as a string.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .wire import Request, Response, SnError, json_response

if TYPE_CHECKING:
    from .app import Simulator


def handle(app: Simulator, req: Request) -> Response:
    if req.method != "POST":
        raise SnError(405, "Method not Supported", None)
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("rest_requests"), list):
        raise SnError(400, "Exception while reading request", "rest_requests is mandatory")
    serviced, unserviced = [], []
    for item in body["rest_requests"]:
        if not isinstance(item, dict) or "url" not in item or "id" not in item:
            unserviced.append(item)
            continue
        serviced.append(_run(app, req, item))
    result = {"batch_request_id": str(body.get("batch_request_id", "")), "serviced_requests": serviced,
              "unserviced_requests": unserviced}
    return json_response(200, result)


def _run(app: Simulator, outer: Request, item: dict) -> dict:
    started = time.monotonic()
    parts = urlsplit(item["url"])
    headers = {str(h.get("name", "")).lower(): str(h.get("value", "")) for h in item.get("headers") or []
               if isinstance(h, dict)}
    try:
        data = base64.b64decode(item.get("body") or "", validate=False)
    except binascii.Error:
        data = b""
    inner = Request(method=str(item.get("method", "GET")).upper(), path=parts.path,
                    query=parse_qsl(parts.query, keep_blank_values=True), headers=headers, body=data,
                    base_url=outer.base_url, user=outer.user, inner=True)
    response = app.dispatch(inner)
    result = {"id": item["id"], "status_code": response.status, "status_text": response.reason,
              "execution_time": int((time.monotonic() - started) * 1000)}
    if not item.get("exclude_response_headers"):
        result["headers"] = [{"name": k, "value": v} for k, v in response.headers]
    if response.body:
        result["body"] = base64.b64encode(response.body).decode("ascii")
    return result
