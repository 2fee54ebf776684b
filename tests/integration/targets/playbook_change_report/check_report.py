"""Render the report in headless chromium and compare what the browser shows with figures computed here.

python check_report.py <local_db | servicenow> <report.html> <workdir>

The expected figures are computed in this file from the records the store holds (every change and incident, with
its approvals and notes), by the report's definitions, without the change_metrics filter; a few are also known by
construction of seed.py (HAND). The page is rendered at 1280 and 390 px wide: neither may overflow horizontally
(the document's scrollWidth beyond its clientWidth), and the check is shown to catch an overflow. Accessibility
basics: every table has a caption and column headers with scope, row headers with scope; every chart is an image
with a text label; every comparison says better or worse in words; outcomes differ by pattern, not colour alone.
"""

import datetime as dt
import html
import html.parser
import os
import re
import shutil
import statistics
import subprocess
import sys

from store import open_store

# The pipeline values are read with their own reader, the contract of module_utils/_pipeline.py (not the filter's).
from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline

db, report, work = sys.argv[1:4]
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if browser is None:
    message = "chromium is not installed; run tests/ci/install_chromium.sh"
    if os.environ.get("CI", "").lower() == "true":
        sys.exit("FAILED: " + message)
    print("SKIPPED (not CI): " + message)
    sys.exit(0)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         f"--user-data-dir={work}/profile"]
errors = []


def chromium(*args):
    return subprocess.run([browser, *FLAGS, *args], check=True, capture_output=True, text=True, timeout=120).stdout


# -- what the browser shows --------------------------------------------------------------------------------------

