"""Rate limits (jira-api.md §7, §12) and fault injection, with the ServiceNow simulator's rule matching and
request log.

Limits are off until configured (``POST /__sim/limits``); each one answers 429 with ``Retry-After`` (integer
seconds) and ``RateLimit-Reason``:

- ``burst``: ``{"limit", "window_seconds"}`` per endpoint and method (reason ``jira-burst-based``);
- ``per_issue_write``: ``{"limit", "window_seconds"}`` writes to one issue (``jira-per-issue-on-write``);
- ``quota``: ``{"limit", "window_seconds"}`` points, one per request (``jira-quota-global-based``).

Fault kinds: ``rate_limit`` (``reason``, ``retry_after``), ``status`` (500 JSON, 502-504 a gateway page),
``slow`` (``delay_ms``), ``reset`` (``stage``: ``headers`` or ``body``), ``echo`` (the request's headers,
query and body quoted back in an error, to prove clients redact secrets).  CLI form:
``rate_limit:count=2,reason=jira-per-issue-on-write;503:count=3,path=/rest/api/2/search``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.simulators.servicenow.faults import FaultRule, Faults, RequestLog, status_response

from .wire import Request, Response, json_response

__all__ = ["Faults", "RequestLog", "JsmFaultRule", "Limits", "rule_from_dict", "parse_spec", "before", "after"]
KINDS = ("rate_limit", "status", "slow", "reset", "echo")
REASONS = {"burst": "jira-burst-based", "per_issue_write": "jira-per-issue-on-write",
           "quota": "jira-quota-global-based"}
ISSUE_PATH = re.compile(r"^/rest/(?:api/[23]/issue|servicedeskapi/request)/([^/]+)")


@dataclass
class JsmFaultRule(FaultRule):
    reason: str = "jira-burst-based"


def rule_from_dict(data: dict) -> JsmFaultRule:
    kind = str(data.get("kind", "status"))
    if kind.isdigit():
        data, kind = {**data, "status": int(kind)}, "status"
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    rule = JsmFaultRule(kind=kind)
    for key in ("count", "status", "retry_after", "delay_ms"):
        if data.get(key) is not None:
            setattr(rule, key, int(data[key]))
    rule.method = data.get("method") or None
    rule.path = data.get("path") or None
    rule.stage = str(data.get("stage") or "body")
    reason = str(data.get("reason") or "jira-burst-based")
    rule.reason = REASONS.get(reason, reason)
    if rule.status is None:
        rule.status = 400 if kind == "echo" else 503
    return rule


def parse_spec(spec: str) -> list[JsmFaultRule]:
    spec = spec.strip()
    if not spec:
        return []
    if spec[0] in "[{":
        data = json.loads(spec)
        return [rule_from_dict(item) for item in (data if isinstance(data, list) else [data])]
    rules = []
    for chunk in filter(None, (part.strip() for part in spec.split(";"))):
        kind, _sep, options = chunk.partition(":")
        data = {"kind": kind.strip()}
        data.update(option.split("=", 1) for option in options.split(",") if "=" in option)
        rules.append(rule_from_dict(data))
    return rules


def too_many(cloud: bool, reason: str, retry_after: int, limit: int, window: int) -> Response:
    headers = [("Retry-After", str(retry_after)), ("RateLimit-Reason", reason), ("X-RateLimit-Limit", str(limit)),
               ("X-RateLimit-Remaining", "0")]
    if cloud:
        reset = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
        headers.append(("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%M:%SZ")))
    else:
        headers += [("X-RateLimit-FillRate", str(max(limit // max(window, 1), 1))),
                    ("X-RateLimit-Interval-Seconds", str(window))]
    return json_response(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, headers)


def before(rule: JsmFaultRule, cloud: bool, req: Request) -> Response | None:
    if rule.kind == "slow":
        time.sleep(rule.delay_ms / 1000.0)
        return None
    if rule.kind == "rate_limit":
        return too_many(cloud, rule.reason, rule.retry_after, 100, 1)
    if rule.kind == "status":
        if rule.status >= 502:
            return status_response(rule.status)
        return json_response(rule.status, {"errorMessages": ["Internal server error (simulated)."], "errors": {}})
    if rule.kind == "echo":
        headers = " ".join(f"{name}: {value};" for name, value in sorted(req.headers.items()))
        query = "&".join(f"{key}={value}" for key, value in req.query)
        detail = f"headers: {headers} query: {query} body: {req.body.decode('utf-8', 'replace')[:4000]}"
        return json_response(rule.status, {"errorMessages": [detail], "errors": {}})
    return None


def after(rule: JsmFaultRule, response: Response) -> Response:
    if rule.kind == "reset":
        response.abort_after = -1 if rule.stage == "headers" else len(response.body) // 2
    return response


class Limits:
    """Sliding-window counters for the three limits of §12."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config: dict[str, dict] = {}
        self._hits: dict[tuple, deque] = {}

    def configure(self, config: dict) -> dict:
        with self._lock:
            for name, value in config.items():
                if name not in REASONS:
                    raise ValueError(f"unknown limit {name!r}; expected one of {', '.join(REASONS)}")
                if value:
                    self.config[name] = {"limit": int(value["limit"]),
                                         "window_seconds": int(value.get("window_seconds", 1))}
                else:
                    self.config.pop(name, None)
            self._hits.clear()
            return dict(self.config)

    def clear(self) -> None:
        self.configure({name: None for name in REASONS})

    def check(self, cloud: bool, req: Request, issue_id: str | None) -> Response | None:
        if not self.config:
            return None
        keys = {"quota": ("quota",), "burst": ("burst", req.method, re.sub(r"/[^/]*\d[^/]*", "/{id}", req.path))}
        if issue_id and req.method in ("POST", "PUT", "DELETE"):
            keys["per_issue_write"] = ("per_issue_write", issue_id)
        now = time.monotonic()
        with self._lock:
            for name in ("burst", "per_issue_write", "quota"):
                conf = self.config.get(name)
                if conf is None or name not in keys:
                    continue
                hits = self._hits.setdefault(keys[name], deque())
                while hits and hits[0] <= now - conf["window_seconds"]:
                    hits.popleft()
                if len(hits) >= conf["limit"]:
                    wait = max(math.ceil(hits[0] + conf["window_seconds"] - now), 1)
                    return too_many(cloud, REASONS[name], wait, conf["limit"], conf["window_seconds"])
            for name, key in keys.items():
                if name in self.config:
                    self._hits.setdefault(key, deque()).append(now)
        return None


def issue_ref(path: str) -> str | None:
    match = ISSUE_PATH.match(path)
    return match.group(1) if match else None
