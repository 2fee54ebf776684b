"""The simulator core, independent of the HTTP transport: routing, authentication, limits, faults and the
``/__sim`` test endpoints.  Each request runs under the store's lock in one transaction, rolled back when it
fails, so an error answer never leaves half a write behind.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import sqlite3
import sys
import threading
import time
import traceback
from datetime import datetime
from urllib.parse import unquote, urlencode

from tests.simulators.servicenow.timeutil import Clock
from tests.simulators.servicenow.wire import SnError

from . import limits, seed
from .assets import Assets
from .auth import AuthFailed, anonymous, authenticate
from .issues import Issues
from .platform import Platform
from .servicedesk import ServiceDesk
from .site import Site
from .store import Store
from .wire import JiraError, Request, Response, json_response

FLAVOURS = ("cloud", "datacenter")


class RequestClock(Clock):
    """The site's clock, read once per request: every time a request stamps (an issue's created and updated, its
    answer's ``Date``) is the same instant, as one Jira transaction stamps one time."""

    def __init__(self) -> None:
        super().__init__()
        self._request = threading.local()

    def now(self) -> datetime:
        frozen = getattr(self._request, "now", None)
        return frozen if frozen is not None else super().now()

    @contextlib.contextmanager
    def one_request(self):
        self._request.now = super().now()
        try:
            yield self._request.now
        finally:
            self._request.now = None


