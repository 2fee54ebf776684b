"""Fault injection (servicenow-api.md §9, §2.3) and the request log behind ``/__sim``.

A fault rule applies to the next ``count`` requests that match its optional ``method`` and
``path`` (prefix) filters, then stops (``count`` <= 0 means until cleared).  Kinds:

- ``rate_limit``: 429 with ``Retry-After`` and ``X-RateLimit-*`` headers;
- ``status``: an error status (500 JSON body; 502/503/504 an HTML gateway page);
- ``txn_cancel``: the request runs, then its body is cut to half the result array followed by the
  "Transaction cancelled" error, inside a 200 (a non-list result becomes the error alone;
  ``status``: 500 answers the plain error instead);
- ``slow``: ``delay_ms`` before the request is handled normally;
- ``reset``: the request runs, then the connection is reset part-way through the response body
  (``stage``: ``headers`` resets before anything is sent);
- ``echo``: an error (``status``, default 400) whose detail quotes the request's headers, query string
  and body, as a careless server or proxy might: it lets tests prove that clients redact credentials.

CLI syntax (``--faults``): JSON (one rule or a list), or ``kind[:key=value,...]`` rules separated
by ``;``, where a bare status code is shorthand for ``status``: ``rate_limit:count=3,retry_after=1;503:count=2``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass

from .wire import Request, Response, dumps, json_response

KINDS = ("rate_limit", "status", "txn_cancel", "slow", "reset", "echo")
TXN_MESSAGE = "Transaction cancelled: maximum execution time exceeded"


@dataclass
class FaultRule:
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: int = 1
    limit: int = 100
    delay_ms: int = 0
    stage: str = "body"
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or path.startswith(self.path)

    @property
    def exhausted(self) -> bool:
        return 0 < self.count <= self.hits


def rule_from_dict(data: dict) -> FaultRule:
    kind = str(data.get("kind", "status"))
    if kind.isdigit():
        data = {**data, "status": int(kind)}
        kind = "status"
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    rule = FaultRule(kind=kind)
    for key in ("count", "status", "retry_after", "limit", "delay_ms"):
        if data.get(key) is not None:
            setattr(rule, key, int(data[key]))
    rule.method = data.get("method") or None
    rule.path = data.get("path") or None
    rule.stage = str(data.get("stage") or "body")
    if rule.kind == "status" and rule.status is None:
        rule.status = 503
    if rule.kind == "echo" and rule.status is None:
        rule.status = 400
    return rule


def parse_spec(spec: str) -> list[FaultRule]:
    spec = spec.strip()
    if not spec:
        return []
    if spec[0] in "[{":
        data = json.loads(spec)
        return [rule_from_dict(item) for item in (data if isinstance(data, list) else [data])]
    rules = []
    for chunk in filter(None, (part.strip() for part in spec.split(";"))):
        kind, _sep, options = chunk.partition(":")
        data: dict = {"kind": kind.strip()}
        for option in filter(None, options.split(",")):
            key, _sep, value = option.partition("=")
            data[key.strip()] = value.strip()
        rules.append(rule_from_dict(data))
    return rules


class Faults:
    """Thread-safe list of active fault rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """Consume one hit of the first matching rule."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None


def before(rule: FaultRule, now: float, req: Request | None = None) -> Response | None:
    """The response that replaces the request entirely, or None to run it (slow/txn/reset)."""
    if rule.kind == "echo":
        return echo_response(rule.status or 400, req)
    if rule.kind == "slow":
        time.sleep(rule.delay_ms / 1000.0)
        return None
    if rule.kind == "rate_limit":
        body = {"error": {"message": "Rate limit exceeded",
                          "detail": f"Rate limit of {rule.limit} requests per hour for Table API exceeded"},
                "status": "failure"}
        return json_response(429, body, [
            ("Retry-After", str(rule.retry_after)), ("X-RateLimit-Limit", str(rule.limit)),
            ("X-RateLimit-Reset", str(int(now) + max(rule.retry_after, 1))),
            ("X-RateLimit-Rule", "5d3b5f8ec3003110c5a9b7f4e40131a1")])
    if rule.kind == "status":
        return status_response(rule.status or 503)
    if rule.kind == "txn_cancel" and (rule.status or 200) != 200:
        body = {"error": {"message": TXN_MESSAGE, "detail": f"{TXN_MESSAGE} Check logs for error trace."},
                "status": "failure"}
        return json_response(rule.status or 500, body)
    return None


def status_response(status: int) -> Response:
    if status >= 502:
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")
        html = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
        return Response(status, html.encode(), [("Content-Type", "text/html")])
    body = {"error": {"message": "Internal server error", "detail": "Simulated failure"}, "status": "failure"}
    return json_response(status, body)


def echo_response(status: int, req: Request | None) -> Response:
    headers = " ".join(f"{name}: {value};" for name, value in sorted((req.headers if req else {}).items()))
    query = "&".join(f"{key}={value}" for key, value in (req.query if req else []))
    body = (req.body if req else b"").decode("utf-8", "replace")[:4000]
    detail = f"headers: {headers} query: {query} body: {body}"
    return json_response(status, {"error": {"message": "Echoed request", "detail": detail}, "status": "failure"})


def after(rule: FaultRule, response: Response) -> Response:
    """Distort a response that was produced normally (txn_cancel at 200, reset)."""
    if rule.kind == "reset":
        response.abort_after = -1 if rule.stage == "headers" else len(response.body) // 2
        return response
    if rule.kind != "txn_cancel":
        return response
    try:
        body = json.loads(response.body or b"{}")
    except json.JSONDecodeError:
        body = {}
    result = body.get("result") if isinstance(body, dict) else None
    error = {"message": TXN_MESSAGE, "detail": f"{TXN_MESSAGE} Check logs for error trace."}
    payload: dict = {"error": error, "status": "failure"}
    if isinstance(result, list):
        # streaming had started: the truncated array comes first, then the error
        payload = {"result": result[: len(result) // 2], **payload}
    headers = [(k, v) for k, v in response.headers if k.lower() not in ("x-total-count", "link")]
    return Response(200, dumps(payload), headers)


class RequestLog:
    """Every request the simulator answered (batch sub-requests are not logged separately)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict] = []
        self._seq = 0

    def add(self, method: str, path: str, query: str, status: int, user: str | None, fault: str | None) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append({"seq": self._seq, "method": method, "path": path, "query": query,
                                  "status": status, "user": user, "fault": fault})

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, method: str | None = None, path: str | None = None, since: int = 0) -> list[dict]:
        with self._lock:
            return [e for e in self._entries
                    if e["seq"] > since and (not method or e["method"] == method.upper())
                    and (not path or e["path"].startswith(path))]
