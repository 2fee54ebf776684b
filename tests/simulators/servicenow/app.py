"""The simulator core, independent of the HTTP transport: routing, auth, faults, admin endpoints."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import traceback
from urllib.parse import unquote, urlencode

from . import attachments, batch, change_api, cmdb_api, faults, seed, table_api
from .auth import Auth
from .instance import Instance
from .schema import SCHEMA
from .store import Store
from .timeutil import Clock
from .wire import Request, Response, SnError, bad_path, json_response

VERSIONS = ("v1", "v2")


class Simulator:
    """One simulated instance with its state directory."""

    def __init__(self, state_dir: str, seed_cmdb: int = 0, fault_spec: str = "", token_ttl: int = 1799) -> None:
        os.makedirs(state_dir, exist_ok=True)
        self.state_dir = state_dir
        self.seed_cmdb = seed_cmdb
        self.clock = Clock()
        self.store = Store(os.path.join(state_dir, "servicenow.sqlite3"), SCHEMA)
        self.instance = Instance(self.store, self.clock)
        self.auth = Auth(self.instance, self.clock, token_ttl)
        self.faults = faults.Faults()
        self.faults.add(faults.parse_spec(fault_spec))
        self.log = faults.RequestLog()
        if self.store.created:
            seed.seed(self.store, self.clock, seed_cmdb)

    def close(self) -> None:
        self.store.close()

    # -- entry point for the HTTP layer -----------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/__sim"):
            return self._admin(req)
        override = req.header("X-http-method-override")
        if req.method == "POST" and override:
            req.method = override.upper()
        method = req.method
        rule = self.faults.take(method, req.path)
        response = faults.before(rule, self.clock.timestamp(), req) if rule else None
        if response is None:
            response = self._authenticated(req)
            if rule:
                response = faults.after(rule, response)
        self.log.add(method, req.path, urlencode(req.query), response.status,
                     req.user.user_name if req.user else None, rule.kind if rule else None)
        return response

    def _authenticated(self, req: Request) -> Response:
        try:
            if req.path.rstrip("/") == "/oauth_token.do":
                return self.auth.token_endpoint(req)
            req.user = self.auth.authenticate(req)
        except SnError as exc:
            return exc.response()
        return self.dispatch(req)

    # -- routing (also used by batch sub-requests) -------------------------------------------

    def dispatch(self, req: Request) -> Response:
        method = req.method
        if method == "HEAD":
            req.method = "GET"
        try:
            response = self._route(req)
        except SnError as exc:
            response = exc.response()
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # A simulator bug must still answer like an instance does (a JSON 500), not drop the connection.
            traceback.print_exc(file=sys.stderr)
            response = SnError(500, "Internal server error", f"{type(exc).__name__}: {exc}").response()
        if method == "HEAD":
            response.body = b""
        return response

    def _route(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "now":
            rest = parts[2:]
            version = rest[0] if rest[0] in VERSIONS else None
            if version:
                rest = rest[1:]
            if not rest:
                raise bad_path()
            api, args = rest[0], rest[1:]
            if api == "table" and 1 <= len(args) <= 2:
                return table_api.handle_table(self, req, version, args[0], args[1] if len(args) == 2 else None)
            if api == "stats" and len(args) == 1 and req.method == "GET":
                return table_api.handle_stats(self, req, args[0])
            if api == "attachment":
                return attachments.handle(self, req, args)
            if api == "batch" and not args:
                return batch.handle(self, req)
            if api == "tinyurl" and not args:
                return table_api.handle_tinyurl(self, req)
            if api == "cmdb" and args[:1] == ["instance"]:
                return cmdb_api.handle(self, req, args[1:])
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "sn_chg_rest":
            rest = parts[2:]
            if rest and rest[0] in VERSIONS:
                rest = rest[1:]
            if rest and rest[0] == "change":
                return change_api.handle(self, req, rest[1:])
        raise bad_path()

    # -- /__sim admin endpoints (no authentication) ------------------------------------------

    def _admin(self, req: Request) -> Response:
        try:
            body = req.json() if req.method == "POST" else {}
            return self._admin_action(req, req.path.rstrip("/")[len("/__sim"):], body)
        except SnError as exc:
            return exc.response()
        except (ValueError, TypeError, AttributeError) as exc:
            return json_response(400, {"error": str(exc)})

    def _admin_action(self, req: Request, action: str, body: object) -> Response:
        if action == "/requests" and req.method == "GET":
            entries = self.log.entries(req.param("method"), req.param("path"), int(req.param("since") or 0))
            return json_response(200, {"count": len(entries), "requests": entries})
        if action == "/faults":
            if req.method == "POST":
                items = body if isinstance(body, list) else body.get("faults", [body])
                self.faults.add([faults.rule_from_dict(item) for item in items])
            elif req.method == "DELETE":
                self.faults.clear()
            return json_response(200, {"faults": self.faults.describe()})
        if action == "/reset" and req.method == "POST":
            self.log.clear()
            self.faults.clear()
            self.auth.reset()
            self.clock.set_offset(0)
            if isinstance(body, dict) and body.get("data"):
                self.store.wipe()
                seed.seed(self.store, self.clock, int(body.get("seed_cmdb", self.seed_cmdb)))
            return json_response(200, {"reset": True})
        if action == "/credentials" and req.method == "POST" and isinstance(body, dict):
            # A test's own password for a seeded user (the secrets sweep needs one no record or name holds).
            if self.auth.user(str(body.get("user_name", ""))) is None or not body.get("password"):
                return json_response(400, {"error": "expected the user_name of an active user and a password"})
            self.store.set_password(str(body["user_name"]), str(body["password"]))
            return json_response(200, {"user_name": body["user_name"]})
        if action == "/clock" and req.method == "POST":
            self.clock.set_offset(float(body.get("offset_seconds", 0)) if isinstance(body, dict) else 0)
            return json_response(200, {"now": self.clock.now_str()})
        if action == "/health":
            return json_response(200, {"status": "ok", "now": self.clock.now_str()})
        return json_response(404, {"error": f"unknown simulator endpoint {json.dumps(action)}"})
