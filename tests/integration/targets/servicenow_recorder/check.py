"""Assert what the recorder and the roles left on the ServiceNow simulator, read through its Table API.

python check.py URL CA_FILE recorder '{"changes": 2, "recurrences": 1, "change_named_by": "number"}'
python check.py URL CA_FILE roles '{"clean": "sn-roles-clean", "rescued": "sn-roles-rescued", "hosts": [...], ...}'
python check.py URL CA_FILE outbox '{"path": "outbox.sqlite", "change": "CHG0000001"}'
python check.py URL CA_FILE midrun '{"change": "CHG0000001"}'

urllib with an SSL context that trusts the simulator's certificate (requests would let REQUESTS_CA_BUNDLE
override the CA file). Reads as admin (SN_PASSWORD): the reader is not the code under test.
"""

import base64
import contextlib
import json
import os
import sqlite3
import ssl
import sys
import urllib.parse
import urllib.request

URL, CA, MODE, EXPECTED = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
CONTEXT = ssl.create_default_context(cafile=CA)
AUTH = "Basic " + base64.b64encode(f"admin:{os.environ['SN_PASSWORD']}".encode()).decode()
ERRORS: list[str] = []


def table(name: str, query: str, fields: str) -> list[dict]:
    """Rows as {field: display value}, plus {field + '.value': raw value}."""
    params = urllib.parse.urlencode({"sysparm_query": query, "sysparm_fields": fields, "sysparm_display_value": "all",
                                     "sysparm_exclude_reference_link": "true"})
    request = urllib.request.Request(f"{URL}/api/now/table/{name}?{params}",
                                     headers={"Authorization": AUTH, "Accept": "application/json"})
    with urllib.request.urlopen(request, context=CONTEXT, timeout=30) as answer:
        rows = json.load(answer)["result"]
    flat = []
    for row in rows:
        record = {}
        for field, value in row.items():
            record[field], record[field + ".value"] = value["display_value"], value["value"]
        flat.append(record)
    return flat


def notes(record: dict) -> list[str]:
    """The work notes of a record, oldest first, from sys_journal_field."""
    rows = table("sys_journal_field", f"element_id={record['sys_id.value']}^element=work_notes^ORDERBYsys_created_on",
                 "value,sys_created_on")
    return [row["value"] for row in rows]


def check(condition: bool, message: str) -> None:
    if not condition:
        ERRORS.append(message)


def run_change(change: dict, playbook: str, recap_lines: tuple[str, ...]) -> None:
    """A run's standard change from the template, closed unsuccessful, whose one work note is the recap."""
    label = change["number"]
    check(change["type.value"] == "standard", f"{label} is a {change['type.value']} change, not standard")
    check(change["std_change_producer_version"] == "Patch Linux servers - 1",
          f"{label} was not made from the template: {change['std_change_producer_version']!r}")
    check(change["state"] == "Closed", f"{label} is {change['state']}, not Closed")
    check(change["close_code.value"] == "unsuccessful", f"{label} closed {change['close_code.value']!r}")
    check(change["short_description"] == f"Ansible run: {playbook}", f"{label}: {change['short_description']!r}")
    check("unsuccessful" in change["close_notes"], f"{label} close notes: {change['close_notes']!r}")
    texts = notes(change)
    check(len(texts) == 1, f"{label} has {len(texts)} work notes, expected the one recap")
    recap = texts[0] if texts else ""
    check(recap.startswith("Ansible run finished: unsuccessful"), f"{label} recap: {recap[:80]!r}")
    for line in (*recap_lines, "[opsgate.itsm recorder attempt "):
        check(line in recap, f"{label} recap lacks {line!r}")
    check("hunter2" not in recap, f"{label} recap leaks the secret")


def run_incident(incident: dict, summary: str, urgency: str, caused_by: str | None, reference: str | None) -> None:
    """A new incident of one failure signature, caused by the run's change and naming it as ``reference``."""
    label = incident["number"]
    check(incident["short_description"] == summary, f"{label} summary {incident['short_description']!r}")
    check(incident["urgency.value"] == urgency, f"{label} urgency {incident['urgency.value']!r}, expected {urgency}")
    check(incident["state.value"] == "1", f"{label} is {incident['state']}, not New")
    check(incident["caused_by"] == caused_by, f"{label} caused_by {incident['caused_by']!r}, expected {caused_by}")
    check(f"Change: {reference}\n" in incident["description"],
          f"{label} description does not name the change as {reference}")