# The page inside a frame exactly ``width`` px wide (headless chromium lays out no window narrower than 500 px), and
# a script that writes the frame's layout widths into the DOM (the report itself has no script).
MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" style="border:0;width:{width}px;height:900px" srcdoc="{page}"></iframe>
<script>
var frame = document.getElementById("page");
frame.addEventListener("load", function () {{
  var root = frame.contentDocument.documentElement;
  document.body.setAttribute("data-scroll-width", root.scrollWidth);
  document.body.setAttribute("data-client-width", root.clientWidth);
}});
</script></body></html>"""


def overflow(page_html, width, name):
    """(scrollWidth, clientWidth) of the page laid out ``width`` px wide, and a screenshot of it that wide."""
    measured = os.path.join(work, f"{name}-{width}.html")
    with open(measured, "w", encoding="utf-8") as stream:
        stream.write(MEASURE.format(width=width, page=html.escape(page_html, quote=True)))
    dom = chromium(f"--window-size={max(width, 500) + 20},900", "--dump-dom", "file://" + measured)
    widths = [re.search(rf'data-{what}-width="(\d+)"', dom) for what in ("scroll", "client")]
    if not all(widths):
        errors.append(f"the {width} px layout could not be measured")
        return 0, 0
    scroll, client = (int(found.group(1)) for found in widths)
    if client != width:
        errors.append(f"the frame measured {client} px wide, not {width}")
    shot = os.path.join(work, f"{name}-{width}.png")
    page_file = os.path.join(work, f"{name}-{width}-page.html")
    with open(page_file, "w", encoding="utf-8") as stream:
        stream.write(page_html)
    chromium(f"--window-size={width},1600", f"--screenshot={shot}", "file://" + page_file)
    with open(shot, "rb") as stream:
        png = stream.read()
    if not png.startswith(b"\x89PNG") or len(png) < 10000:
        errors.append(f"the {width} px screenshot is not a rendered page ({len(png)} bytes)")
    return scroll, client


with open(report, encoding="utf-8") as stream:
    page = stream.read()
for width in (1280, 390):
    scroll, client = overflow(page, width, "report")
    if scroll > client:
        errors.append(f"at {width} px the report overflows: scrollWidth {scroll} > clientWidth {client}")
# The overflow check itself catches an overflow: the same page with one element wider than the window.
scroll, client = overflow(page.replace("<main>", '<main><div style="width:2000px">wide</div>'), 390, "wide")
if scroll <= client:
    errors.append(f"the overflow check missed a 2000 px element at 390 px ({scroll} <= {client})")

dom = chromium("--window-size=1280,900", "--dump-dom", "file://" + os.path.abspath(report))


class Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.text_of = [], {}
        self.values, self.windows, self.approvals, self.incidents, self.bars = {}, [], [], [], {}
        self.week_points, self.rows, self.refusals, self.repeats = {}, {}, {}, {}
        self.period, self.counts, self.runs, self.changes_texts = {}, {}, None, {}
        self.tables, self.svgs, self.fills, self.row_ctx = [], [], {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = None
        if attrs.get("id") == "period":
            self.period = attrs
        if attrs.get("id") == "counts":
            self.counts = {"changes": int(attrs["data-changes"]), "incidents": int(attrs["data-incidents"])}
        if "data-measure" in attrs and "data-period" in attrs:
            if attrs["data-measure"] == "runs_without_change":
                self.runs = (int(attrs["data-value"]), int(attrs["data-runs"]))
                key = ("runs_text",)
            else:
                self.values[(attrs["data-measure"], attrs["data-period"])] = attrs["data-value"]
                key = ("text", attrs["data-measure"], attrs["data-period"])
        if "data-change" in attrs and tag == "span":
            key = ("change", attrs["data-change"])
        if tag == "rect" and attrs.get("class") == "window":
            self.windows.append(attrs["data-number"])
            self.fills[attrs["data-number"]] = (attrs["data-outcome"], attrs["fill"])
        if tag == "rect" and attrs.get("class") == "approval":
            self.approvals.append(attrs["data-number"])
        if tag == "circle" and attrs.get("class") == "incident":
            self.incidents.append((attrs["data-number"], attrs["data-change"]))
        if tag == "span" and "data-outcome" in attrs:
            self.bars[attrs["data-outcome"]] = int(attrs["data-value"])
        if attrs.get("class") == "week-point":
            self.week_points[(attrs["data-chart"], int(attrs["data-week"]))] = attrs["data-value"]
        if tag == "table":
            self.tables.append({"id": attrs.get("id"), "caption": False, "col": 0, "scopeless": 0, "rows": 0,
                                "rowheads": 0})
        if tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        if tag == "th" and self.tables:
            scope = attrs.get("scope")
            self.tables[-1]["col" if scope == "col" else "rowheads" if scope == "row" else "scopeless"] += 1
        if tag == "tr" and self.tables:
            self.row_ctx = (self.tables[-1]["id"], attrs.get("data-name") or attrs.get("data-reason")
                            or attrs.get("data-signature"))
        if tag == "td" and "data-measure" in attrs and self.row_ctx:
            self.rows[(self.row_ctx[0], self.row_ctx[1], attrs["data-measure"])] = attrs["data-value"]
        if tag == "td" and "data-value" in attrs and self.row_ctx and self.row_ctx[0] == "refusals":
            self.refusals.setdefault(self.row_ctx[1], int(attrs["data-value"]))
        if tag == "td" and self.row_ctx and self.row_ctx[0] == "repeat-failures":
            if "data-value" in attrs:
                self.repeats.setdefault(self.row_ctx[1], {})["occurrences"] = int(attrs["data-value"])
            if "data-candidate" in attrs:
                self.repeats.setdefault(self.row_ctx[1], {})["candidate"] = attrs["data-candidate"] == "true"
        if tag == "svg":
            self.svgs.append((attrs.get("role"), attrs.get("aria-label")))
        self.stack.append((tag, key))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _tag, key in reversed(self.stack):
            if key is not None:
                self.text_of[key] = self.text_of.get(key, "") + data
                break


seen = Collect()
seen.feed(dom)

# -- the same figures, computed here from the store --------------------------------------------------------------


def stamp(text):
    """ISO 8601 with Z, or ServiceNow's raw "YYYY-MM-DD HH:MM:SS" (UTC)."""
    if not text:
        return None
    return dt.datetime.strptime(text[:19].replace(" ", "T"), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)


since, until, before = (stamp(seen.period.get(name)) for name in ("data-since", "data-until", "data-previous-since"))
if not since or abs((dt.datetime.now(dt.timezone.utc) - until).total_seconds()) > 600 \
        or until - since != dt.timedelta(days=30) or since - before != dt.timedelta(days=30):
    sys.exit(f"FAILED: the report's period is not the last 30 days and the 30 before: {seen.period}")

