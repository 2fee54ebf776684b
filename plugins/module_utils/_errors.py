# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one error tree. FOR INTERNAL COLLECTION USE ONLY.

module_utils raise these and nothing else; action plugins, the inventory and the callback turn them
into failed results, AnsibleParserError or warnings at the edge (never earlier).
"""

from __future__ import annotations


class ItsmError(Exception):
    """Root of every error the collection raises on purpose.

    ``details`` carries structured context for the failed result (option, value, status, ...);
    it must never hold a secret.
    """

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = {key: value for key, value in details.items() if value is not None}

    def __str__(self) -> str:
        return self.message


class ItsmValidationError(ItsmError):
    """A value given by the user is not acceptable; the message names the option, value and what is allowed."""

    def __init__(self, option: str, value, allowed: str):
        super().__init__(
            f"{option}: {value!r} is not valid; {allowed}", option=option, value=_printable(value)
        )


class ItsmSettingsError(ItsmValidationError):
    """A connection setting the transport cannot use (ca_path, url, proxy, timeout, credentials).

    It says nothing about any one record: what waits for the backend waits for the setting to be fixed
    (the recorder's outbox keeps such items pending, never refused). ``message`` replaces the standard
    "option: value is not valid; allowed" text when the problem needs its own words.
    """

    def __init__(self, option: str, value, allowed: str, message: str | None = None):
        super().__init__(option, value, allowed)
        if message is not None:
            self.message = message
            self.args = (message,)


class ItsmNotFoundError(ItsmError):
    """A record that was named explicitly does not exist."""


class ItsmConflictError(ItsmError):
    """The request is ambiguous or clashes with the record's state (two records share a correlation id)."""


class ItsmTransitionError(ItsmError):
    """A state change the lifecycle model (or the backend's business rules) refuses."""


class ItsmAuthError(ItsmError):
    """The backend refused the credentials."""


class ItsmTransientError(ItsmError):
    """A failure worth retrying: rate limits, 5xx, resets, a cancelled transaction, a locked database."""


class ItsmUnexpectedResponseError(ItsmError):
    """The backend answered with something the collection does not understand."""


class ItsmStorageError(ItsmError):
    """The local store cannot be opened, read or written (unwritable path, corrupt file)."""


class ItsmUnavailableError(ItsmError):
    """The selected backend cannot be used here (not implemented yet, or a required library is missing)."""


def _printable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
