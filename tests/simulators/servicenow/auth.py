"""Authentication (servicenow-api.md §4): Basic, OAuth bearer tokens from ``/oauth_token.do``,
and the ``x-sn-apikey`` header or query parameter.

Seeded credentials: OAuth client ``opsgate``/``opsgate-secret`` (client-credentials grant runs
as ``admin``) and API key ``opsgate-api-key`` (acts as ``admin``).  Tokens live in memory.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .instance import Instance
from .timeutil import Clock
from .wire import Request, Response, User, json_response, not_authenticated

OAUTH_CLIENTS = {"opsgate": {"secret": "opsgate-secret", "run_as": "admin"}}
API_KEYS = {"opsgate-api-key": "admin"}
REFRESH_TTL = 100 * 24 * 3600
OAUTH_FAILURE = {"error_description": "access_denied", "error": "server_error"}


@dataclass
class Token:
    access: str
    refresh: str | None
    user_name: str
    client_id: str
    expires_at: float
    refresh_expires_at: float


class Auth:
    """Resolves the caller of a request and serves the OAuth token endpoint."""

    def __init__(self, instance: Instance, clock: Clock, token_ttl: int = 1799) -> None:
        self.instance = instance
        self.clock = clock
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._access: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}

    def reset(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    # -- users ------------------------------------------------------------------------------

    def user(self, user_name: str) -> User | None:
        rows = self.instance.store.find(self.instance.schema["sys_user"], user_name=user_name)
        if not rows or rows[0]["active"] != "true" or rows[0]["locked_out"] == "true":
            return None
        row = rows[0]
        roles = frozenset(r.strip() for r in row["roles"].split(",") if r.strip())
        return User(row["sys_id"], row["user_name"], row["name"], roles, row["time_zone"] or None)

    def check_password(self, user_name: str, password: str) -> User | None:
        stored = self.instance.store.password(user_name)
        if stored is None or not secrets.compare_digest(stored, password):
            return None
        return self.user(user_name)

    # -- request authentication -------------------------------------------------------------

    def authenticate(self, req: Request) -> User:
        header = req.header("Authorization")
        scheme, _sep, credentials = header.partition(" ")
        user = None
        if scheme.lower() == "basic":
            pair = _basic(credentials)
            user = self.check_password(*pair) if pair else None
        elif scheme.lower() == "bearer":
            user = self._bearer(credentials.strip())
        else:
            key = req.header("x-sn-apikey") or req.param("x-sn-apikey") or ""
            if key in API_KEYS:
                user = self.user(API_KEYS[key])
        if user is None:
            raise not_authenticated()
        return user

    def _bearer(self, access: str) -> User | None:
        with self._lock:
            token = self._access.get(access)
        if token is None or token.expires_at <= self.clock.timestamp():
            return None
        return self.user(token.user_name)

    # -- /oauth_token.do --------------------------------------------------------------------

    def token_endpoint(self, req: Request) -> Response:
        if req.method != "POST":
            return json_response(401, OAUTH_FAILURE)
        try:
            form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _sep, credentials = req.header("Authorization").partition(" ")
        if scheme.lower() == "basic" and not client_id:
            client_id, secret = _basic(credentials) or ("", "")
        client = OAUTH_CLIENTS.get(client_id)
        if client is None or not secrets.compare_digest(client["secret"], secret):
            return json_response(401, OAUTH_FAILURE)
        grant = form.get("grant_type", "")
        if grant == "password":
            user = self.check_password(form.get("username", ""), form.get("password", ""))
            if user is None:
                return json_response(401, OAUTH_FAILURE)
            token = self._current(client_id, user.user_name) or self._issue(client_id, user.user_name, True)
        elif grant == "refresh_token":
            token = self._refresh_grant(client_id, form.get("refresh_token", ""))
            if token is None:
                return json_response(401, OAUTH_FAILURE)
        elif grant == "client_credentials":
            token = self._issue(client_id, client["run_as"], False)
        else:
            return json_response(400, {"error_description": "access_denied", "error": "unsupported_grant_type"})
        return json_response(200, self._body(token))

    def _body(self, token: Token) -> dict:
        body = {"access_token": token.access, "scope": "useraccount", "token_type": "Bearer",
                "expires_in": max(int(token.expires_at - self.clock.timestamp()), 0)}
        if token.refresh:
            body["refresh_token"] = token.refresh
        return body

    def _current(self, client_id: str, user_name: str) -> Token | None:
        # "Asking again before expiry returns the current token" (servicenow-api.md §4.2).
        now = self.clock.timestamp()
        with self._lock:
            for token in self._access.values():
                if token.client_id == client_id and token.user_name == user_name and token.refresh \
                        and token.expires_at > now:
                    return token
        return None

    def _issue(self, client_id: str, user_name: str, with_refresh: bool, refresh: str | None = None) -> Token:
        now = self.clock.timestamp()
        token = Token(secrets.token_urlsafe(32), refresh or (secrets.token_urlsafe(32) if with_refresh else None),
                      user_name, client_id, now + self.token_ttl, now + REFRESH_TTL)
        with self._lock:
            self._access[token.access] = token
            if token.refresh:
                self._refresh[token.refresh] = token
        return token

    def _refresh_grant(self, client_id: str, refresh: str) -> Token | None:
        with self._lock:
            old = self._refresh.get(refresh)
        if old is None or old.client_id != client_id or old.refresh_expires_at <= self.clock.timestamp():
            return None
        if self.user(old.user_name) is None:
            return None
        return self._issue(client_id, old.user_name, True, refresh=refresh)


def _basic(credentials: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
