"""Seed data: users and tokens, groups, the ITSM service project with its workflows, custom fields with
per-site ids, request types, Assets (servers with ``--seed-assets N``) and services.

Custom field ids are drawn from a random base stored in the state directory, so two sites differ and
clients must discover fields by name (jira-api.md §12), while one site keeps its ids across restarts.
"""

from __future__ import annotations

import hashlib
import random
import secrets

from .store import Store

PROJECT = {"id": "10000", "key": "ITSM", "name": "IT Service Management", "projectTypeKey": "service_desk"}
SERVICE_DESK_ID = "1"
USERS = [  # name, display name, API token (basic auth secret), Data Center personal access token, groups
    ("admin", "Site Administrator", "admin-token", "admin-pat", ["Network", "Service Desk", "jira-administrators"]),
    ("cab.approver", "CAB Approver", "cab-token", "cab-pat", ["CAB Approval"]),
    # the people `make demo` and the README's tour name (approver_logins.yml holds their logins)
    ("tech.lead", "Technical Lead", "tech-lead-token", "tech-lead-pat", ["Platform", "Network"]),
    ("cab.chair", "CAB Chair", "cab-chair-token", "cab-chair-pat", ["CAB Approval"]),
    # the service account `make demo`'s playbook connects as (its module_defaults name it)
    ("deploy-bot", "Deploy Bot", "deploy-bot-token", "deploy-bot-pat", ["Service Desk"]),
]
GROUPS = ["CAB Approval", "Network", "Platform", "Service Desk", "jira-administrators"]
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
RESOLUTIONS = [("10000", "Done"), ("10001", "Won't Do"), ("10002", "Declined")]
LEVELS = ["Critical", "High", "Medium", "Low"]
CUSTOM_FIELDS = [  # name, kind, options
    ("Change type", "select", ["Standard", "Normal", "Emergency"]),
    ("Change reason", "select", ["Repair", "Upgrade", "Maintenance", "New functionality", "Other"]),
    ("Change risk", "select", LEVELS),
    ("Urgency", "select", LEVELS),
    ("Impact", "select", ["Extensive / Widespread", "Significant / Large", "Moderate / Limited",
                          "Minor / Localized"]),
    ("Implementation plan", "textarea", None), ("Backout plan", "textarea", None), ("Test plan", "textarea", None),
    ("Planned start", "datetime", None), ("Planned end", "datetime", None),
    ("Affected services", "services", None), ("Affected objects", "assets", None),
    ("Request Type", "requesttype", None), ("Approvals", "approvals", None),
]
# Statuses mirror the ITIL states (README: the mapping table); categories are Jira's new/indeterminate/done.
STATUSES = [("Open", "new"), ("Planning", "indeterminate"), ("Authorize", "indeterminate"),
            ("Awaiting implementation", "indeterminate"), ("Implementing", "indeterminate"),
            ("Review", "indeterminate"), ("Completed", "done"), ("Failed", "done"), ("Declined", "done"),
            ("Canceled", "done"), ("Work in progress", "indeterminate"), ("Pending", "indeterminate"),
            ("Resolved", "done"), ("Closed", "done"),
            # the customised change workflow's own (--change-workflow custom); every site has them, as Jira's
            # statuses are global, but only that workflow uses them
            ("Draft", "new"), ("Assessment", "indeterminate"), ("CAB review", "indeterminate"),
            ("Ready", "indeterminate"), ("In progress", "indeterminate"), ("Verification", "indeterminate"),
            ("Done", "done"), ("Rolled back", "done"), ("Rejected", "done"), ("Withdrawn", "done"),
            # the problem workflow's own (issue 19); it shares Open, Work in progress, Resolved, Closed and Canceled
            ("Under review", "indeterminate"), ("Under investigation", "indeterminate")]