itsm = open_store(db)
stored = {kind: list(itsm.find(kind, {})) for kind in ("change", "incident")}
for change in stored["change"]:
    change["approvals"] = itsm.approvals(change)
for kind in ("change", "incident"):
    for record in stored[kind]:
        record["notes"] = itsm.journal(kind, record)


def in_range(record, start, end):
    return start <= stamp(record["opened_at"]) < end


def select(kind, start, end):
    return [r for r in stored[kind] if in_range(r, start, end)]


PERIODS = {"current": (since, until + dt.timedelta(seconds=1)), "previous": (before, since)}
caused = {i["caused_by"] for i in stored["incident"] if i["caused_by"]}
incident_numbers = {i["number"] for i in stored["incident"]}


def duration(seconds):
    if seconds is None:
        return "none"
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return short(seconds / 60) + " min"
    if seconds < 86400:
        return short(seconds / 3600) + " h"
    days = seconds / 86400
    return short(days) + (" day" if short(days) == "1" else " days")


def short(number):
    text = f"{number:.1f}" if number < 10 else f"{number:.0f}"
    return text[:-2] if text.endswith(".0") else text


def pct(part, whole):
    return (100.0 * part / whole, f"{100.0 * part / whole:.1f} %") if whole else (None, "none")


def median_text(times):
    return (statistics.median(times), duration(statistics.median(times))) if times else (None, "none")


def gate_moved(change):
    for note in change["notes"]:
        match = re.match(r"Change gate passed at (\S+); moving to implement\.", note["text"] or "")
        if match and note["field"] == "work_notes":
            return stamp(match.group(1))
    return None


def figures(changes, incidents, days):
    """Every measure of these records: key -> (value, text)."""
    closed = [c for c in changes if c["state"] == "closed"]
    lead = []
    for c in changes:
        end = gate_moved(c) or (stamp(c["closed_at"]) if c["state"] == "closed" else None)
        start = stamp((pipeline.read(c) or {}).get("commit_time")) or stamp(c["opened_at"])
        if end is not None:
            lead.append((end - start).total_seconds())
    recovery = []
    for i in incidents:
        end = stamp(i["fields"].get("resolved_at") or i["closed_at"])
        if i["caused_by"] and i["state"] in ("resolved", "closed") and end:
            recovery.append((end - stamp(i["opened_at"])).total_seconds())
    waits = []
    for c in changes:
        decided = [stamp(a["decided_at"]) for a in c["approvals"] if a["decided_at"]]
        if decided:
            waits.append((max(decided) - stamp(c["opened_at"])).total_seconds())
    rework = []
    for c in closed:
        words = set(re.split(r"[^\w-]+", " ".join(c[f] or "" for f in ("short_description", "description", "justification"))))
        if c["type"] == "emergency" and words & incident_numbers:
            rework.append(c)
    asked = [c for c in changes if c["type"] != "standard" and (c["approval"] != "not_requested" or c["approvals"])]
    rejected = [c for c in asked if c["approval"] == "rejected" or any(a["state"] == "rejected" for a in c["approvals"])]
    rate = len(closed) / (days / 7.0)
    return {
        "deployment_frequency": (rate, f"{short(rate) if rate else '0'} a week") if changes else (None, "none"),
        "change_lead_time": median_text(lead),
        "recovery_time": median_text(recovery),
        "change_fail_rate": pct(sum(c["close_code"] == "unsuccessful" or c["number"] in caused for c in closed),
                                len(closed)),
        "rework_rate": pct(len(rework), len(closed)),
        "approval_wait": median_text(waits),
        "emergency_share": pct(sum(c["type"] == "emergency" for c in changes), len(changes)),
        "rejected_share": pct(len(rejected), len(asked)),
        "unsuccessful_share": pct(sum(c["close_code"] == "unsuccessful" for c in closed), len(closed)),
    }


