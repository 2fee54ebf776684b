"""Authentication (jira-api.md §2): Basic with a user name or e-mail and the user's API token, on both
flavours; ``Authorization: Bearer <personal access token>`` on Data Center only (Cloud bearer tokens come
from OAuth through api.atlassian.com, which the simulator does not serve).
"""

from __future__ import annotations

import base64
import binascii

from .wire import JiraError, Request, Response

NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


class AuthFailed(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("authentication failed")
        self.response = response


def authenticate(site, req: Request) -> dict | None:
    """The calling user; None for an anonymous request (refused by the caller where Jira refuses it)."""
    header = req.header("authorization").strip()
    if not header:
        return None
    scheme, _sep, value = header.partition(" ")
    user = None
    if scheme.lower() == "basic":
        try:
            name, _sep, secret = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            name, secret = "", ""
        user = next((u for u in site.users() if name.lower() in (u["name"], u["emailAddress"].lower())
                     and secret and secret == u["token"]), None)
    elif scheme.lower() == "bearer" and not site.cloud:
        user = next((u for u in site.users() if value.strip() and value.strip() == u["pat"]), None)
    if user is None:
        raise AuthFailed(failed(site))
    return user


def failed(site) -> Response:
    if site.cloud:
        return Response(401, b"Client must be authenticated to access this resource.",
                        [("Content-Type", "text/plain;charset=UTF-8"), ("WWW-Authenticate", 'Basic realm="jira"')])
    return Response(401, b"", [("X-Seraph-LoginReason", "AUTHENTICATED_FAILED"),
                               ("WWW-Authenticate", 'OAuth realm="http%3A%2F%2Flocalhost"')])


def anonymous() -> JiraError:
    return JiraError(401, NOT_AUTHENTICATED)