# workflow: initial status, transitions (id, name, from statuses (empty: global), to), approval step
WORKFLOWS = {
    "change": ("Open", [
        ("11", "Plan", ["Open"], "Planning"),
        # the route JSM sites add for pre-approved (standard) changes, which need no approval
        ("15", "Pre-approved: ready to implement", ["Open"], "Awaiting implementation"),
        ("21", "Request approval", ["Planning"], "Authorize"),
        # a change sent back from Planning (its technical approval declined), as sites configure it
        ("25", "Back to open", ["Planning"], "Open"),
        ("31", "Implement", ["Awaiting implementation"], "Implementing"),
        ("41", "Review", ["Implementing"], "Review"),
        ("51", "Complete", ["Review"], "Completed"),
        ("61", "Mark as failed", ["Implementing", "Review"], "Failed"),
        ("71", "Cancel", ["Open", "Planning", "Authorize", "Awaiting implementation", "Implementing"], "Canceled"),
        ("81", "Reopen", ["Declined"], "Open"),
    ], {"status": "Authorize", "approved": "Awaiting implementation", "declined": "Declined",
        "group": "CAB Approval", "name": "Change approval"}),
    "incident": ("Open", [
        ("111", "Start work", ["Open", "Pending"], "Work in progress"),
        ("121", "Pending", ["Open", "Work in progress"], "Pending"),
        ("131", "Resolve", ["Open", "Work in progress", "Pending"], "Resolved"),
        ("141", "Close", ["Resolved"], "Closed"),
        ("151", "Reopen", ["Resolved"], "Work in progress"),
        ("161", "Cancel", ["Open", "Work in progress", "Pending"], "Canceled"),
    ], None),
    # problem management (issue 19): review, investigate the root cause, fix, resolve, close; cancel before it is
    # resolved; re-analyse a fix, a resolved or a closed problem
    "problem": ("Open", [
        ("301", "Review", ["Open"], "Under review"),
        ("311", "Investigate", ["Under review"], "Under investigation"),
        ("321", "Start fix", ["Under investigation"], "Work in progress"),
        ("331", "Resolve", ["Under investigation", "Work in progress"], "Resolved"),
        ("341", "Close", ["Under investigation", "Work in progress", "Resolved"], "Closed"),
        ("351", "Cancel", ["Open", "Under review", "Under investigation", "Work in progress"], "Canceled"),
        ("361", "Re-analyse", ["Work in progress", "Resolved", "Closed", "Canceled"], "Under investigation"),
    ], None),
}
# A site whose administrators customised the change workflow: other status names, a Rework transition out of
# Rejected. The default mapping cannot read it; the example mapping of docs/jsm-mapping.md (a user's jsm_mapping)
# can (tests/unit/plugins/module_utils/backends/jsm/test_user_mapping.py).
CUSTOM_CHANGE_WORKFLOW = ("Draft", [
    ("201", "Submit", ["Draft"], "Assessment"),
    ("205", "Back to draft", ["Assessment"], "Draft"),
    ("211", "Send to CAB", ["Assessment"], "CAB review"),
    ("221", "Start", ["Ready"], "In progress"),
    ("231", "Verify", ["In progress"], "Verification"),
    ("241", "Done", ["Verification"], "Done"),
    ("251", "Roll back", ["In progress", "Verification"], "Rolled back"),
    ("261", "Withdraw", ["Draft", "Assessment", "CAB review", "Ready", "In progress"], "Withdrawn"),
    ("271", "Rework", ["Rejected"], "Draft"),
], {"status": "CAB review", "approved": "Ready", "declined": "Rejected", "group": "CAB Approval",
    "name": "CAB approval"})
CHANGE_WORKFLOWS = ("standard", "custom")
ISSUE_TYPES = [("10100", "Change", "change", "A change to the IT environment."),
               ("10101", "Incident", "incident", "An unplanned interruption of a service."),
               ("10102", "Problem", "problem", "The cause of one or more incidents.")]
REQUEST_TYPES = [  # id, name, issue type, fields (by name; summary required)
    ("10", "Request a change", "10100", ["summary", "description", "Change type", "Change reason", "Change risk",
                                         "Urgency", "Impact", "Implementation plan", "Backout plan", "Test plan",
                                         "Planned start", "Planned end", "Affected services", "Affected objects"]),
    ("11", "Report an incident", "10101", ["summary", "description", "priority", "Urgency", "Impact",
                                           "Affected services", "Affected objects"]),
    ("12", "Investigate a problem", "10102", ["summary", "description", "priority", "Urgency", "Impact",
                                              "Affected services", "Affected objects"]),
]
OBJECT_TYPES = [  # id, name, attributes beyond Key/Name/Created/Updated
    ("1", "Server", ["Hostname", "Operating System", "Environment", "IP Address", "Status", "Location",
                     "Support group"]),
    ("2", "Virtual Machine", ["Hostname", "Operating System", "Environment", "IP Address", "Status"]),
    ("3", "Service", ["Description", "Owner group"]),
    # the object types the backend contract suite's CIs (ci_class linux_server / win_server) are written to
    ("4", "Linux Server", ["FQDN", "IP Address", "Environment", "Operational status", "OS"]),
    ("5", "Win Server", ["FQDN", "IP Address", "Environment", "Operational status", "OS"]),
]
SERVICES = [("Online Banking", "Network"), ("Payroll", "Service Desk"), ("Email", "Service Desk"),
            ("CRM", "Service Desk"), ("Web Portal", "Network")]
OSES = ["Linux Red Hat", "Linux Ubuntu", "Windows 2019 Standard", "Linux SuSE", "Windows 2022 Standard"]
ENVIRONMENTS = ["Production", "Production", "Test", "Development"]
LOCATIONS = ["London", "Paris", "Frankfurt", "New York", "San Diego", "Singapore", "Sydney", "Tokyo"]
SUPPORT_GROUPS = ["Network", "Service Desk", "Database"]


def account_id(name: str) -> str:
    """A Cloud-style 24-hex account id, stable per user name."""
    return "5b10" + hashlib.md5(f"opsgate-jsm:{name}".encode()).hexdigest()[:20]