class Simulator:
    """One simulated Jira Service Management site with its state directory."""

    def __init__(self, state_dir: str, flavour: str = "cloud", seed_assets: int = 0, fault_spec: str = "",
                 index_lag: float | None = None, change_workflow: str = "standard") -> None:
        os.makedirs(state_dir, exist_ok=True)
        self.clock = RequestClock()
        self.store = Store(os.path.join(state_dir, "jsm.sqlite3"))
        if self.store.created:
            if flavour not in FLAVOURS:
                raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}, not {flavour!r}")
            with self.store.transaction():
                seed.seed(self.store, flavour, seed_assets, Site(self.store, self.clock, flavour, 0).now_str(),
                          change_workflow)
        stored = self.store.meta("flavour") or flavour
        if flavour != stored:
            raise ValueError(f"the state directory {state_dir} holds a {stored} site; start it with --flavour {stored}")
        self.seed_assets = seed_assets
        self.default_lag = 2.0 if index_lag is None else index_lag
        self.site = Site(self.store, self.clock, stored, self.default_lag)
        self.issues = Issues(self.site)
        self.platform = Platform(self.issues)
        self.desk = ServiceDesk(self.issues)
        self.assets = Assets(self.site)
        self.faults = limits.Faults()
        self.faults.add(limits.parse_spec(fault_spec))
        self.limits = limits.Limits()
        self.log = limits.RequestLog()

    def close(self) -> None:
        self.store.close()

    # -- entry point for the HTTP layer -----------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/__sim"):
            return self._admin(req)
        with self.clock.one_request() as now:
            response = self._handle(req)
        response.headers.append(("Date", email.utils.format_datetime(now, usegmt=True)))
        return response

    def _handle(self, req: Request) -> Response:
        rule = self.faults.take(req.method, req.path)
        response = limits.before(rule, self.site.cloud, req) if rule else None
        user = None
        if response is None:
            ref = limits.issue_ref(req.path)
            found = self.issues.find(ref) if ref else None
            response = self.limits.check(self.site.cloud, req, found["id"] if found else ref)
            if response is None:
                response, user = self._serve(req)
            if rule:
                response = limits.after(rule, response)
        self.log.add(req.method, req.path, urlencode(req.query), response.status, user,
                     rule.kind if rule else None)
        return response

    def _serve(self, req: Request) -> tuple[Response, str | None]:
        user = None
        try:
            with self.store.transaction():
                user = authenticate(self.site, req)
                return self._route(req, user), user["name"] if user else None
        except AuthFailed as exc:
            return exc.response, None
        except JiraError as exc:
            return exc.response(), user["name"] if user else None
        except SnError as exc:  # the request body was not JSON
            return JiraError(400, f"Unexpected character in the request body: {exc.detail}").response(), None
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            traceback.print_exc(file=sys.stderr)
            return JiraError(500, f"Internal server error: {type(exc).__name__}: {exc}").response(), None

    def _route(self, req: Request, user: dict | None) -> Response:
        parts = [unquote(p) for p in req.path.split("/") if p]
        if self.site.cloud and parts[:2] == ["ex", "jira"] and len(parts) > 2:
            if parts[2] != self.store.meta("site"):
                raise JiraError(404, f"No site with cloud id '{parts[2]}'.")
            req.base_url = f"{req.base_url}/ex/jira/{parts[2]}"
            parts = parts[3:]
        if parts[:2] == ["rest", "api"] and len(parts) >= 4 and parts[2] in ("2", "3", "latest"):
            version = "2" if parts[2] == "latest" else parts[2]
            if parts[3:] == ["serverInfo"] and req.method == "GET":
                return self.platform.server_info(req)
            return self.platform.route(req, version, parts[3:], self._require(user))
        if parts[:2] == ["rest", "servicedeskapi"]:
            return self.desk.route(req, parts[2:], self._require(user))
        if self.site.cloud and parts[:4] == ["jsm", "assets", "workspace", self.site.workspace] \
                and parts[4:5] == ["v1"]:
            return self.assets.route(req, parts[5:], self._require(user))
        if not self.site.cloud and parts[:3] == ["rest", "insight", "1.0"]:
            return self.assets.route(req, parts[3:], self._require(user))
        if not self.site.cloud and parts[:2] == ["secure", "attachment"] and len(parts) == 4 and req.method == "GET":
            self._require(user)
            return self.platform.attachments.content(parts[2], parts[3])
        if parts == ["rest", "auth", "1", "session"] and req.method == "GET":
            user = self._require(user)
            return json_response(200, {"self": f"{req.base_url}/rest/api/2/user?username={user['name']}",
                                       "name": user["name"], "loginInfo": {"loginCount": 1}})
        if parts == ["_edge", "tenant_info"] and self.site.cloud:
            return json_response(200, {"cloudId": self.store.meta("site")})
        raise JiraError(404, "null for uri: " + req.path)

    @staticmethod
    def _require(user: dict | None) -> dict:
        if user is None:
            raise anonymous()
        return user

    # -- /__sim admin endpoints (no authentication) -----------------------------------------------

    def _admin(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}") if req.method == "POST" else {}
            return self._admin_action(req, req.path.rstrip("/")[len("/__sim"):], body)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            return json_response(400, {"error": str(exc)})

    def _admin_action(self, req: Request, action: str, body: object) -> Response:
        body = body if isinstance(body, (dict, list)) else {}
        if action == "/requests" and req.method == "GET":
            entries = self.log.entries(req.param("method"), req.param("path"), int(req.param("since") or 0))
            return json_response(200, {"count": len(entries), "requests": entries})
        if action == "/faults":
            if req.method == "POST":
                items = body if isinstance(body, list) else body.get("faults", [body])
                self.faults.add([limits.rule_from_dict(item) for item in items])
            elif req.method == "DELETE":
                self.faults.clear()
            return json_response(200, {"faults": self.faults.describe()})
        if action == "/limits":
            if req.method == "POST":
                self.limits.configure(body)
            elif req.method == "DELETE":
                self.limits.clear()
            return json_response(200, {"limits": self.limits.config})
        if action == "/settings" and req.method == "POST":
            self._settings(body)
        if action == "/settings" or action == "/site":
            return json_response(200, self._describe())
        if action == "/reset" and req.method == "POST":
            return self._reset(body)
        if action == "/clock" and req.method == "POST":
            self.clock.set_offset(float(body.get("offset_seconds", 0)))
            return json_response(200, {"now": self.site.now_str()})
        if action == "/health":
            return json_response(200, {"status": "ok", "flavour": self.site.flavour})
        return json_response(404, {"error": f"unknown simulator endpoint {json.dumps(action)}"})

    def _settings(self, body: dict) -> None:
        if "index_lag" in body:
            self.site.index_lag = float(body["index_lag"]) if self.site.cloud else 0.0
        if body.get("index_caught_up"):  # the index holds every issue made so far, whatever the lag they had
            with self.store.transaction():
                for issue in self.issues.all():
                    if issue.get("visibleAt", 0) > time.time():
                        self.store.put("issue", issue["id"], {**issue, "visibleAt": 0})
        if "comment_cap" in body:
            self.site.comment_cap = int(body["comment_cap"])
        if "link_cap" in body:
            self.site.link_cap = int(body["link_cap"])
        if "attachment_cap" in body:
            self.site.attachment_cap = int(body["attachment_cap"])

    def _reset(self, body: dict) -> Response:
        self.log.clear()
        self.faults.clear()
        self.limits.clear()
        self.clock.set_offset(0)
        self.site.index_lag = self.default_lag if self.site.cloud else 0.0
        self.site.comment_cap, self.site.link_cap, self.site.attachment_cap = 5000, 2000, 2000
        if body.get("data"):
            change_workflow = self.store.meta("change_workflow") or "standard"
            with self.store.transaction():
                self.store.wipe()
                seed.seed(self.store, self.site.flavour, int(body.get("seed_assets", self.seed_assets)),
                          self.site.now_str(), change_workflow)
        return json_response(200, {"reset": True})

    def _describe(self) -> dict:
        return {"flavour": self.site.flavour, "cloud_id": self.store.meta("site"), "workspace": self.site.workspace,
                "index_lag": self.site.index_lag, "comment_cap": self.site.comment_cap,
                "link_cap": self.site.link_cap, "attachment_cap": self.site.attachment_cap,
                "fields": {f["name"]: f["id"] for f in self.site.custom_fields()}}
