# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-Driven Ansible source: one event per state or approval change of the watched change requests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import os
import sys
import tempfile
import typing as t

DOCUMENTATION = r"""
name: change_events
short_description: Events when watched change requests are approved, rejected, scheduled, canceled or their window opens
version_added: 0.2.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Watches change requests on any opsgate.itsm backend (C(local), C(servicenow), C(jsm)) and puts one event on the
    queue per state or approval change, so a rulebook can launch the deployment job when a change is approved
    instead of a job holding a slot while M(opsgate.itsm.change_gate) waits.
  - "Which changes: those named by O(numbers), the open change holding each of O(correlation_ids) (a new change
    opened later under the same correlation id is picked up too), and every change the O(filters) match. A change
    found through a correlation id or the filters stays watched until it is closed or canceled, also when the
    filters no longer match it."
  - "Requests: one per poll for all the watched changes, whatever their count: with O(correlation_ids), one
    C(find) of every change holding any of them (a list-valued C(correlation_id) filter); with O(numbers), one
    C(find) by number; with O(filters), one C(find) with them. The changes the source already follows are read in
    the same requests; only those none of them returned (a named number, or a change the O(filters) no longer
    match while it is open) add one C(find) by number for all of them. A change is never read on its own, and a
    correlation id costs no request of its own. The checkpoint is a local file and costs no request. On Jira Cloud
    a C(find) by number also reads each named issue by key (up to 50), so that the search sees issues its index has
    not caught up with; the O(correlation_ids) and O(filters) finds are one search each."
  - "Events, in this order for one change: C(approved), C(rejected) or C(approval_changed) (another approval
    state); then C(scheduled), C(canceled), C(closed) or C(state_changed) (any other state); then C(window_open)
    when the change is C(scheduled) or in C(implement) and its planned window has begun (once per window: a
    rescheduled change opens again)."
  - "A change named by O(numbers) or O(correlation_ids) is compared, when first seen, with a new change
    (C(new), C(not_requested)): a change already approved when the source starts gives an C(approved) event.
    A change only the O(filters) match is taken as it is when first seen, without events, so old changes do not
    flood the rulebook."
  - "With O(checkpoint), what each change was last reported as is kept in that file (mode 0600, replaced
    atomically), and written as each event is handed over: a restarted source reports what happened while it was
    down, and does not report again what it had handed over before it stopped."
  - "A poll that fails because the system is unreachable, rate-limits or answers with an error is retried with a
    jittered backoff from O(interval) up to O(max_interval); an error that a retry cannot fix (a bad filter, a
    setting the transport cannot use) ends the source with that error."
options:
  numbers:
    description: Change numbers to watch.
    type: list
    elements: str
  correlation_ids:
    description:
      - Correlation ids whose open change is watched (the M(opsgate.itsm.change_request) option of that name).
      - All of them are read in one request per poll, so a value may not hold a comma (nor C(^)).
    type: list
    elements: str
  filters:
    description:
      - Canonical filters, as the M(opsgate.itsm.change_request_info) module takes them (C(state), C(type),
        C(approval), C(assignment_group), C(configuration_item), C(window_start), C(window_end), ...).
    type: dict
  interval:
    description: Seconds between polls, and the first delay after a failed poll.
    type: float
    default: 30
  max_interval:
    description: The longest delay between polls after failures.
    type: float
    default: 300
  checkpoint:
    description:
      - A file that keeps what was reported, so that a restart neither misses nor repeats an event. Without it,
        the source starts afresh each time.
    type: path
  backend:
    description: The system of record, as the modules' option of that name (env C(ITSM_BACKEND)).
    type: str
    choices: [local, servicenow, jsm]
    default: local
  url:
    description: Base URL of the ServiceNow instance or Jira site (env C(ITSM_URL)).
    type: str
  username:
    description: User for basic authentication (env C(ITSM_USERNAME)).
    type: str
  password:
    description: Password or Jira API token (env C(ITSM_PASSWORD)).
    type: str
  token:
    description: Bearer token or Jira personal access token (env C(ITSM_TOKEN)).
    type: str
  api_key:
    description: ServiceNow API key (env C(ITSM_API_KEY)).
    type: str
  client_id:
    description: ServiceNow OAuth client id (env C(ITSM_CLIENT_ID)).
    type: str
  client_secret:
    description: ServiceNow OAuth client secret (env C(ITSM_CLIENT_SECRET)).
    type: str
  validate_certs:
    description: Verify the server's TLS certificate (env C(ITSM_VALIDATE_CERTS)).
    type: bool
    default: true
  ca_path:
    description: CA bundle that verifies the server's certificate (env C(ITSM_CA_PATH)).
    type: path
  proxy:
    description: HTTP(S) proxy (env C(ITSM_PROXY)).
    type: str
  timeout:
    description: Seconds to wait for one request (env C(ITSM_TIMEOUT)).
    type: float
    default: 30
  retries:
    description: Retries of a transient failure within one poll (env C(ITSM_RETRIES)).
    type: int
    default: 3
  local_db:
    description: SQLite file of the C(local) backend (env C(ITSM_LOCAL_DB)).
    type: path
  jsm_mapping:
    description: The C(jsm) backend's mapping file (env C(ITSM_JSM_MAPPING)).
    type: path
notes:
  - "Each event is a dict: C(number), C(event), C(record) (the canonical change as read), C(previous) (its C(state)
    and C(approval) as last reported) and C(event_id), the same for the same event whatever restarts happen."
  - The collection must be installed in the decision environment with its Python requirements
    (C(requirements.txt)); ansible-rulebook itself needs a Java runtime.
"""

