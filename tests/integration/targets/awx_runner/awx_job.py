# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX jobs, played by ansible-runner against the ServiceNow simulator (python awx_job.py COLLECTION_ROOT WORK).

1. The demo (playbooks/deploy_with_change.yml) as an AWX job: the credential comes from the ServiceNow API key
   credential type (meta/credential_types/servicenow_api_key.yml, its CA certificate as a file injector) as AWX
   injects it, through env/envvars; the recorder is enabled by the project's ansible.cfg only. The job succeeds;
   its events show the gate passing and, in the stats event, the gated change as the job's artifacts (itsm_change:
   number, id, state, verdict); the simulator holds the demo's change, closed, and the recorder's change of the
   job, closed; the API key shows up in no event and no artifact; the outbox warning is given once (the outbox
   is not declared durable).
2. The container goes away, outbox not durable: the instance is down for a job, so the recorder queues the run's
   records in an outbox inside the private data dir, and warns once that it does not outlive the job; the private
   data dir is deleted: nothing survives, and nothing reaches the instance when it is back.
3. The container goes away, outbox on a mounted path declared durable: no warning; after the private data dir is
   deleted the outbox still holds the records, and the next job (a new private data dir, the instance back) sends
   them, once.
4. The container goes away, outbox on PostgreSQL (``outbox`` in the project's ansible.cfg a URL without password,
   the password injected as PGPASSWORD), not declared durable: no warning (a database server is not in the
   container); after the private data dir is deleted the table still holds the records, and the next job with the
   same outbox (ITSM_OUTBOX this time) sends them, once.
   Neither the API key nor the database password shows up in any job's output.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sqlite3
import sys
import typing as t
import urllib.parse

import ansible_runner
import psycopg
import requests
import yaml

ROOT, WORK = sys.argv[1], sys.argv[2]
# The PostgreSQL server runme.sh started (setup_postgresql): the outbox's URL without password, and the password.
PG_URL, PG_PASSWORD = sys.argv[3], sys.argv[4]
sys.path.insert(0, ROOT)
COLLECTIONS_BASE = os.path.dirname(os.path.dirname(os.path.dirname(ROOT)))

from tests.simulators import awx_injectors  # noqa: E402  pylint: disable=wrong-import-position
from tests.simulators.servicenow import harness  # noqa: E402  pylint: disable=wrong-import-position

LOST_WARNING = "does not outlive the job"


def fail(message: str, *texts: str) -> t.NoReturn:
    for text in texts:
        print(text)
    sys.exit(f"FAILED: {message}")


def seed(sim) -> None:
    """The demo's assignment group, approvers and CI (playbooks/deploy_with_change.yml: they must exist there)."""
    session = requests.Session()
    session.auth = (sim.username, sim.password)  # verify on every request: REQUESTS_CA_BUNDLE would win otherwise

    def post(table: str, body: dict) -> str:
        answer = session.post(f"{sim.url}/api/now/table/{table}", json=body, verify=sim.cert, timeout=30)
        answer.raise_for_status()
        return answer.json()["result"]["sys_id"]

    group = post("sys_user_group", {"name": "Platform"})
    cab = session.get(f"{sim.url}/api/now/table/sys_user_group", params={"sysparm_query": "name=CAB Approval"},
                      verify=sim.cert, timeout=30).json()["result"][0]["sys_id"]
    for name, groups in (("tech.lead", [group]), ("cab.chair", [group, cab])):
        user = post("sys_user", {"user_name": name, "name": name.replace(".", " ").title(),
                                 "roles": "itil,approver_user", "active": "true"})
        for member_of in groups:
            post("sys_user_grmember", {"user": user, "group": member_of})
    post("cmdb_ci_linux_server", {"name": "localhost"})  # the demo's inventory host is its affected CI
    session.close()