period = {name: (select("change", *bounds), select("incident", *bounds)) for name, bounds in PERIODS.items()}
expected = {name: figures(*period[name], 30) for name in PERIODS}
for (measure, name), value in sorted(seen.values.items()):
    want_value, want_text = expected[name][measure]
    shown_text = (seen.text_of.get(("text", measure, name)) or "").strip()
    if (want_value is None) != (value == "") or (want_value is not None and abs(float(value) - want_value) > 1e-3):
        errors.append(f"{measure} ({name}): the report has {value!r}, the records give {want_value!r}")
    if shown_text != want_text:
        errors.append(f"{measure} ({name}): the report shows {shown_text!r}, expected {want_text!r}")
if {key for key, _name in seen.values} != set(expected["current"]):
    errors.append(f"measures shown {sorted({key for key, _period in seen.values})} != {sorted(expected['current'])}")
for measure in expected["current"]:
    change = (seen.text_of.get(("change", measure)) or "").strip()
    now_value, then_value = expected["current"][measure][0], expected["previous"][measure][0]
    if now_value is not None and then_value is not None and now_value != then_value \
            and not re.search(r"\((better|worse)\)$", change):
        errors.append(f"{measure}: the comparison {change!r} does not say better or worse in words")

# Known by construction of seed.py (the same on every backend).
HAND = {"change_fail_rate": "28.6 %", "rework_rate": "14.3 %", "emergency_share": "12.5 %", "rejected_share": "33.3 %",
        "unsuccessful_share": "14.3 %", "change_lead_time": "1.2 h", "recovery_time": "1.5 h",
        "approval_wait": "2.4 h", "deployment_frequency": "1.6 a week"}
for measure, text in HAND.items():
    if (seen.text_of.get(("text", measure, "current")) or "").strip() != text:
        errors.append(f"{measure}: seed.py makes it {text}, the report shows {seen.text_of.get(('text', measure, 'current'))!r}")
if seen.counts != {"changes": len(period["current"][0]), "incidents": len(period["current"][1])} \
        or seen.counts != {"changes": 8, "incidents": 4}:
    errors.append(f"counts {seen.counts}: expected 8 changes and 4 incidents opened in the period")
if len(stored["change"]) == len(period["current"][0]) + len(period["previous"][0]):
    errors.append("the store holds no change older than both periods: nothing proves the report leaves it out")

# By week: the five DORA charts, one point per week of the period.
weeks = []
start = since
while start < until:
    weeks.append((start, min(start + dt.timedelta(days=7), until)))
    start += dt.timedelta(days=7)
for index, (start, end) in enumerate(weeks):
    stop = end + dt.timedelta(seconds=1) if index == len(weeks) - 1 else end
    changes, incidents = select("change", start, stop), select("incident", start, stop)
    week = figures(changes, incidents, (end - start).total_seconds() / 86400)
    week["deployment_frequency"] = (None, str(sum(c["state"] == "closed" for c in changes)))
    for measure in ("deployment_frequency", "change_lead_time", "recovery_time", "change_fail_rate", "rework_rate"):
        if seen.week_points.get((measure, index)) != week[measure][1]:
            errors.append(f"week {index} {measure}: the chart shows {seen.week_points.get((measure, index))!r}, "
                          f"the records give {week[measure][1]!r}")

# By assignment group and by CI system (seed.py: GitHub Actions, GitLab CI, Jenkins and changes from no pipeline).
CI_NAMES = {"github_actions": "GitHub Actions", "gitlab_ci": "GitLab CI", "jenkins": "Jenkins"}
for table, name_of in (("by-group", lambda c: c["assignment_group"] or "(no group)"),
                       ("by-ci", lambda c: CI_NAMES.get((pipeline.read(c) or {}).get("system"), "(no pipeline)"))):
    for name in {name_of(c) for changes, _incidents in period.values() for c in changes}:
        changes = [c for c in period["current"][0] if name_of(c) == name]
        numbers = {c["number"] for c in changes}
        group = figures(changes, [i for i in period["current"][1] if i["caused_by"] in numbers], 30)
        for measure in ("deployment_frequency", "change_lead_time", "recovery_time", "change_fail_rate",
                        "rework_rate"):
            if seen.rows.get((table, name, measure)) != group[measure][1]:
                errors.append(f"{table} {name} {measure}: {seen.rows.get((table, name, measure))!r} != "
                              f"{group[measure][1]!r}")