def recorder() -> str:
    """The runs' standard changes and the incidents of their two failure signatures."""
    changes = table("change_request", "correlation_idSTARTSWITHansible-run-^ORDERBYnumber",
                    "sys_id,number,type,state,close_code,close_notes,correlation_id,short_description,"
                    "std_change_producer_version")
    incidents = table("incident", "correlation_idSTARTSWITHansible-failure-^ORDERBYnumber",
                      "sys_id,number,state,correlation_id,caused_by,cmdb_ci,urgency,short_description,description")
    check(len(changes) == EXPECTED["changes"], f"{len(changes)} recorder changes, expected {EXPECTED['changes']}")
    check(len({c["correlation_id"] for c in changes}) == len(changes), "each run has its own change correlation id")
    for change in changes:
        run_change(change, "run.yml", ("lnxp000001: 2 0 0 0 1 1 0", "wint000002: 2 0 1 0 0 1 0",
                                       "lnxd000003: 0 0 0 1 0 0 0", "password=********"))

    check(len(incidents) == 2, f"{len(incidents)} recorder incidents, expected 2 (one per failure signature)")
    check(len({i["correlation_id"] for i in incidents}) == len(incidents), "one incident per correlation id")
    first = changes[0]["number"] if changes else None
    # A record queued while the instance was down names the change by its correlation id (no number yet).
    reference = changes[0][EXPECTED.get("change_named_by", "number")] if changes else None
    later = {c["number"] for c in changes[1:]}
    play = "A recorded run against ServiceNow"
    expected = {"wint000002": (f"Ansible task 'Fail on wint000002 with a secret' failed on wint000002 ({play})", "1"),
                "lnxd000003": (f"Ansible task 'Ping every host' unreachable on lnxd000003 ({play})", "2")}
    check(sorted(i["cmdb_ci"] for i in incidents) == sorted(expected), f"incident CIs {[i['cmdb_ci'] for i in incidents]}")
    for incident in incidents:
        label = incident["number"]
        run_incident(incident, *expected.get(incident["cmdb_ci"], ("?", "?")), first, reference)
        texts = notes(incident)
        recurrences = [text for text in texts if text.startswith("Recurrence #")]
        check(len(recurrences) == EXPECTED["recurrences"],
              f"{label} has {len(recurrences)} recurrence notes, expected {EXPECTED['recurrences']}")
        check(len(texts) == len(recurrences), f"{label} has notes other than recurrences: {texts}")
        check(sorted(text.split(":")[0] for text in recurrences)
              == [f"Recurrence #{n}" for n in range(2, 2 + len(recurrences))], f"{label} recurrence numbering {texts}")
        named = {number for number in later if any(f"(change {number})" in text for text in recurrences)}
        check(named == later, f"{label} recurrence notes name changes {sorted(named)}, expected {sorted(later)}")
        check("hunter2" not in incident["description"] + "".join(texts), f"{label} leaks the secret")
    return f"{len(changes)} changes {[c['number'] for c in changes]}, {len(incidents)} incidents"


def roles() -> str:
    """Two plays of roles.yml: a clean deployment and one with a failure the rescue recorded."""
    out = []
    # The clean play runs the gate once before the approval: its refusal is noted on the change before the verdict.
    for play, code, incidents_expected, refusals in (("clean", "successful", 0, 1),
                                                     ("rescued", EXPECTED["rescued_code"], 1, 0)):
        correlation_id = EXPECTED[play]
        changes = table("change_request", f"correlation_id={correlation_id}",
                        "sys_id,number,type,state,close_code,cmdb_ci,approval,assignment_group")
        check(len(changes) == 1, f"{len(changes)} changes with correlation id {correlation_id}, expected 1")
        if not changes:
            continue
        change = changes[0]
        label = change["number"]
        check(change["type.value"] == "normal", f"{label} is {change['type.value']}, not normal")
        check(change["state"] == "Closed", f"{label} is {change['state']}, not Closed")
        check(change["close_code.value"] == code, f"{label} closed {change['close_code.value']!r}, expected {code}")
        check(change["approval.value"] == "approved", f"{label} approval {change['approval.value']!r}")
        check(change["assignment_group"] == "Network", f"{label} group {change['assignment_group']!r}")
        affected = sorted(row["ci_item"] for row in table("task_ci", f"task={change['sys_id.value']}", "ci_item"))
        check(affected == EXPECTED["hosts"], f"{label} affected CIs {affected}, expected {EXPECTED['hosts']}")
        approvals = table("sysapproval_approver", f"sysapproval={change['sys_id.value']}", "approver,state")
        approved = sorted(row["approver"] for row in approvals if row["state.value"] == "approved")
        check(approved == ["CAB Approver", "System Administrator"], f"{label} approved by {approved}")
        texts = notes(change)
        check(len(texts) == 1 + refusals,
              f"{label} has {len(texts)} work notes, expected {refusals} gate refusal(s), then its verdict: {texts}")
        for refusal in texts[:-1]:
            check(refusal.startswith("Change gate refused at ") and "approval: waiting for approval" in refusal,
                  f"{label} gate refusal note {refusal!r}")
        verdict = texts[-1] if texts else ""
        for part in ("Change gate passed at ", "moving to implement", "approval: approved by admin, cab.approver",
                     f"scope: all {len(EXPECTED['hosts'])} hosts are affected CIs"):
            check(part in verdict, f"{label} gate note lacks {part!r}: {verdict!r}")
        linked = table("incident", f"caused_by={change['sys_id.value']}",
                       "sys_id,number,cmdb_ci,correlation_id,state,short_description")
        check(len(linked) == incidents_expected,
              f"{len(linked)} incidents caused by {label}, expected {incidents_expected}")
        for incident in linked:
            check(incident["cmdb_ci"] == EXPECTED["failed_host"],
                  f"{incident['number']} CI {incident['cmdb_ci']!r}, expected {EXPECTED['failed_host']}")
            check(incident["correlation_id"].startswith("ansible-failure-"),
                  f"{incident['number']} correlation id {incident['correlation_id']!r}")
            check(incident["state.value"] == "1", f"{incident['number']} is {incident['state']}, not New")
            summary = f"Ansible task 'Install the release' failed on {EXPECTED['failed_host']} ({EXPECTED['play']})"
            check(incident["short_description"] == summary,
                  f"{incident['number']} summary {incident['short_description']!r}, expected {summary!r}")
        out.append(f"{play}: {label} {change['close_code.value']}, {len(linked)} incidents")
    return "; ".join(out)


