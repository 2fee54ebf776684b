# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every exception a send can meet, for the tests that prove none escapes the transport and no record is lost
(issue 12): what requests, urllib3, http.client, ssl and the OS raise, and the collection's own error tree."""

from __future__ import annotations

import http.client
import ssl
import types

import requests
import urllib3

from ansible_collections.opsgate.itsm.plugins.module_utils import _errors as errors
from ansible_collections.opsgate.itsm.plugins.module_utils._http import ItsmHttpError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings

SECRET = "hunter2-secret"


def library_errors() -> list[Exception]:
    """An instance of every exception requests, urllib3 and http.client define (warnings aside), and of the OS,
    ssl and value errors below them; each message carries SECRET, which no report may repeat."""
    classes = [cls for module in (requests.exceptions, urllib3.exceptions, http.client) for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, Warning)]
    classes += [OSError, ConnectionResetError, TimeoutError, ssl.SSLError, ssl.SSLCertVerificationError, ValueError]
    made = []
    for cls in dict.fromkeys(classes):
        # Some constructors want a document, byte counts or a response: the first signature that builds wins.
        for args in ((f"boom {SECRET}",), (f"boom {SECRET}", "doc", 0), (0, 1),
                     (types.SimpleNamespace(tell=lambda: 0, length_remaining=1), b"x")):
            try:
                error = cls(*args)
                str(error)
            except (TypeError, AttributeError):
                continue
            made.append(error)
            break
        else:
            raise AssertionError(f"cannot build {cls}")
    made.append(UnicodeEncodeError("latin-1", "\u20ac", 0, 1, "ordinal not in range(256)"))
    made.append(OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /nowhere/ca.pem"))
    return made


# About the connection, or nobody foresaw them: an item waits (pending) and the next flush sends it.
WAITING: list[Exception] = [
    errors.ItsmTransientError("503 for ever"), errors.ItsmUnavailableError("no requests library"),
    errors.ItsmStorageError("local_db locked"), errors.ItsmAuthError("refused the credentials", status=401),
    errors.ItsmSettingsError("ca_path", "/nowhere/ca.pem", "expected a PEM file"),
    errors.ItsmUnexpectedResponseError("not JSON"), ItsmHttpError("HTTP 500", 500, "boom"),
    errors.ItsmError("a plain error"), TypeError("a bug"), KeyError("number")] + library_errors()
# About the item itself: refused for good, kept as failed with the reason.
REFUSED: list[Exception] = [
    errors.ItsmNotFoundError("change: CHG9999999 does not exist", option="change"),
    errors.ItsmValidationError("assignment_group", "x", "no such group"),
    errors.ItsmConflictError("two open changes hold the id"), errors.ItsmTransitionError("cannot close"),
    ItsmHttpError("HTTP 400", 400, "Invalid field"), ItsmHttpError("HTTP 403", 403, "ACL")]


def error_id(error: Exception) -> str:
    status = getattr(error, "details", {}).get("status")
    return f"{type(error).__module__.split('.')[0]}.{type(error).__name__}" + (f"-{status}" if status else "")


class Raising:
    """A backend each of whose calls raises ``error`` (closing it works)."""

    name = "servicenow"
    settings = ConnectionSettings(backend="servicenow", url="https://example.service-now.com", username="admin",
                                  password=SECRET)

    def __init__(self, error: Exception):
        self.error = error

    def close(self) -> None:
        pass

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise self.error
        return fail