def seed(store: Store, flavour: str, seed_assets: int, now: str, change_workflow: str = "standard") -> None:
    store.set_meta("flavour", flavour)
    store.set_meta("change_workflow", change_workflow)
    site = secrets.token_hex(8)
    store.set_meta("site", site)
    store.set_meta("workspace", hashlib.md5(f"ws:{site}".encode()).hexdigest()[:8] + "-ws")
    rng = random.Random(site)
    for name in GROUPS:
        store.put("group", name, {"name": name, "groupId": hashlib.md5(name.encode()).hexdigest()})
    for name, display, token, pat, groups in USERS:
        store.put("user", name, {"name": name, "key": name, "accountId": account_id(name), "displayName": display,
                                 "emailAddress": f"{name}@opsgate.example", "token": token, "pat": pat,
                                 "groups": groups, "timeZone": "UTC"})
    for index, (name, category) in enumerate(STATUSES):
        store.put("status", str(10200 + index), {"id": str(10200 + index), "name": name, "category": category})
    status_id = {s["name"]: s["id"] for s in store.all("status")}
    workflows = dict(WORKFLOWS, **({"change": CUSTOM_CHANGE_WORKFLOW} if change_workflow == "custom" else {}))
    for name, (initial, transitions, approval) in workflows.items():
        store.put("workflow", name, {
            "name": name, "initial": status_id[initial],
            "transitions": [{"id": tid, "name": tname, "from": [status_id[s] for s in sources], "to": status_id[to]}
                            for tid, tname, sources, to in transitions],
            "approval": approval and {**approval,
                                      **{k: status_id[approval[k]] for k in ("status", "approved", "declined")}}})
    for type_id, name, workflow, description in ISSUE_TYPES:
        store.put("issuetype", type_id, {"id": type_id, "name": name, "workflow": workflow,
                                         "description": description})
    store.put("project", PROJECT["id"], {**PROJECT, "issuetypes": [t[0] for t in ISSUE_TYPES]})
    base = 10000 + rng.randrange(0, 900) * 10
    order = list(range(len(CUSTOM_FIELDS)))
    rng.shuffle(order)
    for slot, index in enumerate(order):
        name, kind, options = CUSTOM_FIELDS[index]
        number = base + slot
        store.put("field", f"customfield_{number}", {
            "id": f"customfield_{number}", "name": name, "kind": kind, "number": number,
            "options": [{"id": str(number * 10 + i), "value": v} for i, v in enumerate(options or [])] or None})
    field_id = {f["name"]: f["id"] for f in store.all("field")}
    store.put("servicedesk", SERVICE_DESK_ID, {"id": SERVICE_DESK_ID, "projectId": PROJECT["id"],
                                               "projectKey": PROJECT["key"], "projectName": PROJECT["name"]})
    for type_id, name, issue_type, fields in REQUEST_TYPES:
        store.put("requesttype", type_id, {
            "id": type_id, "name": name, "issueTypeId": issue_type, "serviceDeskId": SERVICE_DESK_ID,
            "description": name, "fields": [field_id.get(f, f) for f in fields]})
    _seed_assets(store, seed_assets, now)


def _seed_assets(store: Store, servers: int, now: str) -> None:
    next_attr = 100
    for type_id, name, extra in OBJECT_TYPES:
        attributes = []
        for attr in ["Key", "Name", "Created", "Updated", *extra]:
            attributes.append({"id": str(next_attr), "name": attr, "label": attr == "Name"})
            next_attr += 1
        store.put("objecttype", type_id, {"id": type_id, "name": name, "objectSchemaId": "1",
                                          "attributes": attributes})
    store.put("objectschema", "1", {"id": "1", "name": "IT Assets", "objectSchemaKey": "ITAM"})
    docs = []
    for index, (name, group) in enumerate(SERVICES, start=1):
        docs.append(object_doc(str(index), "3", {"Name": name, "Description": f"{name} service",
                                                 "Owner group": group}, now))
    for i in range(1, servers + 1):
        os_name = OSES[i % 5]
        env = ENVIRONMENTS[i % 4]
        name = ("win" if os_name.startswith("Windows") else "lnx") + env[0].lower() + f"{i:06d}"
        status = "Retired" if i % 40 == 0 else "In Maintenance" if i % 25 == 0 else "Active"
        docs.append(object_doc(str(len(SERVICES) + i), "1", {
            "Name": name, "Hostname": f"{name}.opsgate.example", "Operating System": os_name, "Environment": env,
            "IP Address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", "Status": status,
            "Location": LOCATIONS[i % len(LOCATIONS)], "Support group": SUPPORT_GROUPS[i % 3]}, now))
    store.put_many("object", [(d["id"], d["objectTypeId"], d) for d in docs])
    store.set_counter("object", len(docs) + 1)


def object_doc(object_id: str, type_id: str, values: dict, now: str) -> dict:
    values = {**values, "Key": f"ITAM-{object_id}", "Created": now, "Updated": now}
    return {"id": object_id, "objectTypeId": type_id, "objectKey": f"ITAM-{object_id}", "values": values,
            "created": now, "updated": now}