def outbox() -> str:
    """What the mid-run outage left in the outbox: the end of the change (recap note and close), then the incident
    caused by the change the run opened. Read straight from the SQLite file, read-only."""
    uri = "file:" + urllib.parse.quote(EXPECTED["path"]) + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute("SELECT type, state, payload FROM items ORDER BY seq").fetchall()
    check([(kind, state) for kind, state, _payload in rows] == [("change", "pending"), ("incident", "pending")],
          f"outbox items {[(kind, state) for kind, state, _payload in rows]}, expected a pending change then incident")
    items = {kind: json.loads(payload) for kind, _state, payload in rows}
    change, incident = items.get("change", {}), items.get("incident", {})
    check((change.get("end_state"), change.get("close_code")) == ("closed", "unsuccessful"),
          f"the queued change ends {change.get('end_state')!r} {change.get('close_code')!r}")
    check((change.get("note") or "").startswith("Ansible run finished: unsuccessful"),
          f"the queued change has no recap note: {(change.get('note') or '')[:80]!r}")
    check((incident.get("change") or {}).get("number") == EXPECTED["change"],
          f"the queued incident names change {incident.get('change')!r}, expected {EXPECTED['change']}")
    check(all("hunter2" not in payload for _kind, _state, payload in rows), "the outbox holds the unredacted secret")
    return f"{len(rows)} items queued {[kind for kind, _state, _payload in rows]}"


def midrun() -> str:
    """The run whose instance went down partway: the change it opened is the one closed, one incident caused by it."""
    number = EXPECTED["change"]
    changes = table("change_request", "correlation_idSTARTSWITHansible-run-",
                    "sys_id,number,type,state,close_code,close_notes,short_description,std_change_producer_version")
    numbers = [change["number"] for change in changes]
    check(numbers == [number], f"recorder changes {numbers}, expected only {number}, the one opened at the start")
    for change in changes:
        run_change(change, "midrun.yml", ("wint000002: 1 0 1 0 0 0 0", "Fail while the instance is down",
                                          "password=********"))
    incidents = table("incident", "correlation_idSTARTSWITHansible-failure-",
                      "sys_id,number,state,caused_by,cmdb_ci,urgency,short_description,description")
    check(len(incidents) == 1, f"{len(incidents)} recorder incidents, expected 1")
    summary = ("Ansible task 'Fail while the instance is down' failed on wint000002 "
               "(A recorded run whose ServiceNow instance goes down)")
    for incident in incidents:
        run_incident(incident, summary, "1", number, number)
        check(incident["cmdb_ci"] == "wint000002", f"{incident['number']} CI {incident['cmdb_ci']!r}")
        check(not notes(incident), f"{incident['number']} has work notes: {notes(incident)}")
        check("hunter2" not in incident["description"], f"{incident['number']} leaks the secret")
    return f"{number} closed, incidents {[i['number'] for i in incidents]}"


summary = {"recorder": recorder, "roles": roles, "outbox": outbox, "midrun": midrun}[MODE]()
if ERRORS:
    sys.exit(f"FAILED ({MODE}): " + "; ".join(ERRORS))
print(f"ok ({MODE}): {summary}")
