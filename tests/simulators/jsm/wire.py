"""Jira's error bodies and response helpers on top of the ServiceNow simulator's transport objects.

Platform errors are ``{"errorMessages": [...], "errors": {...}}`` (jira-api.md §6); the service desk API
answers ``{"errorMessage", "i18nErrorMessage"}`` (the reference is silent there; this is what JSM sends).
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests.simulators.servicenow.wire import Request, Response, dumps

__all__ = ["Request", "Response", "JiraError", "DeskError", "json_response", "empty", "jira_time", "parse_time",
           "date_obj", "not_found_issue", "param_bool", "param_int", "param_list"]

JSON_TYPE = "application/json;charset=UTF-8"


def json_response(status: int, obj: object, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, dumps(obj), [("Content-Type", JSON_TYPE), ("Cache-Control", "no-cache, no-store"),
                                         *(headers or [])])


def empty(status: int = 204) -> Response:
    return Response(status, b"", [("Cache-Control", "no-cache, no-store")])


class JiraError(Exception):
    """A platform (``/rest/api``) error with the standard body."""

    def __init__(self, status: int, messages: list[str] | str | None = None, errors: dict | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        if isinstance(messages, str):
            messages = [messages]
        super().__init__("; ".join(messages or []) or str(errors))
        self.status = status
        self.messages = list(messages or [])
        self.errors = dict(errors or {})
        self.headers = headers or []

    def response(self) -> Response:
        return json_response(self.status, {"errorMessages": self.messages, "errors": self.errors}, self.headers)


class DeskError(JiraError):
    """A ``/rest/servicedeskapi`` error: ``errorMessage`` plus ``i18nErrorMessage``."""

    def __init__(self, status: int, message: str, i18n_key: str = "sd.error") -> None:
        super().__init__(status, message)
        self.i18n_key = i18n_key

    def response(self) -> Response:
        body = {"errorMessage": self.messages[0], "i18nErrorMessage": {"i18nKey": self.i18n_key, "parameters": []}}
        return json_response(self.status, body, self.headers)


def not_found_issue() -> JiraError:
    return JiraError(404, "Issue does not exist or you do not have permission to see it.")


FMT = "%Y-%m-%dT%H:%M:%S.000%z"


def jira_time(moment: datetime) -> str:
    """``2024-01-01T10:00:00.000+0000``."""
    return moment.astimezone(timezone.utc).strftime(FMT)


def parse_time(text: str) -> datetime:
    """Accept Jira's format, ISO 8601 (``Z`` or offsets, with or without milliseconds) and plain dates."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    if "T" not in value and " " in value:
        value = value.replace(" ", "T", 1)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def date_obj(moment_text: str) -> dict:
    """The service desk API's date object."""
    moment = parse_time(moment_text)
    return {"iso8601": moment.strftime("%Y-%m-%dT%H:%M:%S%z"), "jira": moment_text,
            "friendly": moment.strftime("%d/%b/%y %I:%M %p"), "epochMillis": int(moment.timestamp() * 1000)}


def param_bool(req: Request, name: str, default: bool) -> bool:
    value = req.param(name)
    return default if value is None or value == "" else value.strip().lower() == "true"


def param_int(req: Request, name: str, default: int) -> int:
    value = req.param(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise JiraError(400, f"The value '{value}' of parameter '{name}' is not a valid integer.") from exc


def param_list(req: Request, name: str) -> list[str] | None:
    """Repeated or comma-separated query values (``fields=a,b`` or ``fields=a&fields=b``)."""
    values = [value for key, value in req.query if key == name]
    if not values:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]