def private_data_dir(name: str, credential_inputs: dict, job_env: dict, playbook_text: str | None = None,
                     recorder_ini: str = "") -> str:
    """A private data dir as AWX prepares it: project (the collection's playbooks, the project's ansible.cfg, with
    ``recorder_ini`` in its [opsgate_itsm_recorder] section), the credential injected into env/envvars, extra
    variables in env/extravars."""
    pdd = os.path.join(WORK, name)
    shutil.rmtree(pdd, ignore_errors=True)
    project = os.path.join(pdd, "project")
    shutil.copytree(os.path.join(ROOT, "playbooks"), project)
    with open(os.path.join(project, "ansible.cfg"), "w", encoding="utf-8") as out:
        # AWX forces its own stdout callback; the recorder is a notification callback enabled beside it.
        out.write("[defaults]\ncallbacks_enabled = opsgate.itsm.recorder\n")
        if recorder_ini:
            out.write(f"\n[opsgate_itsm_recorder]\n{recorder_ini}")
    if playbook_text is not None:
        with open(os.path.join(project, "job.yml"), "w", encoding="utf-8") as out:
            out.write(playbook_text)
    with open(os.path.join(ROOT, "meta", "credential_types", "servicenow_api_key.yml"), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    env, extra_vars = awx_injectors.inject(definition, credential_inputs, pdd)
    env.update(job_env, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE, AWX_HOST="https://awx.example.com",
               HOME=pdd, ANSIBLE_HOME=os.path.join(pdd, ".ansible"))
    with open(os.path.join(pdd, "env", "envvars"), "w", encoding="utf-8") as out:
        yaml.safe_dump(env, out)
    with open(os.path.join(pdd, "env", "extravars"), "w", encoding="utf-8") as out:
        yaml.safe_dump(dict(extra_vars), out)
    return pdd


def run_job(pdd: str, playbook: str):
    runner = ansible_runner.run(private_data_dir=pdd, playbook=playbook,
                                inventory=os.path.join(pdd, "project", "inventory"), quiet=True)
    stdout = runner.stdout.read()
    return runner, stdout, list(runner.events)


def credential(sim) -> dict:
    with open(sim.cert, encoding="utf-8") as handle:
        return {"url": sim.url, "api_key": sim.api_key, "ca_cert": handle.read()}


def outbox_items(path: str) -> list[tuple[str, str]]:
    """(type, state) of every item of the outbox ``path``: a file, or a PostgreSQL URL (read as another client)."""
    if path.startswith("postgresql://"):
        with psycopg.connect(path, password=PG_PASSWORD, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('outbox_items')").fetchone()[0] is None:
                return []
            return [tuple(row) for row in conn.execute("SELECT type, state FROM outbox_items ORDER BY seq")]
    if not os.path.exists(path):
        return []
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT type, state FROM items ORDER BY seq"))


def table(sim, name: str, query: str) -> list[dict]:
    answer = requests.get(f"{sim.url}/api/now/table/{name}", params={"sysparm_query": query},
                          auth=(sim.username, sim.password), verify=sim.cert, timeout=30)
    answer.raise_for_status()
    return answer.json()["result"]


SMALL_JOB = """---
- name: A job whose system of record is down
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Do the work
      ansible.builtin.debug:
        msg: working
"""


def main() -> None:
    state = os.path.join(WORK, "sim")
    sim = harness.start(state)
    port = urllib.parse.urlsplit(sim.url).port
    try:
        seed(sim)
        # -- 1. the demo as an AWX job ----------------------------------------------------------------------------
        pdd = private_data_dir("job-41", credential(sim), {"JOB_ID": "41", "ITSM_OUTBOX": os.path.join(WORK, "o1.db")})
        runner, stdout, events = run_job(pdd, "deploy_with_change.yml")
        if runner.status != "successful" or runner.rc != 0:
            fail(f"the demo job ended {runner.status} ({runner.rc})", stdout)
        # What the job shows (its events, its output, the job events ansible-runner stored); env/envvars holds the
        # key by design, and ansible-runner's artifacts/<ident>/command records the environment it passed.
        shown = json.dumps(events) + stdout + "".join(
            open(path, encoding="utf-8", errors="replace").read()
            for path in glob.glob(os.path.join(pdd, "artifacts", "*", "job_events", "*.json")))
        if sim.api_key in shown:
            fail("the API key shows up in the job's events or output")
        gate_ok = [e for e in events if e.get("event") == "runner_on_ok"
                   and e["event_data"].get("task") == "Check the change gate"]
        if not any(e["event_data"]["res"].get("passed") for e in gate_ok):
            fail("no job event shows the gate passing", stdout)
        [stats] = [e for e in events if e.get("event") == "playbook_on_stats"]
        artifact = stats["event_data"].get("artifact_data", {}).get("itsm_change")
        if not artifact or artifact.get("verdict") != "passed" or artifact.get("state") != "implement":
            fail(f"the stats event carries no passed itsm_change artifact: {stats['event_data']}", stdout)
        [demo_change] = table(sim, "change_request", "correlation_id=demo-deploy-1.4.2")
        if demo_change["number"] != artifact["number"] or demo_change["sys_id"] != artifact["id"]:
            fail(f"the artifact {artifact} is not the demo's change {demo_change['number']}")
        if demo_change["state"] != "3":  # closed
            fail(f"the demo's change is not closed: state {demo_change['state']}")
        recorded = re.search(r"opsgate\.itsm\.recorder: (CHG\d+) created, now implement", stdout)
        if not recorded or f"change {recorded.group(1)} closed successful" not in stdout:
            fail("the recorder did not open and close the job's change", stdout)
        [job_change] = table(sim, "change_request", f"number={recorded.group(1)}")
        if job_change["state"] != "3" or job_change["type"] != "standard":
            fail(f"the recorder's change is {job_change['type']} in state {job_change['state']}")
        if stdout.count(LOST_WARNING) != 1:
            fail("the undeclared outbox of an AWX job was not warned of exactly once", stdout)
        print(f"1. demo job: {demo_change['number']} closed, artifact {artifact}, recorder's {recorded.group(1)} closed")

        # -- 2. and 3. the instance is down, then the container goes ------------------------------------------------
        sim.stop()
        inputs = credential(sim)
        volume = os.path.join(WORK, "volume")  # what a mounted path ("paths to expose to isolated jobs") stands for
        os.makedirs(volume, exist_ok=True)
        cases = {
            "not durable": ("job-42", {"JOB_ID": "42", "ITSM_RECORDER_RETRIES": "0"}, None),
            "durable": ("job-43", {"JOB_ID": "43", "ITSM_RECORDER_RETRIES": "0", "ITSM_OUTBOX_DURABLE": "true",
                                   "ITSM_OUTBOX": os.path.join(volume, "outbox.sqlite")},
                        os.path.join(volume, "outbox.sqlite")),
            # not declared durable: a database server outlives the container without a declaration; the URL set
            # in the project's ansible.cfg (docs/awx.md), the password injected as PGPASSWORD
            "postgresql": ("job-45", {"JOB_ID": "45", "ITSM_RECORDER_RETRIES": "0", "PGPASSWORD": PG_PASSWORD},
                           PG_URL),
        }
        recorder_ini = {"postgresql": f"outbox = {PG_URL}\n"}
        numbered = {"not durable": "2", "durable": "3", "postgresql": "4"}
        survivors = {}
        for case, (name, job_env, durable_path) in cases.items():
            pdd = private_data_dir(name, inputs, job_env, SMALL_JOB, recorder_ini.get(case, ""))
            outbox = durable_path or os.path.join(pdd, ".ansible", "opsgate_itsm", "outbox.sqlite")
            runner, stdout, _events = run_job(pdd, "job.yml")
            if runner.status != "successful":
                fail(f"{case}: an ITSM outage failed the job", stdout)
            if PG_PASSWORD in stdout or inputs["api_key"] in stdout:
                fail(f"{case}: a secret shows up in the job's output", stdout)
            queued = outbox_items(outbox)
            if not queued or {state for _type, state in queued} != {"pending"}:
                fail(f"{case}: the run's records were not queued in {outbox}: {queued}", stdout)
            warned = stdout.count(LOST_WARNING)
            if warned != (0 if durable_path else 1):
                fail(f"{case}: the outbox warning was given {warned} times", stdout)
            shutil.rmtree(pdd)  # the job's container and its private data dir are gone
            survivors[case] = (queued, outbox_items(outbox))
            print(f"{numbered[case]}. {case}: {len(queued)} records queued, "
                  f"warned {warned} time(s); after the container went: {len(survivors[case][1])} survive")
        if survivors["not durable"][1]:
            fail(f"an outbox inside the private data dir survived its deletion: {survivors['not durable']}")
        if survivors["durable"][1] != survivors["durable"][0]:
            fail(f"the durable outbox lost records: {survivors['durable']}")
        if survivors["postgresql"][1] != survivors["postgresql"][0]:
            fail(f"the PostgreSQL outbox lost records: {survivors['postgresql']}")

        # The instance is back on the same URL; the next job finds the durable outbox and sends what it holds.
        sim = harness.start(state, port=port)
        before = len(table(sim, "change_request", "correlation_idSTARTSWITHansible-run-"))
        pdd = private_data_dir("job-44", credential(sim), {"JOB_ID": "44", "ITSM_OUTBOX_DURABLE": "true",
                                                           "ITSM_OUTBOX": os.path.join(volume, "outbox.sqlite")}, SMALL_JOB)
        runner, stdout, _events = run_job(pdd, "job.yml")
        if runner.status != "successful" or "queued records from the outbox" not in stdout:
            fail("the next job did not send the durable outbox's records", stdout)
        left = [item for item in outbox_items(os.path.join(volume, "outbox.sqlite")) if item[1] != "delivered"]
        if left:
            fail(f"records still wait in the durable outbox: {left}", stdout)
        after = table(sim, "change_request", "correlation_idSTARTSWITHansible-run-")
        print(f"   the next job sent them: {len(after) - before} more recorder changes on the instance "
              f"(job 43's and job 44's)")
        if len(after) - before != 2:
            fail(f"expected job 43's change (from the outbox) and job 44's own, found {len(after) - before} new")

        # The next job with the PostgreSQL outbox (another container, the same database) sends job 45's records.
        pdd = private_data_dir("job-46", credential(sim), {"JOB_ID": "46", "ITSM_OUTBOX": PG_URL,
                                                           "PGPASSWORD": PG_PASSWORD}, SMALL_JOB)
        runner, stdout, _events = run_job(pdd, "job.yml")
        if runner.status != "successful" or "queued records from the outbox" not in stdout:
            fail("the next job did not send the PostgreSQL outbox's records", stdout)
        if LOST_WARNING in stdout or PG_PASSWORD in stdout:
            fail("the job with a PostgreSQL outbox was warned of it, or shows its password", stdout)
        left = [item for item in outbox_items(PG_URL) if item[1] != "delivered"]
        if left:
            fail(f"records still wait in the PostgreSQL outbox: {left}", stdout)
        last = table(sim, "change_request", "correlation_idSTARTSWITHansible-run-")
        print(f"   the next job sent them: {len(last) - len(after)} more recorder changes on the instance "
              f"(job 45's and job 46's)")
        if len(last) - len(after) != 2:
            fail(f"expected job 45's change (from the outbox) and job 46's own, found {len(last) - len(after)} new")
    finally:
        sim.stop()
    print("awx_runner: all checks passed")


if __name__ == "__main__":
    main()
