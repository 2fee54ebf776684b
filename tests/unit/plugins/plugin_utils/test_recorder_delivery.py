# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder's delivery (plugin_utils/_recorder_delivery.py) on a double of the backend contract.

No record is lost: what an outage keeps from the backend waits in the outbox as pending, what the backend
refuses for good is kept as failed, and neither start nor send ever raises.
"""

from __future__ import annotations

from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (ItsmSettingsError, ItsmTransientError,
                                                                           ItsmUnavailableError, ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _recorder_delivery
from tests.unit.plugins.module_utils.backends import pg_sim

RUN = recorder.Run(run_id="job-1", attempt="a1", playbook="site.yml")
FAILURE = recorder.Failure(playbook="site.yml", play="Web", hosts="web", task="Deploy", host="web1", message="boom")


class Display:
    def __init__(self):
        self.warnings, self.lines = [], []

    def warning(self, text):
        self.warnings.append(text)

    def display(self, text):
        self.lines.append(text)


def items():
    """The run's start-and-end change item and one incident item, as the callback hands them over."""
    change = recorder.change_item(RUN, note="recap", code="successful")
    [incident] = recorder.incident_items([FAILURE], recorder.Settings(), recorder.MARKER_PREFIX + "a1", "run job-1",
                                         {"correlation_id": RUN.correlation_id})
    return [change, incident]


@pytest.fixture
def backend(monkeypatch):
    """The double every build_backend of the delivery returns: nothing holds a correlation id yet."""
    double = mock.create_autospec(ItsmBackend, instance=True)
    double.name = "local"
    double.find.side_effect = lambda kind, filters, limit=None: iter([])
    double.lookup.return_value = None
    monkeypatch.setattr(_recorder_delivery, "build_backend", lambda settings, warn=None: double)
    return double


@pytest.fixture
def delivery(tmp_path, backend):
    connection = ConnectionSettings(backend="local", local_db=str(tmp_path / "itsm.sqlite"))
    backend.settings = connection
    return _recorder_delivery.Delivery(connection, str(tmp_path / "outbox.sqlite"), recorder.Settings(), Display())


def queued(delivery):
    return [(item["type"], item["state"], item["last_error"]) for item in delivery.outbox.list(target=delivery.target)]


def test_start_opens_the_runs_change_and_returns_its_number(delivery, backend):
    backend.create.return_value = dict(id="c1", number="CHG0000001", state="implement")

    assert delivery.start(recorder.change_item(RUN), flush=True) == "CHG0000001"

    assert backend.create.call_args.args[0] == "change"
    assert delivery.display.lines == ["opsgate.itsm.recorder: CHG0000001 created, now implement"]
    assert delivery.display.warnings == [] and queued(delivery) == []


def test_an_outage_at_the_start_is_a_warning_never_an_error(delivery, backend):
    backend.lookup.side_effect = backend.find.side_effect = ItsmTransientError("the backend is down")

    assert delivery.start(recorder.change_item(RUN), flush=True) is None

    [warning] = delivery.display.warnings
    assert warning.startswith("opsgate.itsm.recorder could not reach the local backend at the start of the run "
                              "(the backend is down)")
    assert backend.close.call_count == 2  # the check in __init__, and the start's own backend


def test_an_outage_queues_every_record_as_pending_with_the_reason(delivery, backend):
    backend.lookup.side_effect = backend.find.side_effect = ItsmTransientError("the backend is down")

    delivery.send(items())

    assert queued(delivery) == [("change", "pending", "the backend is down"),
                                ("incident", "pending", "the backend is down")]
    [warning] = delivery.display.warnings
    assert warning.startswith(f"opsgate.itsm.recorder: 2 records queued in the outbox {delivery.outbox.path} because "
                              "the local backend failed: the backend is down. The next run")


def test_a_refused_record_is_kept_failed_and_the_next_one_is_still_sent(delivery, backend):
    def create(kind, fields, check_mode=False):
        if kind == "change":
            raise ItsmValidationError("assignment_group", "nobody", "expected a group the backend knows")
        return dict(id="i1", number="INC0000001", state="new")
    backend.create.side_effect = create

    delivery.send(items())

    refusal = "assignment_group: 'nobody' is not valid; expected a group the backend knows"
    assert queued(delivery) == [("change", "failed", refusal)]
    assert delivery.display.lines == ["opsgate.itsm.recorder: incident INC0000001 created"]
    [warning] = delivery.display.warnings
    assert warning.startswith(f"opsgate.itsm.recorder: the local backend refused the end of the run's change "
                              f"({RUN.correlation_id}) for good ({refusal}); it is kept as failed")


def test_a_backend_that_cannot_be_built_queues_the_records_until_the_setting_is_fixed(delivery, monkeypatch):
    def build(settings, warn=None):
        raise ItsmSettingsError("ca_path", "/nowhere", "the file does not exist")
    monkeypatch.setattr(_recorder_delivery, "build_backend", build)

    delivery.send(items())

    reason = "ca_path: '/nowhere' is not valid; the file does not exist"
    assert queued(delivery) == [("change", "pending", reason), ("incident", "pending", reason)]
    [warning] = delivery.display.warnings
    assert warning.endswith(f"failed: {reason}. The next run, or the opsgate.itsm.outbox module, sends them once the "
                            "setting is fixed.")


def test_an_unknown_backend_stops_the_recorder_it_leaves_no_place_to_queue(tmp_path, monkeypatch):
    def build(settings, warn=None):
        raise ItsmUnavailableError("backend: 'remedy' cannot be used", option="backend", value="remedy")
    monkeypatch.setattr(_recorder_delivery, "build_backend", build)

    with pytest.raises(ItsmUnavailableError, match="remedy"):
        _recorder_delivery.Delivery(ConnectionSettings(backend="remedy"), str(tmp_path / "outbox.sqlite"),
                                    recorder.Settings(), Display())
    assert not (tmp_path / "outbox.sqlite").exists()


def test_an_outbox_url_of_another_scheme_stops_the_recorder_naming_the_option(tmp_path, backend):
    """Not a file named ``mysql:/...`` in the current directory: refused, its password hidden (issue 17)."""
    with pytest.raises(ItsmSettingsError) as refused:
        _recorder_delivery.Delivery(ConnectionSettings(backend="local", local_db=str(tmp_path / "itsm.sqlite")),
                                    "mysql://itsm:s3cret-pw@db/itsm", recorder.Settings(), Display())
    assert refused.value.details["option"] == "outbox" and "s3cret-pw" not in refused.value.message


def test_a_postgresql_outbox_queues_what_an_outage_keeps_with_the_local_backends_password(backend, monkeypatch):
    """The outbox on PostgreSQL (issue 17), its URL without password: the local backend's password opens it."""
    url = pg_sim.new_store()
    connection = ConnectionSettings(backend="local", local_db=url, password=pg_sim.PASSWORD)
    backend.settings = connection
    backend.lookup.side_effect = ItsmTransientError("the store is locked")
    delivery = _recorder_delivery.Delivery(connection, url, recorder.Settings(), Display())
    delivery.send(items())
    assert [(kind, state) for kind, state, _why in queued(delivery)] == [("change", "pending"), ("incident", "pending")]
    assert delivery.outbox.path == url and pg_sim.PASSWORD not in "".join(delivery.display.warnings)
