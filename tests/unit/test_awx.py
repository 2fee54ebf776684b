# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What docs/awx.md shows, run: the execution environment, the credential types and the playbook that creates them,
the rulebook, and the submit-then-resume pattern with the event source in between (docs/awx.md, issue 17)."""

from __future__ import annotations

import asyncio
import fnmatch
import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.opsgate.itsm.extensions.eda.plugins.event_source import change_events
from ansible_collections.opsgate.itsm.plugins.module_utils._options import CONNECTION_OPTIONS, ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from tests.simulators import awx_injectors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]
BIN = os.path.dirname(sys.executable)
CREDENTIAL_TYPES = sorted(glob.glob(os.path.join(ROOT, "meta", "credential_types", "*.yml")))
ITSM_ENV = {spec["env"]: name for name, spec in CONNECTION_OPTIONS.items()}


def load(path: str):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# -- the execution environment --------------------------------------------------------------------------------------

def test_ansible_builder_renders_a_build_context_from_the_documented_definition(tmp_path):
    context = tmp_path / "context"
    subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", os.path.join(ROOT, "docs",
                    "execution-environment.yml"), "-c", str(context), "--output-filename", "Containerfile"],
                   check=True, capture_output=True, text=True, cwd=tmp_path)
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile  # the collection's meta/execution-environment.yml is read at build time
    assert load(context / "_build" / "requirements.yml") == {
        "collections": [{"name": "opsgate.itsm", "version": ">=0.2.0"}]}


def test_the_collection_names_its_python_requirements_for_ansible_builder():
    definition = load(os.path.join(ROOT, "meta", "execution-environment.yml"))
    assert definition["version"] == 3
    for name, path in definition["dependencies"].items():
        assert os.path.isfile(os.path.join(ROOT, path)), f"{name}: {path} is missing"
    build_ignore = load(os.path.join(ROOT, "galaxy.yml"))["build_ignore"]
    shipped = ["meta/execution-environment.yml", definition["dependencies"]["python"], "meta/credential_types",
               "docs/execution-environment.yml", "docs/rulebook_deploy_on_approval.yml",
               "extensions/eda/plugins/event_source/change_events.py", "playbooks/awx_credential_types.yml"]
    for path in shipped:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in build_ignore), f"{path} is not shipped"


# -- credential types ------------------------------------------------------------------------------------------------

INPUTS = {
    "servicenow_basic.yml": {"url": "https://sn.example.com", "username": "svc", "password": "pw"},
    "servicenow_oauth.yml": {"url": "https://sn.example.com", "client_id": "cid", "client_secret": "cs"},
    "servicenow_api_key.yml": {"url": "https://sn.example.com", "api_key": "key"},
    "jira_api_token.yml": {"url": "https://x.atlassian.net", "username": "me@example.com", "api_token": "tok"},
    "jira_pat.yml": {"url": "https://jira.example.com", "token": "pat"},
}
EXPECTED = {
    "servicenow_basic.yml": dict(backend="servicenow", username="svc", password="pw"),
    "servicenow_oauth.yml": dict(backend="servicenow", client_id="cid", client_secret="cs"),
    "servicenow_api_key.yml": dict(backend="servicenow", api_key="key"),
    "jira_api_token.yml": dict(backend="jsm", username="me@example.com", token="tok"),
    "jira_pat.yml": dict(backend="jsm", token="pat"),
}


def test_there_is_a_credential_type_for_each_way_to_sign_in():
    assert [os.path.basename(path) for path in CREDENTIAL_TYPES] == sorted(INPUTS)


@pytest.mark.parametrize("path", CREDENTIAL_TYPES, ids=os.path.basename)
def test_a_credential_type_injects_the_connection_options(path, tmp_path):
    definition = load(path)
    assert set(definition) == {"name", "description", "kind", "inputs", "injectors"}
    assert definition["kind"] == "cloud" and definition["name"].startswith("opsgate.itsm ")
    secret_fields = {field["id"] for field in definition["inputs"]["fields"] if field.get("secret")}
    assert secret_fields and secret_fields <= {"password", "client_secret", "api_key", "api_token", "token"}
    name = os.path.basename(path)
    env, extra_vars = awx_injectors.inject(definition, INPUTS[name], str(tmp_path))
    assert extra_vars == {}
    assert set(env) <= set(ITSM_ENV), "every injected variable is a connection option's"
    values = {ITSM_ENV[key]: value for key, value in env.items() if value != ""}
    assert values.pop("ca_path", None) is None  # no CA certificate given: nothing to point at
    assert values.pop("validate_certs") == "True"
    assert values.pop("url") == INPUTS[name]["url"]
    assert values == EXPECTED[name]


def test_a_ca_certificate_becomes_a_private_file_that_ITSM_CA_PATH_names(tmp_path):
    definition = load(os.path.join(ROOT, "meta", "credential_types", "jira_pat.yml"))
    inputs = dict(INPUTS["jira_pat.yml"], ca_cert="-----BEGIN CERTIFICATE-----\n", validate_certs=False)
    env, _extra_vars = awx_injectors.inject(definition, inputs, str(tmp_path))
    assert open(env["ITSM_CA_PATH"], encoding="utf-8").read() == "-----BEGIN CERTIFICATE-----\n"
    assert os.stat(env["ITSM_CA_PATH"]).st_mode & 0o777 == 0o600
    assert env["ITSM_VALIDATE_CERTS"] == "False"


STUB_ACTION = '''
import json, os
from ansible.plugins.action import ActionBase

class ActionModule(ActionBase):
    """Stands in for the controller's module: records the arguments it was given."""
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        with open(os.environ["CONTROLLER_STUB_LOG"], "a", encoding="utf-8") as out:
            out.write(json.dumps(self._task.args, default=str) + "\\n")
        result["changed"] = True
        return result
