"""Transport-neutral request/response objects and the platform's canonical error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus

JSON_TYPE = "application/json;charset=UTF-8"
STANDARD_HEADERS = [
    ("Cache-control", "no-cache,no-store,must-revalidate,max-age=-1"),
    ("Pragma", "no-store,no-cache"),
    ("Expires", "0"),
]


@dataclass
class User:
    sys_id: str
    user_name: str
    name: str
    roles: frozenset[str]
    time_zone: str | None

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(role in self.roles for role in roles)


SYSTEM = User("6816f79cc0a8016401c5a33be04be441", "system", "System", frozenset({"admin"}), None)


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    base_url: str = ""
    user: User | None = None
    inner: bool = False  # a batch sub-request: identity inherited, no auth or faults

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default

    def json(self) -> object:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SnError(400, "Exception while reading request", "The payload is not valid JSON.") from exc


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    abort_after: int | None = None  # fault injection: body bytes sent before a reset (-1: none at all)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"


class SnError(Exception):
    """An error the instance reports with its standard ``{"error": ..., "status": "failure"}`` body."""

    def __init__(self, status: int, message: str, detail: str | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or []

    def response(self) -> Response:
        body = {"error": {"message": self.message, "detail": self.detail}, "status": "failure"}
        return json_response(self.status, body, self.headers)


def dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, obj: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, dumps(obj), [("Content-Type", JSON_TYPE), *STANDARD_HEADERS, *(headers or [])])


def not_found() -> SnError:
    return SnError(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def acl_denied(operation: str) -> SnError:
    return SnError(403, "Operation Failed", f"ACL Exception {operation} Failed due to security constraints")


def business_rule_abort(table: str, rule: str, rule_id: str) -> SnError:
    return SnError(403, "Operation Failed",
                   f"Operation against file '{table}' was aborted by Business Rule '{rule}^{rule_id}'. "
                   f"Business Rule Stack:{rule}")


def data_policy(labels: list[str]) -> SnError:
    return SnError(403, "Operation Failed",
                   "Data Policy Exception: The following fields are mandatory: " + ", ".join(labels))


def bad_path() -> SnError:
    return SnError(400, "Requested URI does not represent any resource", None)


def not_authenticated() -> SnError:
    return SnError(401, "User Not Authenticated", "Required to provide Auth information",
                   [("WWW-Authenticate", 'BASIC realm="Service-now"')])
