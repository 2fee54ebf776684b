# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder callback's talks with the backend and its outbox. FOR INTERNAL COLLECTION USE ONLY.

The callback imports this module when a playbook it records starts, not when it is loaded: the outbox and the
backend contract then cost nothing to a run that records nothing (check mode, a configuration error). The
selected backend's package (and requests, for servicenow) is imported only when it is built (backends/__init__.py).
"""

from __future__ import annotations

import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as outbox
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (ItsmError, ItsmNotFoundError,
                                                                           ItsmSettingsError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

# Settings without which no item has a place to wait: the outbox keeps items per backend and URL.
NOWHERE_TO_QUEUE = ("backend", "url")


class Delivery:
    """Sends the run's records, older queued ones first; what the backend cannot take waits in the outbox.

    No record is lost, whatever fails (issue 12): a backend that cannot even be built (a ca_path that is no CA
    bundle, missing credentials), an outage, a refusal, an error nobody foresaw; what could not be sent is
    queued and a warning says why. Only an unknown backend or a missing url, which leave nothing to queue for,
    stop the recorder (``__init__`` raises).
    """

    def __init__(self, connection: ConnectionSettings, outbox_path: str | None, settings: recorder.Settings,
                 display: t.Any) -> None:
        self.connection, self.settings, self.display = connection, settings, display
        # A file, or a PostgreSQL URL (issue 17); a URL of another scheme stops the recorder, naming the option.
        self.outbox = outbox.Outbox(outbox_path, timeout=10.0, warn=display.warning,
                                    password=outbox.password_of(connection))
        self.target = outbox.target_of(connection)
        self.refused_reported = False
        # Any other set-up error (a ca_path that is no CA bundle, missing credentials) is met again, and warned
        # of, at the start of the run; its records are queued at the end, to be sent once it is fixed.
        try:
            build_backend(connection).close()
        except ItsmError as error:
            if error.details.get("option") in NOWHERE_TO_QUEUE:
                raise
        except Exception:  # pylint: disable=broad-exception-caught  # the same: met again, warned, records queued
            pass

    def start(self, change_item: dict | None, flush: bool) -> str | None:
        """Send what earlier runs left in the outbox (``flush``), then open or find the run's change
        (``change_item``, if any); its number, or None when it could not be reached. Never raises."""
        backend = None
        try:
            backend = build_backend(self.connection, warn=self.display.warning)
            if flush and self._waiting():
                self._report_flush(outbox.flush(self.outbox, backend, self.target, self.display.warning))
                self.refused_reported = True
            if change_item is None:
                return None
            result = outbox.deliver(backend, change_item, self.display.warning)
            self.display.display(f"opsgate.itsm.recorder: {result['number']} {result['outcome']}, "
                                 f"now {result['state']}")
            return result["number"]
        except Exception as error:  # pylint: disable=broad-exception-caught  # a warning, never a broken run
            self.display.warning(self._start_warning(error, change_item))
            return None
        finally:
            self._close(backend)

    def _start_warning(self, error: Exception, change_item: dict | None) -> str:
        text = self._text(error)
        if isinstance(error, ItsmNotFoundError) and error.details.get("option") == "change":
            # ITSM_CHANGE naming a change the backend does not have: say so, not "could not reach" (issue 12).
            return (f"opsgate.itsm.recorder: the change option (ITSM_CHANGE) names a change that does not exist: "
                    f"{text}. The run goes on, but its recap and close cannot be written to that change and will "
                    "be kept in the outbox as refused; set ITSM_CHANGE to an existing change number, or unset it "
                    "to let the recorder open the run's own change")
        if change_item is not None and outbox.permanent(error):
            return (f"opsgate.itsm.recorder: the {self.connection.backend} backend refused "
                    f"{outbox.describe(change_item)} at the start of the run ({text})")
        if isinstance(error, ItsmSettingsError):
            return (f"opsgate.itsm.recorder cannot use the {self.connection.backend} backend ({text}); the run's "
                    f"records will be kept in the outbox {self.outbox.path}, and the next run or the "
                    "opsgate.itsm.outbox module sends them once the setting is fixed")
        return (f"opsgate.itsm.recorder could not reach the {self.connection.backend} backend at the start of the "
                f"run ({text}); the run's records will be sent at its end or kept in the outbox {self.outbox.path}")

    def send(self, items: list[dict]) -> None:
        """Older queued items first, then this run's; at the first outage the rest goes to the outbox. Never
        raises: each item is delivered, queued, or (when the outbox cannot take it either) printed."""
        pending = list(items)
        done: list[str] = []
        why = None
        setting = False  # the reason is a setting to fix (ca_path, credentials), not an outage that passes
        backend = None
        try:
            backend = build_backend(self.connection, warn=self.display.warning)
            why = self._flush_older(backend)
            while pending and not why:
                try:
                    result = outbox.deliver(backend, pending[0], self.display.warning)
                except Exception as error:  # pylint: disable=broad-exception-caught
                    if not outbox.permanent(error):
                        raise
                    self._queue(pending[:1], self._text(error), state="failed")
                else:
                    if result["number"] is not None or result["type"] != "problem":  # a problem not raised: nothing
                        done.append(f"{result['type']} {result['number']} {result['outcome']}")
                pending.pop(0)
        except Exception as error:  # pylint: disable=broad-exception-caught  # whatever failed, the rest is queued
            why = self._text(error)
            setting = isinstance(error, ItsmSettingsError)
        finally:
            self._close(backend)
        if pending:
            self._queue(pending, why or "the backend could not be used", setting=setting)
        if done:
            self.display.display("opsgate.itsm.recorder: " + "; ".join(done))

    def _flush_older(self, backend) -> str | None:
        """Send what earlier runs queued; the reason this run's items must wait behind them, if any."""
        if not self._waiting():
            return None
        report = outbox.flush(self.outbox, backend, self.target, self.display.warning,
                              report_refused=not self.refused_reported)
        self.refused_reported = True
        self._report_flush(report)
        return report["outage"] or (f"{report['remaining']} older items are still queued"
                                    if report["remaining"] else None)

    def _waiting(self) -> bool:
        """Whether the outbox holds items for this backend, pending or refused (a flush reports those);
        an unusable outbox holds none, and is said so."""
        try:
            return bool(self.outbox.list(("pending", "failed"), self.target))
        except ItsmError as error:
            self.display.warning(f"opsgate.itsm.recorder: the outbox {self.outbox.path} cannot be used "
                                 f"({error.message}); the records are sent straight to the "
                                 f"{self.connection.backend} backend")
            return False

    def _queue(self, items: list[dict], why: str, state: str = "pending", setting: bool = False) -> None:
        try:
            self.outbox.put(items, self.target, state=state, error=why)
        except Exception as error:  # pylint: disable=broad-exception-caught
            # Last resort: the records are in the job's output, so a person can still enter them.
            self.display.warning(f"opsgate.itsm.recorder: {len(items)} records could not be sent ({why}) nor "
                                 f"queued in the outbox ({self._text(error)}); enter them by hand: "
                                 + recorder.undelivered_text(items, self.settings))
            return
        if state == "failed":
            self.display.warning(f"opsgate.itsm.recorder: the {self.connection.backend} backend refused "
                                 f"{outbox.describe(items[0])} for good ({why}); it is kept as failed in the outbox "
                                 f"{self.outbox.path} (action=list shows it) and not sent again unless a flush has "
                                 "retry_failed")
        else:
            self.display.warning(f"opsgate.itsm.recorder: {len(items)} records queued in the outbox "
                                 f"{self.outbox.path} because the {self.connection.backend} backend failed: {why}. "
                                 "The next run, or the opsgate.itsm.outbox module, sends them"
                                 + (" once the setting is fixed." if setting else "."))

    def _report_flush(self, report: dict) -> None:
        if report["delivered"]:
            self.display.display(f"opsgate.itsm.recorder: sent {len(report['delivered'])} queued records "
                                 f"from the outbox ({report['remaining']} left)")

    def _text(self, error: BaseException) -> str:
        return outbox.error_text(error, self.connection.secrets())

    def _close(self, backend) -> None:
        if backend is None:
            return
        try:
            backend.close()
        except Exception as error:  # pylint: disable=broad-exception-caught  # nothing left to lose, but say it
            self.display.warning(f"opsgate.itsm.recorder: closing the backend failed: {self._text(error)}")