'''


def test_the_playbook_hands_each_definition_to_credential_type_unrendered(tmp_path):
    """No controller runs here: a stand-in ansible.controller.credential_type records what it receives."""
    stub = tmp_path / "stub" / "ansible_collections" / "ansible" / "controller" / "plugins"
    (stub / "action").mkdir(parents=True)
    (stub / "modules").mkdir()
    (stub / "action" / "credential_type.py").write_text(STUB_ACTION)
    (stub / "modules" / "credential_type.py").write_text('DOCUMENTATION = "module: credential_type"\n')
    log = tmp_path / "calls.jsonl"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{tmp_path / 'stub'}:{COLLECTIONS_BASE}", CONTROLLER_STUB_LOG=str(log),
               ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    run = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                          os.path.join(ROOT, "playbooks", "awx_credential_types.yml")],
                         env=env, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    expected = [load(path) for path in CREDENTIAL_TYPES]
    assert [dict(call, state=None) for call in calls] == [dict(definition, state=None) for definition in expected]
    assert {call["state"] for call in calls} == {"present"}
    assert calls[0]["injectors"]["env"]["ITSM_URL"] == "{{ url }}"  # AWX's to render, not the play's


# -- the rulebook ----------------------------------------------------------------------------------------------------

def test_the_rulebook_launches_the_deployment_on_approval_with_the_sources_arguments():
    [ruleset] = load(os.path.join(ROOT, "docs", "rulebook_deploy_on_approval.yml"))
    documented = yaml.safe_load(change_events.DOCUMENTATION)["options"]
    [source] = ruleset["sources"]
    arguments = source["opsgate.itsm.change_events"]
    assert set(arguments) <= set(documented)
    change_events.Selection(arguments)  # the arguments the source would accept
    rules = {rule["condition"]: rule["action"] for rule in ruleset["rules"]}
    launch = rules['event.event == "approved"']["run_job_template"]
    assert launch["job_args"]["extra_vars"]["itsm_change"] == "{{ event.record }}"
    assert launch["name"] == "Deploy web (approved change)"


# -- submit, then resume on an event ---------------------------------------------------------------------------------

def playbook(name: str, env: dict, *extra: str) -> str:
    run = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(ROOT, "playbooks", "inventory"),
                          os.path.join(ROOT, "playbooks", name), *extra], env=env, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_submit_then_resume_when_the_event_source_reports_the_approval(tmp_path):
    db = str(tmp_path / "itsm.db")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE, ITSM_BACKEND="local", ITSM_LOCAL_DB=db,
               DEMO_DIR=str(tmp_path), ANSIBLE_NOCOLOR="1", ANSIBLE_SHOW_CUSTOM_STATS="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    submitted = playbook("submit_change.yml", env)
    assert "approval requested; the deployment starts when it is approved." in submitted

    backend = build_backend(ConnectionSettings(backend="local", local_db=db, username="cab"))

    async def the_approval() -> dict:
        events = change_events.watch({"backend": "local", "local_db": db, "correlation_ids": ["deploy-1.4.2"],
                                      "interval": 0.05})
        try:
            change = backend.get("change", correlation_id="deploy-1.4.2")
            for approver in ("tech.lead", "cab.chair"):
                change = backend.decide_approval(change, approver, "approved", "ok")
            while True:
                event = await asyncio.wait_for(events.__anext__(), 20)
                if event["event"] == "approved":
                    return event
        finally:
            await events.aclose()

    event = asyncio.run(the_approval())
    backend.close()
    # The rulebook's job_args: the change as the extra variable itsm_change.
    deployed = playbook("deploy_approved_change.yml", env, "-e", json.dumps({"itsm_change": event["record"]}))
    assert f"Change {event['number']}: closed (successful)" in deployed
    assert "CUSTOM STATS" in deployed and '"verdict": "passed"' in deployed and event["number"] in deployed
    assert open(tmp_path / "www" / "index.html", encoding="utf-8").read().count("Release 1.4.2") == 1
