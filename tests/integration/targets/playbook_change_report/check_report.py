"""Render the report in headless chromium and compare what the browser shows with the records.

python check_report.py <local_db | servicenow> <report.html> <workdir>
"""

import datetime as dt
import html.parser
import os
import shutil
import subprocess
import sys

from store import REPORT_DAYS, in_report, open_store

db, report, work = sys.argv[1:4]
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if browser is None:
    message = "chromium is not installed; run tests/ci/install_chromium.sh"
    if os.environ.get("CI", "").lower() == "true":
        sys.exit("FAILED: " + message)
    print("SKIPPED (not CI): " + message)
    sys.exit(0)

flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={work}/profile"]
dom = subprocess.run([browser, *flags, "--dump-dom", "file://" + os.path.abspath(report)], check=True,
                     capture_output=True, text=True, timeout=120).stdout
shot = os.path.join(work, "report.png")
subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1600",
                "file://" + os.path.abspath(report)], check=True, capture_output=True, timeout=120)


class Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures, self.windows, self.incidents, self.bars, self.approvals = {}, [], [], {}, []
        self.counts = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") in ("change-count", "incident-count"):
            self.counts[attrs["id"]] = int(attrs["data-value"])
        if "data-figure" in attrs:
            self.figures[attrs["data-figure"]] = attrs["data-value"]
        if tag == "rect" and attrs.get("class") == "window":
            self.windows.append(attrs["data-number"])
        if tag == "rect" and attrs.get("class") == "approval":
            self.approvals.append(attrs["data-number"])
        if tag == "rect" and attrs.get("class") == "bar":
            self.bars[attrs["data-outcome"]] = int(attrs["data-value"])
        if tag == "circle" and attrs.get("class") == "incident":
            self.incidents.append((attrs["data-number"], attrs["data-change"]))


seen = Collect()
seen.feed(dom)

# The same figures, computed here straight from the store: every record, then those of the report's period.
itsm = open_store(db)
stored = {kind: list(itsm.find(kind, {})) for kind in ("change", "incident")}
changes, incidents = ([record for record in stored[kind] if in_report(record)] for kind in ("change", "incident"))
closed = [c for c in changes if c["state"] == "closed"]
caused = {i["caused_by"] for i in incidents if i["caused_by"]}


def stamp(text):
    # resolved_at is a raw backend field: ServiceNow's "YYYY-MM-DD HH:MM:SS" (UTC) as well as ISO 8601.
    return dt.datetime.strptime(text[:19].replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")


def pct(part):
    return "%.1f" % (100.0 * part / len(closed)) if closed else "n/a"


restore = [(stamp(i["fields"].get("resolved_at") or i["closed_at"]) - stamp(i["opened_at"])).total_seconds()
           for i in incidents if i["state"] in ("resolved", "closed")]
# runme.sh leaves the playbook's default (approvals read) unless REPORT_APPROVALS says otherwise.
records_have_approvals = os.environ.get("REPORT_APPROVALS", "true") == "true"
lead, decided = [], []
for c in changes if records_have_approvals else []:
    approvals = itsm.approvals(c)
    decided += [c["number"] for a in approvals if a["decided_at"]]
    approved = sorted(a["decided_at"] for a in approvals if a["state"] == "approved")
    if approved:
        lead.append((stamp(approved[-1]) - stamp(c["opened_at"])).total_seconds())
expected = {
    "change_success_rate": pct(sum(c["close_code"] == "successful" for c in closed)),
    "change_failure_rate": pct(sum(c["close_code"] == "unsuccessful" or c["number"] in caused for c in closed)),
    "approval_lead_time_hours": "%.2f" % (sum(lead) / len(lead) / 3600) if lead else "n/a",
    "mean_time_to_restore_hours": "%.2f" % (sum(restore) / len(restore) / 3600) if restore else "n/a",
}
errors = []
if len(changes) == len(stored["change"]) or len(incidents) == len(stored["incident"]):
    errors.append(f"the store holds no change or no incident older than {REPORT_DAYS} days: nothing proves the "
                  "report leaves old records out")
if seen.counts != {"change-count": len(changes), "incident-count": len(incidents)}:
    errors.append(f"counts {seen.counts} != {len(changes)} changes and {len(incidents)} incidents opened in the period")
if records_have_approvals and seen.figures.get("approval_lead_time_hours", "n/a") == "n/a":
    errors.append("the approval lead time is n/a, yet seed.py approved a normal change")
if seen.figures != expected:
    errors.append(f"figures {seen.figures} != records {expected}")
if sorted(seen.windows) != sorted(c["number"] for c in changes):
    errors.append(f"timeline windows {seen.windows}")
if sorted(seen.approvals) != sorted(decided):
    errors.append(f"timeline approvals {seen.approvals} != decided approvals {decided}")
if sorted(seen.incidents) != sorted((i["number"], i["caused_by"]) for i in incidents if i["caused_by"]):
    errors.append(f"timeline incidents {seen.incidents}")
codes = [c["close_code"] for c in closed]
bars = {"successful": codes.count("successful"), "successful_issues": codes.count("successful_issues"),
        "unsuccessful": codes.count("unsuccessful"), "open": len(changes) - len(closed)}
if seen.bars != bars:
    errors.append(f"outcome bars {seen.bars} != {bars}")
with open(shot, "rb") as stream:
    png = stream.read()
if not png.startswith(b"\x89PNG") or len(png) < 10000:
    errors.append(f"the screenshot is not a rendered page ({len(png)} bytes)")
if errors:
    sys.exit("FAILED: " + "; ".join(errors))
print(f"ok: chromium rendered the report; figures {seen.figures} match the {len(changes)} changes and "
      f"{len(incidents)} incidents of the last {REPORT_DAYS} days (of {len(stored['change'])} and "
      f"{len(stored['incident'])} stored)")