EXAMPLES = r"""
- name: Deploy when the change is approved
  hosts: all
  sources:
    - opsgate.itsm.change_events:
        backend: servicenow
        correlation_ids:
          - deploy-web-1.4.2
        interval: 30
        checkpoint: /var/lib/eda/opsgate-change-events.json
  rules:
    - name: Launch the deployment
      condition: event.event == "approved"
      action:
        run_job_template:
          name: Deploy web
          organization: Default
          job_args:
            extra_vars:
              itsm_change: "{{ event.record }}"
"""


def _importable_collection() -> None:
    """ansible-rulebook runs a source file by its path: put the ``ansible_collections`` tree it lies in on
    ``sys.path`` so that the collection's own code imports (extensions/eda/plugins/event_source/ is 4 levels
    below the collection, which is 2 below ``ansible_collections``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    collection = os.path.abspath(os.path.join(here, os.pardir, os.pardir, os.pardir, os.pardir))
    base = os.path.dirname(os.path.dirname(os.path.dirname(collection)))
    if os.path.basename(os.path.dirname(os.path.dirname(collection))) == "ansible_collections" and base not in sys.path:
        sys.path.append(base)


try:
    from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
except ImportError:  # loaded by path, outside a collection search path
    _importable_collection()
    from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records

# pylint: disable=wrong-import-position
from ansible_collections.opsgate.itsm.plugins.module_utils import _input as inputs
from ansible_collections.opsgate.itsm.plugins.module_utils._backoff import Backoff
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmError, ItsmStorageError, ItsmTransientError, ItsmUnavailableError, ItsmUnexpectedResponseError,
    ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import CONNECTION_OPTIONS, ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

CHANGE = records.CHANGE
#: errors a later poll may not meet: the source waits and polls again
RETRIED_ERRORS = (ItsmTransientError, ItsmUnavailableError, ItsmStorageError, ItsmUnexpectedResponseError)
#: what a change named by number or correlation id is compared with when first seen
NEW_CHANGE = {"state": "new", "approval": "not_requested", "window": None}
APPROVAL_EVENTS = {"approved": "approved", "rejected": "rejected"}
STATE_EVENTS = {"scheduled": "scheduled", "canceled": "canceled", "closed": "closed"}
WINDOW_STATES = ("scheduled", "implement")
CHECKPOINT_VERSION = 1
WATCH_OPTIONS = ("numbers", "correlation_ids", "filters", "interval", "max_interval", "checkpoint")


def _truth(value: t.Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f"):
        return False
    raise ItsmValidationError(option, value, "expected true or false")


def connection_settings(args: t.Mapping[str, t.Any], environ: t.Mapping[str, str] | None = None) -> ConnectionSettings:
    """The collection's connection options from the source's arguments, each falling back to its ``ITSM_*``
    environment variable and then to its default, as the modules do."""
    environ = os.environ if environ is None else environ
    values: dict[str, t.Any] = {}
    for name, spec in CONNECTION_OPTIONS.items():
        value = args.get(name)
        if value is None and environ.get(spec["env"]):
            value = environ[spec["env"]]
        if value is None:
            continue
        kind = spec.get("type")
        try:
            if kind == "bool":
                value = _truth(value, name)
            elif kind == "float":
                value = float(value)
            elif kind == "int":
                value = int(value)
            elif kind == "path":
                value = os.path.expanduser(str(value))
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ItsmValidationError(name, value, spec.get("expects") or f"expected a {kind}") from None
        if spec.get("choices") and value not in spec["choices"]:
            raise ItsmValidationError(name, value, "expected one of: " + ", ".join(spec["choices"]))
        values[name] = value
    return ConnectionSettings.from_mapping(values)


def _names(args: t.Mapping[str, t.Any], option: str) -> tuple[str, ...]:
    value = args.get(option) or []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ItsmValidationError(option, value, "expected a list")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ItsmValidationError(option, value, "expected a list of non-empty strings")
    return tuple(dict.fromkeys(item.strip() for item in value))


def _seconds(args: t.Mapping[str, t.Any], option: str, default: float) -> float:
    value = args.get(option, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(value, bool) or seconds <= 0:
        raise ItsmValidationError(option, value, "expected a number of seconds greater than 0")
    return seconds


class Selection:
    """What to watch and how often, validated before the first request."""

    def __init__(self, args: t.Mapping[str, t.Any]):
        unknown = sorted(set(args) - set(WATCH_OPTIONS) - set(CONNECTION_OPTIONS))
        if unknown:
            raise ItsmValidationError(unknown[0], args[unknown[0]], "not an argument of opsgate.itsm.change_events; "
                                      "expected one of: " + ", ".join(WATCH_OPTIONS + tuple(CONNECTION_OPTIONS)))
        self.numbers = _names(args, "numbers")
        self.correlation_ids = _names(args, "correlation_ids")
        for correlation_id in self.correlation_ids:  # as find takes them in its one list (no comma, no ^)
            inputs.listed_value("correlation_ids", inputs.require_correlation_id(correlation_id, "correlation_ids"))
        filters = args.get("filters") or {}
        if not isinstance(filters, dict):
            raise ItsmValidationError("filters", filters, "expected a dict of canonical filters")
        self.filters = dict(filters)
        if not (self.numbers or self.correlation_ids or self.filters):
            raise ItsmValidationError("numbers", None, "name the changes to watch: numbers, correlation_ids or filters")
        self.interval = _seconds(args, "interval", 30.0)
        self.max_interval = max(_seconds(args, "max_interval", 300.0), self.interval)
        checkpoint = args.get("checkpoint")
        self.checkpoint = os.path.abspath(os.path.expanduser(str(checkpoint))) if checkpoint else None


class Checkpoint:
    """What each change was last reported as: ``{id: {number, state, approval, window, named}}``, in a JSON file
    (0600, its directory 0700 when created here) replaced atomically at every write, or in memory only."""

    def __init__(self, path: str | None):
        self.path = path
        self.changes: dict[str, dict[str, t.Any]] = {}
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as error:
                raise ItsmValidationError("checkpoint", path, f"cannot be read as a checkpoint ({error})") from None
            if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
                raise ItsmValidationError("checkpoint", path, "is not a checkpoint of opsgate.itsm.change_events")
            self.changes = dict(data.get("changes") or {})

    def save(self) -> None:
        if not self.path:
            return
        folder = os.path.dirname(self.path) or "."
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".change_events-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": CHECKPOINT_VERSION, "changes": self.changes}, out, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _window(record: t.Mapping[str, t.Any], now: dt.datetime) -> str | None:
    """The start of the change's planned window when it is open now and the change may be worked on."""
    if record.get("state") not in WINDOW_STATES or not record.get("start_date"):
        return None
    start = records.parse_datetime(record["start_date"], "start_date")
    end = records.parse_datetime(record["end_date"], "end_date") if record.get("end_date") else None
    if start <= now and (end is None or now < end):
        return str(record["start_date"])
    return None


