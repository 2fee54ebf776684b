# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder callback's talks with the backend and its outbox. FOR INTERNAL COLLECTION USE ONLY.

The callback imports this module when a playbook it records starts, not when it is loaded: the backends (and
requests with them) then cost nothing to a run that records nothing (check mode, a configuration error).
"""

from __future__ import annotations

import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as outbox
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend


class Delivery:
    """Sends the run's records, older queued ones first; what the backend cannot take waits in the outbox."""

    def __init__(self, connection: ConnectionSettings, outbox_path: str | None, settings: recorder.Settings,
                 display: t.Any) -> None:
        # Raises the ItsmError of a backend that cannot be built (an unknown name, a missing setting).
        build_backend(connection).close()
        self.connection, self.settings, self.display = connection, settings, display
        self.outbox = outbox.Outbox(outbox_path, timeout=10.0)
        self.target = outbox.target_of(connection)

    def start(self, change_item: dict | None, flush: bool) -> str | None:
        """Send what earlier runs left in the outbox (``flush``), then open or find the run's change
        (``change_item``, if any); its number, or None when it could not be reached."""
        backend = self._backend()
        try:
            if flush and self._queued():
                self._report_flush(outbox.flush(self.outbox, backend, self.target, self.display.warning))
            if change_item is None:
                return None
            result = outbox.deliver(backend, change_item, self.display.warning)
            self.display.display(f"opsgate.itsm.recorder: {result['number']} {result['outcome']}, "
                                 f"now {result['state']}")
            return result["number"]
        except ItsmError as error:
            self.display.warning(f"opsgate.itsm.recorder could not reach the {self.connection.backend} backend "
                                 f"at the start of the run ({error.message}); the run's records will be sent "
                                 "at its end or kept in the outbox")
            return None
        finally:
            backend.close()

    def send(self, items: list[dict]) -> None:
        """Older queued items first, then this run's; at the first outage the rest goes to the outbox."""
        backend = self._backend()
        try:
            blocked = self._flush_older(backend)
            done = self._deliver(backend, items, blocked)
        finally:
            backend.close()
        if done:
            self.display.display("opsgate.itsm.recorder: " + "; ".join(done))

    def _backend(self):
        return build_backend(self.connection, warn=self.display.warning)

    def _flush_older(self, backend) -> str | None:
        """Send what earlier runs queued; the reason this run's items must wait behind them, if any."""
        if not self._queued():
            return None
        try:
            report = outbox.flush(self.outbox, backend, self.target, self.display.warning)
        except ItsmError as error:
            return error.message
        self._report_flush(report)
        return report["outage"] or (f"{report['remaining']} older items are still queued"
                                    if report["remaining"] else None)

    def _deliver(self, backend, items: list[dict], blocked: str | None) -> list[str]:
        done: list[str] = []
        for index, item in enumerate(items):
            if blocked:
                self._queue(items[index:], blocked)
                break
            try:
                result = outbox.deliver(backend, item, self.display.warning)
            except outbox.OUTAGE_ERRORS as error:
                blocked = error.message
                self._queue(items[index:], blocked)
                break
            except ItsmError as error:
                self._queue([item], error.message, state="failed")
                continue
            done.append(f"{result['type']} {result['number']} {result['outcome']}")
        return done

    def _queued(self) -> bool:
        """Whether the outbox holds items for this backend; an unusable outbox holds none, and is said so."""
        try:
            return bool(self.outbox.list(("pending",), self.target))
        except ItsmError as error:
            self.display.warning(f"opsgate.itsm.recorder: the outbox {self.outbox.path} cannot be used "
                                 f"({error.message}); the records are sent straight to the "
                                 f"{self.connection.backend} backend")
            return False

    def _queue(self, items: list[dict], why: str, state: str = "pending") -> None:
        try:
            self.outbox.put(items, self.target, state=state, error=why)
        except ItsmError as error:
            # Last resort: the records are in the job's output, so a person can still enter them.
            self.display.warning(f"opsgate.itsm.recorder: {len(items)} records could not be sent ({why}) nor "
                                 f"queued in the outbox ({error.message}); enter them by hand: "
                                 + recorder.undelivered_text(items, self.settings))
            return
        if state == "failed":
            self.display.warning(f"opsgate.itsm.recorder: the {self.connection.backend} backend refused "
                                 f"{items[0]['type']} {items[0]['id']}: {why}; it is kept as failed in the "
                                 f"outbox {self.outbox.path}")
        else:
            self.display.warning(f"opsgate.itsm.recorder: {len(items)} records queued in the outbox "
                                 f"{self.outbox.path} because the {self.connection.backend} backend failed: {why}. "
                                 "The next run, or the opsgate.itsm.outbox module, sends them.")

    def _report_flush(self, report: dict) -> None:
        if report["delivered"]:
            self.display.display(f"opsgate.itsm.recorder: sent {len(report['delivered'])} queued records "
                                 f"from the outbox ({report['remaining']} left)")
