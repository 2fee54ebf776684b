# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attachment module's run() against a real local store, and its look-up on a double of the contract."""

import hashlib
from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmNotFoundError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import attachment


@pytest.fixture
def change(local_backend):
    return local_backend.create("change", {"short_description": "deploy"})


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "run.log"
    path.write_bytes(b"deploy ok\n")
    return path


def test_attaches_a_file_and_reports_its_sha256(task, change, log_file):
    result = task(attachment, number=change["number"], path=str(log_file))

    assert result["changed"] is True
    assert result["attachment"]["name"] == "run.log"
    assert result["attachment"]["sha256"] == hashlib.sha256(b"deploy ok\n").hexdigest()
    assert result["attachment"]["size"] == 10
    assert result["attachment"]["content_type"] == "application/octet-stream"
    assert [item["name"] for item in result["attachments"]] == ["run.log"]
    assert result["diff"]["after"] == {"attachments": {"run.log": result["attachment"]["sha256"]}}


def test_same_content_again_changes_nothing(task, change, log_file):
    first = task(attachment, number=change["number"], path=str(log_file))
    again = task(attachment, number=change["number"], path=str(log_file))

    assert again["changed"] is False
    assert again["attachment"] == first["attachment"]
    assert len(again["attachments"]) == 1


def test_new_content_under_the_same_name_replaces_the_old_attachment(task, change, log_file):
    task(attachment, number=change["number"], path=str(log_file))
    log_file.write_bytes(b"deploy failed\n")

    result = task(attachment, number=change["number"], path=str(log_file))

    assert result["changed"] is True
    assert [item["sha256"] for item in result["attachments"]] == [hashlib.sha256(b"deploy failed\n").hexdigest()]


def test_check_mode_reports_the_upload_without_storing_it(task, local_backend, change, log_file):
    result = task(attachment, check_mode=True, number=change["number"], path=str(log_file), name="x.txt")

    assert result["changed"] is True
    assert result["attachment"]["id"] is None
    assert result["attachment"]["content_type"] == "text/plain"
    assert local_backend.attachments("change", change) == []


def test_without_path_lists_and_changes_nothing(task, local_backend, change, log_file):
    local_backend.add_attachment("change", change, str(log_file))

    result = task(attachment, number=change["number"])

    assert result["changed"] is False
    assert [item["name"] for item in result["attachments"]] == ["run.log"]


def test_incident_attachments_are_kept_apart_from_changes(task, local_backend, log_file):
    incident = local_backend.create("incident", {"short_description": "down", "correlation_id": "inc-att"})

    result = task(attachment, kind="incident", correlation_id="inc-att", path=str(log_file))

    assert result["changed"] is True
    assert result["record"]["number"] == incident["number"]


def test_unreadable_file_is_refused_naming_the_path(task, change, tmp_path):
    with pytest.raises(ItsmValidationError) as caught:
        task(attachment, number=change["number"], path=str(tmp_path / "missing.log"))
    assert "path" in str(caught.value) and "missing.log" in str(caught.value)


def test_unknown_record_is_an_error(task):
    with pytest.raises(ItsmNotFoundError):
        task(attachment, number="CHG9999999", path="/etc/hostname")


def test_the_record_is_looked_up_with_nothing_declared_but_its_kind(double_task, backend_double):
    record = dict(id="i1", number="INC0000002", state="new")
    backend_double.lookup.return_value = LookupResult(record)
    backend_double.attachments.return_value = []

    result = double_task(attachment, number="INC0000002")

    assert backend_double.method_calls == [
        mock.call.lookup("incident", number="INC0000002", include=frozenset(), writes=None),
        mock.call.attachments("incident", record)]
    assert result == dict(changed=False, record=record, attachments=[])


def test_a_number_whose_prefix_names_no_kind_is_looked_up_as_a_change_then_an_incident(double_task, backend_double):
    # A Jira issue key (jsm): ITSM-7 may be either kind; a playbook names it as it names CHG/INC numbers.
    record = dict(id="10007", number="ITSM-7", state="new")
    backend_double.lookup.side_effect = [None, LookupResult(record)]
    backend_double.attachments.return_value = []

    result = double_task(attachment, number="ITSM-7")

    assert backend_double.method_calls == [
        mock.call.lookup("change", number="ITSM-7"), mock.call.lookup("incident", number="ITSM-7"),
        mock.call.attachments("incident", record)]
    assert result == dict(changed=False, record=record, attachments=[])


def test_a_number_of_no_kind_that_no_record_has_is_refused_naming_the_option(double_task, backend_double):
    backend_double.lookup.return_value = None

    with pytest.raises(ItsmValidationError) as caught:
        double_task(attachment, number="ITSM-404", path="/etc/hostname")

    assert caught.value.message == (
        "number: 'ITSM-404' is not valid; no change or incident of that number exists on the double backend, and its "
        "prefix does not say which kind of record it is (CHG for change, INC for incident, PRB for problem); set kind "
        "to change, incident or problem")
    assert backend_double.add_attachment.call_count == 0