def _event(name: str, record: t.Mapping[str, t.Any], seen: t.Mapping[str, t.Any], key: str, value: t.Any) -> dict:
    return {
        "number": record.get("number"), "event": name, "record": dict(record),
        "previous": {"state": seen.get("state"), "approval": seen.get("approval")},
        "event_id": f"{record.get('id')}:{name}:{key}={value}",
        "_commit": (key, value),
    }


def changes_of(record: t.Mapping[str, t.Any], seen: t.Mapping[str, t.Any], now: dt.datetime) -> list[dict]:
    """The events between what was last reported of a change (``seen``) and the change as read now."""
    found = []
    approval, state = record.get("approval"), record.get("state")
    if approval != seen.get("approval"):
        found.append(_event(APPROVAL_EVENTS.get(approval, "approval_changed"), record, seen, "approval", approval))
    if state != seen.get("state"):
        found.append(_event(STATE_EVENTS.get(state, "state_changed"), record, seen, "state", state))
    window = _window(record, now)
    if window is not None and window != seen.get("window"):
        found.append(_event("window_open", record, seen, "window", window))
    return found


class Watcher:
    """The watched changes and what was reported of them; ``read`` is one poll's requests (blocking)."""

    def __init__(self, selection: Selection, backend: t.Any, checkpoint: Checkpoint):
        self.selection, self.backend, self.checkpoint = selection, backend, checkpoint

    def known_numbers(self) -> list[str]:
        """The named numbers and every change found earlier that is still open."""
        numbers = dict.fromkeys(self.selection.numbers)
        for seen in self.checkpoint.changes.values():
            if seen.get("state") not in records.CLOSED_CHANGE_STATES and seen.get("number"):
                numbers[seen["number"]] = None
        return list(numbers)

    def read(self) -> list[tuple[dict, bool]]:
        """(change, named) for every watched change. One request per poll (issue 17): one find for
        all the correlation ids, one with the filters, and one by number only for the named or known changes
        those did not return."""
        found: dict[str, tuple[dict, bool]] = {}
        if self.selection.correlation_ids:
            for record in self.backend.find(CHANGE, {"correlation_id": list(self.selection.correlation_ids)}):
                # Every holder, open or not: one followed already, or a new open one; holders that had settled
                # before the source first saw them are history.
                key = str(record["id"])
                if key in self.checkpoint.changes or record.get("state") not in records.CLOSED_CHANGE_STATES:
                    found[key] = (record, True)
        if self.selection.filters:
            for record in self.backend.find(CHANGE, self.selection.filters):
                found.setdefault(str(record["id"]), (record, False))
        returned = {record.get("number") for record, _named in found.values()}
        numbers = [number for number in self.known_numbers() if number not in returned]
        if numbers:
            named_numbers = set(self.selection.numbers)
            for record in self.backend.find(CHANGE, {"number": numbers}):
                key = str(record["id"])
                seen = self.checkpoint.changes.get(key) or {}
                named = record.get("number") in named_numbers or bool(seen.get("named"))
                found.setdefault(key, (record, named))
        if self.selection.numbers:  # a named number the other finds returned is named all the same
            found = {key: (record, named or record.get("number") in self.selection.numbers)
                     for key, (record, named) in found.items()}
        return list(found.values())

    def events(self, found: list[tuple[dict, bool]], now: dt.datetime) -> list[dict]:
        """The events of one poll; changes first seen through the filters only are recorded without events."""
        events = []
        for record, named in found:
            key = str(record["id"])
            seen = self.checkpoint.changes.get(key)
            if seen is None:
                if not named:
                    self.checkpoint.changes[key] = dict(number=record.get("number"), state=record.get("state"),
                                                        approval=record.get("approval"), window=_window(record, now),
                                                        named=False)
                    continue
                seen = self.checkpoint.changes[key] = dict(NEW_CHANGE, number=record.get("number"), named=True)
            events += changes_of(record, seen, now)
        return events

    def commit(self, event: dict) -> None:
        key, value = event["_commit"]
        seen = self.checkpoint.changes.setdefault(str(event["record"]["id"]), {"number": event["number"]})
        seen[key] = value
        self.checkpoint.save()


