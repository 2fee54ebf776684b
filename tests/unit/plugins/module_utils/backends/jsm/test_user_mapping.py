# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customised workflow is configuration, not code: the ``jsm_mapping`` connection option, the mapping example of
docs/jsm-mapping.md (loaded from the document itself) and a site whose change workflow was customised (the JSM
simulator with ``--change-workflow custom``), where the default mapping fails and the user's mapping works."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmSettingsError, ItsmTransitionError, ItsmUnexpectedResponseError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import mapping as jsm_mapping
from tests.simulators.jsm import harness
from tests.unit.plugins.module_utils.backends import jsm_sim

DOC = os.path.join(os.path.dirname(__file__), *[".."] * 6, "docs", "jsm-mapping.md")


def documented_example() -> str:
    """The one complete mapping docs/jsm-mapping.md shows (its first ```yaml block), as the reader copies it."""
    with open(DOC, encoding="utf-8") as handle:
        blocks = re.findall(r"^```yaml\n(.*?)^```$", handle.read(), flags=re.M | re.S)
    assert blocks, "docs/jsm-mapping.md shows no yaml example"
    return blocks[0]


@pytest.fixture(scope="module")
def example_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("mapping") / "jsm_mapping.yml"
    path.write_text(documented_example(), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def custom_site(tmp_path_factory):
    """A Data Center site whose change workflow its administrators customised (seed.CUSTOM_CHANGE_WORKFLOW)."""
    running = harness.start(str(tmp_path_factory.mktemp("jsm-custom")), "--change-workflow", "custom",
                            flavour="datacenter")
    yield running
    assert running.stop() == 0


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def connect(custom_site, warnings):
    built: list[JsmBackend] = []

    def make(mapping: str | None = None, as_approver: bool = False, login: tuple[str, str] | None = None) -> JsmBackend:
        settings = dataclasses.replace(jsm_sim.settings(custom_site), jsm_mapping=mapping)
        login = jsm_sim.APPROVER if as_approver else login
        if login:
            settings = dataclasses.replace(settings, username=login[0], token=login[1])
        built.append(JsmBackend(settings, warn=warnings.append, sleep=lambda seconds: None))
        return built[-1]
    yield make
    for backend in built:
        backend.close()


def new_change(backend: JsmBackend) -> dict:
    return backend.create("change", {"short_description": f"custom workflow {uuid.uuid4().hex[:8]}",
                                     "risk": "high", "assignment_group": "Network"})


# -- the option and the file -------------------------------------------------------------------------------

def test_the_documented_example_is_a_valid_mapping_of_every_state(example_path):
    mapping = jsm_mapping.load_mapping(example_path)
    change = mapping.of("change")
    assert set(change.statuses) == set(jsm_mapping.STATES["change"])
    assert (change.rejection_status, change.reopen_after_rejection) == ("Rejected", True)
    assert mapping.source == example_path


def test_the_option_is_read_from_the_settings_and_a_bad_file_is_refused_naming_it(tmp_path, custom_site):
    broken = tmp_path / "broken.yml"
    broken.write_text(documented_example().replace("    review: [Verification]\n", ""), encoding="utf-8")
    settings = dataclasses.replace(jsm_sim.settings(custom_site), jsm_mapping=str(broken))
    with pytest.raises(ItsmSettingsError) as error:
        build_backend(settings)
    assert error.value.message.startswith(f"jsm_mapping: {str(broken)!r} is not valid; change.statuses: 'review' "
                                          "is a required property")
    assert error.value.details == {"option": "jsm_mapping", "value": str(broken)}
    with pytest.raises(ItsmSettingsError, match=r"^jsm_mapping: '.*missing.yml' is not valid; the file cannot be "
                                                r"read \(No such file or directory\); give the path of a YAML"):
        build_backend(dataclasses.replace(settings, jsm_mapping=str(tmp_path / "missing.yml")))


def test_a_rejection_status_the_mapping_does_not_map_is_refused(example_path):
    with open(example_path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    data["change"]["rejection"]["status"] = "Turned down"
    with pytest.raises(ItsmSettingsError, match=r"change.rejection.status: 'Turned down' is none of the change's "
                                                r"statuses"):
        jsm_mapping.build_mapping(data, "site.yml")


def _module(custom_site, tmp_path, mapping: str, number: str) -> dict:
    """change_request_info run by ansible on localhost, the mapping given as ITSM_JSM_MAPPING; its JSON result."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ITSM_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"], ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_NOCOLOR="1", ITSM_BACKEND="jsm",
               ITSM_URL=custom_site.url, ITSM_USERNAME=custom_site.username, ITSM_TOKEN=custom_site.token,
               ITSM_CA_PATH=custom_site.cert, ITSM_JSM_MAPPING=mapping)
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-m",
                           "opsgate.itsm.change_request_info", "-a", f"number={number}"], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    status, result = done.stdout.split(" => ", 1)  # "localhost | SUCCESS => {...}", "localhost | FAILED! => {...}"
    return dict(json.loads(result), status=status.split(" | ")[-1])


def test_a_task_reads_the_mapping_from_the_environment(connect, custom_site, example_path, tmp_path):
    number = new_change(connect(example_path))["number"]
    found = _module(custom_site, tmp_path, example_path, number)
    assert found["status"] == "SUCCESS"
    assert [(record["number"], record["state"]) for record in found["records"]] == [(number, "new")]
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\nproject: ITSM\n", encoding="utf-8")
    refused = _module(custom_site, tmp_path, str(broken), number)
    assert refused["status"] == "FAILED!" and "records" not in refused
    assert refused["msg"] == (f"jsm_mapping: {str(broken)!r} is not valid; (top level): 'change' is a required property; "
                              "(top level): 'incident' is a required property (the format: docs/jsm-mapping.md)")


def test_the_settings_carry_the_option_from_a_plugin():
    settings = ConnectionSettings.from_plugin({"backend": "jsm", "jsm_mapping": "/etc/itsm/jsm.yml"}.get)
    assert settings.jsm_mapping == "/etc/itsm/jsm.yml"


# -- a customised workflow: the default mapping fails, the user's works -----------------------------------------

def test_the_default_mapping_cannot_read_the_customised_workflow(connect):
    backend = connect()
    change = new_change(backend)  # Jira answers a create without the status: the first read meets it
    with pytest.raises(ItsmUnexpectedResponseError) as error:
        backend.get("change", id=change["id"])
    message = error.value.message
    assert re.match(r"change ITSM-\d+ is in the JSM status 'Draft', which the mapping maps to no change state; "
                    r"it maps: Open \(new\), Planning \(assess\)", message)
    assert message.endswith("add the status under change.statuses of the mapping")


def test_the_users_mapping_walks_the_customised_workflow_to_closed(connect, example_path):
    backend = connect(example_path)
    change = new_change(backend)
    assert (change["state"], change["risk"]) == ("new", "high")
    for state in ("assess", "authorize"):
        change = backend.transition("change", change, state)
        assert change["state"] == state
    approver = connect(example_path, as_approver=True)
    who = approver.approvals(change)[0]["approver"]
    change = approver.decide_approval(change, who, "approved", "fine")
    assert (change["state"], change["approval"]) == ("scheduled", "approved")
    for state in ("implement", "review"):
        change = backend.transition("change", change, state)
    closed = backend.transition("change", change, "closed", {"close_code": "unsuccessful", "close_notes": "rolled"})
    assert closed["state"] == "closed"
    status = backend.client.issue(closed["id"], fields=["status"])["fields"]["status"]["name"]
    assert status == "Rolled back"  # the close code's status, change.close_statuses


def test_a_missing_transition_lists_what_the_customised_workflow_offers(connect, example_path):
    backend = connect(example_path)
    change = new_change(backend)
    with pytest.raises(ItsmTransitionError) as error:
        backend.transition("change", change, "scheduled")
    assert error.value.message == (
        f"change {change['number']}: the JSM workflow offers no transition from 'Draft' to scheduled (status Ready); "
        "it offers: Submit -> Assessment (assess), Withdraw -> Withdrawn (canceled)")
    assert backend.get("change", id=change["id"])["state"] == "new"  # nothing written


# -- rejection ------------------------------------------------------------------------------------------------

def _awaiting_cab(connect, mapping: str):
    backend = connect(mapping)
    change = backend.transition("change", backend.transition("change", new_change(backend), "assess"), "authorize")
    approver = connect(mapping, as_approver=True)
    return backend, approver, change, approver.approvals(change)[0]["approver"]


def test_a_rejected_change_is_reworked_to_new_as_on_the_other_backends(connect, example_path):
    backend, approver, change, who = _awaiting_cab(connect, example_path)
    rejected = approver.decide_approval(change, who, "rejected", "no backout plan")
    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    again = backend.get("change", id=change["id"])
    assert (again["state"], again["approval"]) == ("new", "rejected")
    assert backend.client.issue(change["id"], fields=["status"])["fields"]["status"]["name"] == "Draft"
    # asked again, the change awaits a new decision
    asked = backend.transition("change", backend.transition("change", again, "assess"), "authorize")
    assert (asked["state"], asked["approval"]) == ("authorize", "requested")


def test_without_reopen_a_rejected_change_stays_in_its_rejection_status(connect, example_path, tmp_path):
    stay = tmp_path / "stay.yml"
    stay.write_text(documented_example().replace("    reopen: true\n", "    reopen: false\n"), encoding="utf-8")
    backend, approver, change, who = _awaiting_cab(connect, str(stay))
    rejected = approver.decide_approval(change, who, "rejected", "no backout plan")
    assert (rejected["state"], rejected["approval"]) == ("canceled", "rejected")
    assert backend.client.issue(change["id"], fields=["status"])["fields"]["status"]["name"] == "Rejected"


def test_check_mode_predicts_where_a_rejection_ends(connect, example_path, tmp_path):
    backend, approver, change, who = _awaiting_cab(connect, example_path)
    predicted = approver.decide_approval(change, who, "rejected", "no backout plan", check_mode=True)
    assert (predicted["state"], predicted["approval"]) == ("new", "rejected")
    assert backend.get("change", id=change["id"])["state"] == "authorize"  # nothing written
    stay = tmp_path / "stay.yml"
    stay.write_text(documented_example().replace("    reopen: true\n", "    reopen: false\n"), encoding="utf-8")
    staying = connect(str(stay), as_approver=True)
    predicted = staying.decide_approval(change, who, "rejected", "no backout plan", check_mode=True)
    assert (predicted["state"], predicted["approval"]) == ("canceled", "rejected")


def test_a_workflow_with_no_way_back_leaves_the_rejected_change_canceled_with_a_warning(connect, example_path,
                                                                                        warnings, monkeypatch):
    _backend, approver, change, who = _awaiting_cab(connect, example_path)
    offered = approver.client.transitions
    monkeypatch.setattr(approver.client, "transitions",
                        lambda key: [move for move in offered(key) if move["name"] != "Rework"])
    rejected = approver.decide_approval(change, who, "rejected", "no backout plan")
    assert (rejected["state"], rejected["approval"]) == ("canceled", "rejected")
    [warning] = warnings
    assert warning.startswith(f"{change['number']} was declined and stays Rejected (canceled): change "
                              f"{change['number']}: the JSM workflow offers no transition from ")
    assert warning.endswith("to new (status Draft); it offers: nothing; set change.rejection.reopen to false in the "
                            "jsm_mapping file if this workflow keeps declined changes there")


def test_a_rejected_technical_approval_goes_back_to_draft(connect, example_path):
    """The first stage (in assess) is decided by the workflow's own transition: Back to draft, as the mapping maps."""
    backend = connect(example_path)
    change = backend.transition("change", new_change(backend), "assess")
    lead = connect(example_path, login=jsm_sim.STAGE_APPROVERS[0])
    rejected = lead.decide_approval(change, jsm_sim.STAGE_APPROVERS[0][0], "rejected", "no backout plan")
    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    assert backend.client.issue(change["id"], fields=["status"])["fields"]["status"]["name"] == "Draft"


def test_the_default_mapping_reopens_a_change_the_cab_declined(jsm):
    """The standard template (default mapping): the CAB's step declines the change into Declined, and the backend
    takes Reopen back to Open, so the change ends in new with approval rejected, read back the same."""
    def as_user(login=None) -> JsmBackend:
        settings = jsm_sim.settings(jsm)
        if login:
            settings = dataclasses.replace(settings, username=login[0], token=login[1])
        return JsmBackend(settings, sleep=lambda seconds: None)

    admin, lead, cab = as_user(), as_user(jsm_sim.STAGE_APPROVERS[0]), as_user(jsm_sim.STAGE_APPROVERS[1])
    try:
        change = admin.transition("change", new_change(admin), "assess")
        change = lead.decide_approval(change, jsm_sim.STAGE_APPROVERS[0][0], "approved", "fine")
        assert change["state"] == "authorize"
        rejected = cab.decide_approval(change, jsm_sim.STAGE_APPROVERS[1][0], "rejected", "no backout plan")
        assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
        again = admin.get("change", id=change["id"])
        assert (again["state"], again["approval"]) == ("new", "rejected")
        assert admin.client.issue(change["id"], fields=["status"])["fields"]["status"]["name"] == "Open"
    finally:
        for backend in (admin, lead, cab):
            backend.close()
