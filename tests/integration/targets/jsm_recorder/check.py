"""Assert what the recorder and the incident_on_failure role left on the JSM simulator, read through Jira's REST API.

python check.py URL CA_FILE AUTHORIZATION '{"changes": ["ITSM-1", "ITSM-9"], "recurrences": 1}'
python check.py URL CA_FILE AUTHORIZATION '{"changes": ["ITSM-1"], "recurrences": 0, "midrun": true}'

Every issue of the project is read by key (ITSM-1, ITSM-2, ... until the first 404), so Cloud's lagging search
index plays no part in what is checked. urllib with an SSL context that trusts the simulator's certificate; the
reader is the admin (AUTHORIZATION, the header's value), not the code under test.

- each change in "changes" (the ones the runs were logged under): Failed (closed unsuccessful, as the
  opsgate.record property says), with exactly one internal recap comment naming every host's counts;
- the incidents of the recorder (two signatures: a failed host, an unreachable host) and of the role (one
  signature shared by two hosts): three in all, each caused by (a Causes link from) the first change; after
  "recurrences" more runs, each carries that many "Recurrence #" comments;
- the secret (hunter2) appears nowhere.
"""

import json
import re
import ssl
import sys
import urllib.error
import urllib.request

URL, CA, AUTHORIZATION, EXPECTED = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
CONTEXT = ssl.create_default_context(cafile=CA)
ERRORS: list[str] = []
if EXPECTED.get("midrun"):  # midrun.yml: one host, one failure while the site was down
    PLAY = "A recorded run whose Jira site goes down"
    RECAP_LINES = (r"wint000002: 1 0 1 0 0 0 0", r"Fail while the site is down", r"password=\*{8}")
    SUMMARIES = {f"Ansible task 'Fail while the site is down' failed on wint000002 ({PLAY})"}
else:  # run.yml
    PLAY = "A recorded run against Jira Service Management"
    # host: ok changed failed unreachable skipped rescued ignored (ok and skipped count the role's own tasks)
    RECAP_LINES = (r"lnxp000001: \d+ 1 0 0 \d+ 1 0", r"wint000002: \d+ 0 1 0 \d+ 1 0", r"lnxd000003: 0 0 0 1 0 0 0",
                   r"password=\*{8}")
    SUMMARIES = {f"Ansible task 'Fail on wint000002 with a secret' failed on wint000002 ({PLAY})",
                 f"Ansible task 'Ping every host' unreachable on lnxd000003 ({PLAY})",
                 f"Ansible task 'Install the release' failed on lnxp000001 and 1 more host(s) ({PLAY})"}


def get(path: str) -> dict | None:
    request = urllib.request.Request(f"{URL}/rest/api/2/{path}",
                                     headers={"Authorization": AUTHORIZATION, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, context=CONTEXT, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def issues() -> list[dict]:
    found, number = [], 1
    while True:
        issue = get(f"issue/ITSM-{number}?fields=summary,status,issuetype,issuelinks,description"
                    "&properties=opsgate.correlation_id,opsgate.record")
        if issue is None:
            return found
        issue["comments"] = [c.get("body") or "" for c in (get(f"issue/ITSM-{number}/comment") or {})["comments"]]
        found.append(issue)
        number += 1


def check(condition: bool, message: str) -> None:
    if not condition:
        ERRORS.append(message)


def caused_by(issue: dict) -> list[str]:
    """The keys of the issues this one is caused by (Causes links seen from the caused side)."""
    return [link["inwardIssue"]["key"] for link in issue["fields"].get("issuelinks") or []
            if link["type"]["name"] == "Causes" and "inwardIssue" in link]


everything = issues()
by_key = {issue["key"]: issue for issue in everything}
for key in EXPECTED["changes"]:
    change = by_key.get(key)
    check(change is not None, f"no change {key}")
    if change is None:
        continue
    kept = (change.get("properties") or {}).get("opsgate.record") or {}
    check(change["fields"]["status"]["name"] == "Failed", f"{key} is {change['fields']['status']['name']}, not Failed")
    check(kept.get("close_code") == "unsuccessful", f"{key} close code {kept.get('close_code')!r}")
    recaps = [text for text in change["comments"] if text.startswith("Ansible run finished: ")]
    check(len(recaps) == 1, f"{key} has {len(recaps)} recap comments, expected 1: {change['comments']}")
    recap = recaps[0] if recaps else ""
    check(recap.startswith("Ansible run finished: unsuccessful"), f"{key} recap: {recap[:80]!r}")
    for line in RECAP_LINES:
        check(re.search(line, recap) is not None, f"{key} recap lacks {line!r}: {recap!r}")

incidents = [issue for issue in everything if issue["fields"]["issuetype"]["name"] == "Incident"]
summaries = {issue["fields"]["summary"] for issue in incidents}
check(len(incidents) == len(SUMMARIES), f"{len(incidents)} incidents, expected {len(SUMMARIES)}: {sorted(summaries)}")
expected = SUMMARIES
check(summaries == expected, f"incident summaries {sorted(summaries)}, expected {sorted(expected)}")
first = EXPECTED["changes"][0]
for incident in incidents:
    key = incident["key"]
    cid = ((incident.get("properties") or {}).get("opsgate.correlation_id") or {}).get("value") or ""
    check(cid.startswith("ansible-failure-"), f"{key} correlation id {cid!r}")
    check(caused_by(incident) == [first], f"{key} caused by {caused_by(incident)}, expected [{first}]")
    check(incident["fields"]["status"]["name"] == "Open", f"{key} is {incident['fields']['status']['name']}")
    notes = [text for text in incident["comments"] if text.startswith("Recurrence #")]
    check(len(notes) == EXPECTED["recurrences"], f"{key} has {len(notes)} recurrence notes: {incident['comments']}")
for issue in everything:
    text = json.dumps(issue)
    check("hunter2" not in text, f"{issue['key']} holds the secret")
if ERRORS:
    sys.exit("FAILED: " + "; ".join(ERRORS))
print(f"ok: {len(everything)} issues; changes {EXPECTED['changes']}; incidents {[i['key'] for i in incidents]}")