async def watch(args: t.Mapping[str, t.Any], backend: t.Any = None,
                now: t.Callable[[], dt.datetime] = records.utcnow) -> t.AsyncIterator[dict]:
    """The events of the watched changes, forever. Arguments are checked before the first request; ``backend``
    (tests) replaces the one built from the connection options. An event is committed to the checkpoint when the
    consumer has taken it (the generator resumes or is closed at that event)."""
    selection = Selection(args)
    checkpoint = Checkpoint(selection.checkpoint)
    owned = backend is None
    if owned:
        backend = build_backend(connection_settings(args))
    watcher = Watcher(selection, backend, checkpoint)
    # One thread for every backend call: a backend's connections (the local store's SQLite) stay in one thread,
    # and the event loop never blocks on a request.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsgate-change-events")
    loop = asyncio.get_running_loop()
    delays = iter(Backoff(selection.interval, factor=2.0, max_delay=selection.max_interval))
    try:
        checkpoint.save()
        while True:
            try:
                found = await loop.run_in_executor(executor, watcher.read)
            except RETRIED_ERRORS as error:
                delay = next(delays, selection.max_interval)
                print(f"opsgate.itsm.change_events: poll failed ({error.message}); next poll in {delay:.1f}s",
                      file=sys.stderr)
                await asyncio.sleep(delay)
                continue
            delays = iter(Backoff(selection.interval, factor=2.0, max_delay=selection.max_interval))
            for event in watcher.events(found, now()):
                try:
                    yield {key: value for key, value in event.items() if not key.startswith("_")}
                finally:
                    watcher.commit(event)
            checkpoint.save()
            await asyncio.sleep(selection.interval)
    finally:
        if owned:
            await loop.run_in_executor(executor, backend.close)
        executor.shutdown(wait=False)


async def main(queue: asyncio.Queue, args: dict[str, t.Any]) -> None:
    """ansible-rulebook's entry point: every event goes on ``queue``. A bad argument or setting ends the source
    with its message (naming the option), never a traceback of a request."""
    try:
        async for event in watch(args):
            await queue.put(event)
    except ItsmError as error:
        raise SystemExit(f"opsgate.itsm.change_events: {error.message}") from None


if __name__ == "__main__":
    # Try it without ansible-rulebook: python change_events.py '{"numbers": ["CHG0000001"], "interval": 5}'

    class _Printer:
        async def put(self, event: dict) -> None:
            print(json.dumps(event, indent=2, sort_keys=True))

    asyncio.run(main(t.cast(asyncio.Queue, _Printer()), json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")))