# Gate refusals, runs without a gate, repeat failures.
refusals = {reason: 0 for reason in ("approval", "state", "window", "freeze", "scope")}
for change in period["current"][0]:
    for note in change["notes"]:
        match = re.match(r"Change gate refused at \S+: ([\w, ]+)\.", note["text"] or "")
        for reason in match.group(1).split(", ") if match else ():
            refusals[reason] += 1
if seen.refusals != refusals or refusals != {"approval": 1, "state": 1, "window": 1, "freeze": 0, "scope": 0}:
    errors.append(f"refusals {seen.refusals} != {refusals}")
runs = [c for c in period["current"][0] if (c["correlation_id"] or "").startswith("ansible-run-")]
ungated = [c for c in runs if (pipeline.read(c) or {}).get("gate_used") is False]
if seen.runs != (len(ungated), len(runs)) or seen.runs != (1, 2) \
        or (seen.text_of.get(("runs_text",)) or "").strip() != "1 of 2 recorder runs":
    errors.append(f"runs without a gate {seen.runs} {seen.text_of.get(('runs_text',))!r} != ({len(ungated)}, {len(runs)})")
repeats = {}
for i in period["current"][1]:
    if (i["correlation_id"] or "").startswith("ansible-failure-"):
        count = 1 + sum((n["text"] or "").startswith("Recurrence #") for n in i["notes"])
        repeats[i["correlation_id"]] = {"occurrences": count, "candidate": count >= 3}
if seen.repeats != repeats or sorted(r["occurrences"] for r in repeats.values()) != [2, 4]:
    errors.append(f"repeat failures {seen.repeats} != {repeats}")

# The timeline and the outcome bars: the period's changes, approvals and incidents.
changes, incidents = period["current"]
if sorted(seen.windows) != sorted(c["number"] for c in changes):
    errors.append(f"timeline windows {seen.windows}")
decided = [c["number"] for c in changes for a in c["approvals"] if a["decided_at"]]
if sorted(seen.approvals) != sorted(decided):
    errors.append(f"timeline approvals {seen.approvals} != decided approvals {decided}")
if sorted(seen.incidents) != sorted((i["number"], i["caused_by"]) for i in incidents if i["caused_by"]):
    errors.append(f"timeline incidents {seen.incidents}")
outcomes = {"successful": 0, "successful_issues": 0, "failed": 0, "unsuccessful": 0, "open": 0}
for c in changes:
    outcomes["open" if c["state"] != "closed" else "unsuccessful" if c["close_code"] == "unsuccessful"
             else "failed" if c["number"] in caused else c["close_code"]] += 1
if seen.bars != outcomes:
    errors.append(f"outcome bars {seen.bars} != {outcomes}")

# Accessibility basics.
for table in seen.tables:
    if not table["caption"] or not table["col"] or table["scopeless"] or not table["rowheads"]:
        errors.append(f"table {table['id']}: a caption, column and row headers with scope are required ({table})")
if len(seen.tables) < 6:
    errors.append(f"{len(seen.tables)} tables with headers; expected the group, CI, refusal, repeat, change and "
                  "incident tables")
if not seen.svgs or any(role != "img" or not label for role, label in seen.svgs):
    errors.append(f"every chart is an image with a text label: {seen.svgs}")
fills = {}
for outcome, fill in seen.fills.values():
    fills.setdefault(fill, set()).add(outcome)
if any(len(outcomes_of_fill) > 1 for outcomes_of_fill in fills.values()) or sum(not f.startswith("url(") for f in fills) > 1:
    errors.append(f"timeline outcomes are told apart by colour alone: {fills}")
if errors:
    sys.exit("FAILED: " + "\n  ".join(errors))
print(f"ok: chromium rendered the report at 1280 and 390 px without overflow; every measure matches the "
      f"{len(changes)} changes and {len(incidents)} incidents of the last 30 days and the "
      f"{len(period['previous'][0])} and {len(period['previous'][1])} before (of {len(stored['change'])} and "
      f"{len(stored['incident'])} stored)")
