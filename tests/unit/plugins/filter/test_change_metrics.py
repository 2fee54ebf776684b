"""The change_metrics filter (playbooks/change_report.yml's figures), on small record sets computed by hand."""

import os
import subprocess
import sys
import time

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.opsgate.itsm.plugins.filter import change_metrics as plugin
from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline

SINCE, UNTIL = "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z"  # two weeks; the previous period starts 18 October


def change(number, opened, state="closed", close_code="successful", closed=None, **fields):
    record = dict(number=number, id=number.lower(), type="standard", state=state, approval="approved",
                  close_code=close_code if state == "closed" else None, opened_at=opened,
                  closed_at=closed if state == "closed" else None, assignment_group="Network", correlation_id=None,
                  description=None, short_description=f"change {number}", justification=None, close_notes=None,
                  fields={}, approvals=[], notes=[])
    record.update(fields)
    return record


def incident(number, opened, caused_by=None, state="new", resolved=None, **fields):
    record = dict(number=number, id=number.lower(), state=state, opened_at=opened, caused_by=caused_by,
                  closed_at=None, correlation_id=None, short_description=f"incident {number}", priority="low",
                  fields={"resolved_at": resolved} if resolved else {}, notes=[])
    record.update(fields)
    return record


def note(text, created="2026-11-02T00:00:00Z"):
    return dict(field="work_notes", text=text, author="someone", created=created)


def metrics(changes, incidents=(), **options):
    return plugin.change_metrics(list(changes), list(incidents), since=options.pop("since", SINCE),
                                 until=options.pop("until", UNTIL), **options)


def measure(result, key, period="current"):
    return next(m for m in result["measures"] if m["key"] == key)[period]


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (45, "45 s"), (59.4, "59 s"), (60, "1 min"), (270, "4.5 min"), (2700, "45 min"), (3600, "1 h"),
    (9000, "2.5 h"), (86399, "24 h"), (86400, "1 day"), (3.25 * 86400, "3.2 days"), (12 * 86400, "12 days"),
    (None, "none"),
])
def test_durations_are_written_in_the_unit_that_fits_them(seconds, text):
    assert plugin.duration_text(seconds) == text


@pytest.mark.parametrize("count, word, text", [
    (0, "change", "0 changes"), (1, "incident", "1 incident"), (2, "incident", "2 incidents"),
    (1, "day", "1 day"), (30.0, "day", "30 days"), (1, "recorder run", "1 recorder run"),
])
def test_counts_have_the_right_singular_or_plural(count, word, text):
    assert plugin.plural(count, word) == text


def test_a_change_closed_successful_with_issues_is_a_success_and_the_fail_rate_counts_unsuccessful_and_causing():
    # Four closed: successful, successful_issues, unsuccessful, successful but named by an incident; one open.
    changes = [change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-02T01:00:00Z"),
               change("CHG2", "2026-11-03T00:00:00Z", close_code="successful_issues", closed="2026-11-03T01:00:00Z"),
               change("CHG3", "2026-11-04T00:00:00Z", close_code="unsuccessful", closed="2026-11-04T01:00:00Z"),
               change("CHG4", "2026-11-05T00:00:00Z", closed="2026-11-05T01:00:00Z"),
               change("CHG5", "2026-11-06T00:00:00Z", state="implement")]
    result = metrics(changes, [incident("INC1", "2026-11-05T02:00:00Z", caused_by="CHG4")])
    fail = measure(result, "change_fail_rate")
    assert (fail["value"], fail["text"], fail["basis"]) == (
        50.0, "50.0 %", "2 of 4 closed changes: unsuccessful or causing an incident")
    assert measure(result, "unsuccessful_share")["text"] == "25.0 %"
    assert {o["key"]: o["count"] for o in result["outcomes"]} == {
        "successful": 1, "successful_issues": 1, "failed": 1, "unsuccessful": 1, "open": 1}
    # Four deployments in two weeks.
    assert measure(result, "deployment_frequency")["text"] == "2 a week"
    assert measure(result, "deployment_frequency")["basis"] == "4 deployments in 14 days"


def test_lead_time_runs_from_the_commit_or_the_opening_to_the_gates_move_or_the_close():
    gated = change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-03T00:00:00Z",
                   notes=[note("Change gate passed at 2026-11-02T06:00:00Z; moving to implement.\n- approval: ok")])
    closed = change("CHG2", "2026-11-02T00:00:00Z", closed="2026-11-02T00:10:00Z")
    # A pipeline's change whose commit is an hour before the change opened: 1 h + 30 min.
    piped = change("CHG3", "2026-11-02T00:00:00Z", closed="2026-11-02T00:30:00Z", description=pipeline.with_block(
        "x", {"system": "gitlab_ci", "commit_time": "2026-11-01T23:00:00Z"}))
    open_change = change("CHG4", "2026-11-02T00:00:00Z", state="implement")
    lead = measure(metrics([gated, closed, piped, open_change]), "change_lead_time")
    # 6 h, 10 min, 90 min: the median is 90 min.
    assert (lead["value"], lead["text"], lead["basis"]) == (5400, "1.5 h", "median of 3 changes, 1 from the commit")


def test_recovery_time_is_the_median_of_incidents_caused_by_a_change_from_opening_to_resolution():
    changes = [change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-02T00:10:00Z")]
    incidents = [incident("INC1", "2026-11-02T01:00:00Z", "CHG1", "resolved", resolved="2026-11-02T01:20:00Z"),
                 # ServiceNow's raw resolved_at form.
                 incident("INC2", "2026-11-03T00:00:00Z", "CHG1", "closed", resolved="2026-11-03 02:00:00"),
                 incident("INC3", "2026-11-04T00:00:00Z", "CHG1", "closed", closed_at="2026-11-05T00:00:00Z"),
                 incident("INC4", "2026-11-04T00:00:00Z", None, "resolved", resolved="2026-11-04T00:01:00Z"),
                 incident("INC5", "2026-11-04T00:00:00Z", "CHG1")]
    recovery = measure(metrics(changes, incidents), "recovery_time")
    # 20 min, 2 h, 1 day (no resolved_at: its close): the median is 2 h. INC4 caused by no change, INC5 not resolved.
    assert (recovery["value"], recovery["text"]) == (7200, "2 h")
    assert recovery["basis"] == "median of 3 incidents caused by a change and resolved"


@pytest.mark.parametrize("incidents, why", [
    ([], "no incident was caused by a change"),
    ([incident("INC1", "2026-11-02T01:00:00Z", "CHG1")], "the incidents caused by a change are not resolved yet"),
    # A resolved incident without its resolution time (a backend that does not return it).
    ([incident("INC1", "2026-11-02T01:00:00Z", "CHG1", "resolved")],
     "the backend gave no resolution time for the 1 resolved incident"),
])
def test_no_recovery_time_says_why(incidents, why):
    recovery = measure(metrics([change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-02T00:10:00Z")], incidents),
                       "recovery_time")
    assert (recovery["value"], recovery["text"], recovery["empty"]) == (None, "none", why)


def test_a_quick_approval_is_seconds_not_zero_hours():
    approved = change("CHG1", "2026-11-02T00:00:00Z", type="normal", approvals=[
        dict(approver="a", state="approved", decided_at="2026-11-02T00:00:08Z"),
        dict(approver="b", state="approved", decided_at="2026-11-02T00:00:14Z")])
    wait = measure(metrics([approved]), "approval_wait")
    assert (wait["value"], wait["text"], wait["empty"]) == (14, "14 s", None)


def test_rework_counts_closed_emergency_changes_that_name_an_incident():
    incidents = [incident("INC0000001", "2026-11-02T00:00:00Z")]
    changes = [change("CHG1", "2026-11-02T01:00:00Z", closed="2026-11-02T02:00:00Z", type="emergency",
                      short_description="Fix INC0000001"),
               # Another number that merely starts with it, and an emergency change naming no incident.
               change("CHG2", "2026-11-02T01:00:00Z", closed="2026-11-02T02:00:00Z", type="emergency",
                      justification="see INC00000012"),
               change("CHG3", "2026-11-02T01:00:00Z", closed="2026-11-02T02:00:00Z", type="emergency"),
               # A normal change naming the incident is not rework.
               change("CHG4", "2026-11-02T01:00:00Z", closed="2026-11-02T02:00:00Z", description="INC0000001")]
    result = metrics(changes, incidents)
    assert measure(result, "rework_rate")["text"] == "25.0 %"
    assert measure(result, "emergency_share")["text"] == "75.0 %"


def test_rejected_changes_are_counted_among_those_that_went_for_approval():
    changes = [change("CHG1", "2026-11-02T00:00:00Z", state="new", type="normal", approval="rejected",
                      approvals=[dict(approver="a", state="rejected", decided_at="2026-11-02T01:00:00Z")]),
               # Rejected once, then approved.
               change("CHG2", "2026-11-02T00:00:00Z", state="scheduled", type="normal", approvals=[
                   dict(approver="a", state="rejected", decided_at="2026-11-02T01:00:00Z"),
                   dict(approver="a", state="approved", decided_at="2026-11-02T02:00:00Z")]),
               change("CHG3", "2026-11-02T00:00:00Z", state="scheduled", type="emergency", approval="requested"),
               change("CHG4", "2026-11-02T00:00:00Z", state="new", type="normal", approval="not_requested"),
               # A standard change reads approved (in advance): it never went for approval.
               change("CHG5", "2026-11-02T00:00:00Z")]
    rejected = measure(metrics(changes), "rejected_share")
    assert (rejected["text"], rejected["basis"]) == ("66.7 %", "2 of 3 changes that went for approval")


def test_gate_refusals_are_counted_per_failing_check_from_the_gates_notes():
    changes = [change("CHG1", "2026-11-02T00:00:00Z", notes=[
        note("Change gate refused at 2026-11-02T01:00:00Z: approval, window.\n- approval: requested"),
        note("Change gate refused at 2026-11-02T02:00:00Z: window.\n- window: opens later"),
        note("Change gate passed at 2026-11-02T03:00:00Z; moving to implement.\n- window: open"),
        dict(field="comments", text="Change gate refused at 2026-11-02T02:00:00Z: freeze.")]),
        change("CHG2", "2026-10-20T00:00:00Z", notes=[note("Change gate refused at 2026-10-20T01:00:00Z: scope.")])]
    refusals = metrics(changes)["refusals"]
    assert {row["reason"]: (row["current"], row["previous"]) for row in refusals["rows"]} == {
        "approval": (1, 0), "state": (0, 0), "window": (2, 0), "freeze": (0, 0), "scope": (0, 1)}
    assert (refusals["total"]["text"], refusals["empty"]) == ("2 refusals", None)


def test_runs_without_a_change_gate_are_the_recorder_runs_that_say_no_gate_ran():
    changes = [change("CHG1", "2026-11-02T00:00:00Z", close_notes="finished\n" + pipeline.gate_line(False)),
               change("CHG2", "2026-11-02T00:00:00Z", close_notes="finished\n" + pipeline.gate_line(True)),
               change("CHG3", "2026-11-02T00:00:00Z", close_notes="closed by hand")]
    runs = metrics(changes)["runs_without_change"]
    assert runs["current"] == dict(value=1, runs=2, text="1 of 2 recorder runs")
    assert runs["previous"]["text"] == "none: the recorder logged no run"


def test_repeat_failures_add_up_each_signatures_occurrences_and_mark_problem_candidates():
    recurred = [note("Recurrence #2: again"), note("Recurrence #3: again")]
    incidents = [incident("INC1", "2026-11-02T00:00:00Z", correlation_id="ansible-failure-a", notes=recurred),
                 # The same signature raised again after the first was resolved.
                 incident("INC2", "2026-11-05T00:00:00Z", correlation_id="ansible-failure-a"),
                 incident("INC3", "2026-11-05T00:00:00Z", correlation_id="ansible-failure-b",
                          notes=[note("Recurrence #2: again")]),
                 incident("INC4", "2026-11-05T00:00:00Z", correlation_id="by-hand")]
    repeats = metrics([], incidents)["repeat_failures"]
    assert [(r["signature"], r["incidents"], r["occurrences"], r["problem_candidate"]) for r in repeats["rows"]] == [
        ("ansible-failure-a", ["INC1", "INC2"], 4, True), ("ansible-failure-b", ["INC3"], 2, False)]
    assert repeats["candidates"] == 1
    assert metrics([], incidents, problem_after=5)["repeat_failures"]["candidates"] == 0


def test_records_fall_in_their_period_once_and_the_comparison_says_better_or_worse_in_words():
    boundary = change("CHG1", SINCE, close_code="unsuccessful", closed="2026-11-01T01:00:00Z")
    before = change("CHG2", "2026-10-25T00:00:00Z", closed="2026-10-25T01:00:00Z")
    older = change("CHG3", "2026-10-01T00:00:00Z", close_code="unsuccessful", closed="2026-10-01T01:00:00Z")
    # The two periods' reads both return the record opened at the boundary: it counts once, in the period.
    result = metrics([boundary, before, boundary, older])
    assert (result["counts"]["changes"], result["counts"]["text"]) == (1, "1 change and 0 incidents")
    fail = next(m for m in result["measures"] if m["key"] == "change_fail_rate")
    assert (fail["current"]["text"], fail["previous"]["text"], fail["change"], fail["trend"]) == (
        "100.0 %", "0.0 %", "100.0 points up (worse)", "worse")
    frequency = next(m for m in result["measures"] if m["key"] == "deployment_frequency")
    assert (frequency["change"], frequency["trend"]) == ("unchanged", None)
    # An hour from opening to close in both periods.
    lead = next(m for m in result["measures"] if m["key"] == "change_lead_time")
    assert (lead["current"]["text"], lead["change"], lead["trend"]) == ("1 h", "unchanged", None)
    wait = next(m for m in result["measures"] if m["key"] == "approval_wait")
    assert (wait["change"], wait["trend"]) == ("no comparison: this period has none", None)


def test_every_empty_figure_says_why():
    result = metrics([], [])
    assert {m["key"]: m["current"]["empty"] for m in result["measures"]} == {
        "deployment_frequency": "no change was opened", "change_lead_time": "no change was opened",
        "recovery_time": "no incident was caused by a change", "change_fail_rate": "no change was closed",
        "rework_rate": "no change was closed",
        "approval_wait": "no change was opened",
        "emergency_share": "no change was opened", "rejected_share": "no change went for approval",
        "unsuccessful_share": "no change was closed"}
    assert all(m["change"] == "no comparison: this period has none" for m in result["measures"])
    assert result["refusals"]["empty"] == "no change was opened in the period"
    assert result["repeat_failures"]["empty"] == "no incident of the period was raised by the recorder"
    assert result["by_group"]["empty"] == "no change was opened in either period"


def test_figures_that_need_approvals_or_notes_say_when_they_were_not_read():
    bare = change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-02T01:00:00Z")
    del bare["approvals"], bare["notes"]
    result = metrics([bare])
    assert measure(result, "approval_wait")["empty"] == "the approvals were not read (report_include_approvals is false)"
    assert result["refusals"]["empty"] == ("the changes' work notes were not read (report_include_notes is false), "
                                           "and the gate writes there")
    assert metrics([change("CHG1", "2026-11-02T00:00:00Z")])["refusals"]["empty"] == (
        "the change gate recorded no refusal on the changes of the period")


def test_by_week_and_by_group_and_ci_system():
    changes = [change("CHG1", "2026-11-02T00:00:00Z", closed="2026-11-02T02:00:00Z"),
               change("CHG2", "2026-11-09T00:00:00Z", closed="2026-11-09T00:30:00Z", assignment_group="Platform",
                      description=pipeline.with_block("x", {"system": "github_actions"})),
               change("CHG3", "2026-11-10T00:00:00Z", close_code="unsuccessful", closed="2026-11-10T00:10:00Z")]
    result = metrics(changes, since=SINCE, until="2026-11-11T00:00:00Z")  # ten days: a week and three days
    assert [w["days"] for w in result["weeks"]["weeks"]] == [7.0, 3.0]
    charts = {c["key"]: c for c in result["weeks"]["charts"]}
    assert charts["deployment_frequency"]["values"] == [1.0, 2.0]
    assert charts["change_lead_time"]["values"] == [7200, 1200]  # 2 h; the median of 30 and 10 min
    assert charts["change_fail_rate"]["values"] == [0.0, 50.0]
    assert charts["recovery_time"]["values"] == [None, None]
    assert [p["text"] for p in charts["change_fail_rate"]["chart"]["points"]] == ["0.0 %", "50.0 %"]
    groups = {row["name"]: {cell["key"]: cell["current"] for cell in row["cells"]} for row in result["by_group"]["rows"]}
    assert groups["Network"]["change_fail_rate"] == "50.0 %"
    assert groups["Platform"]["change_lead_time"] == "30 min"
    systems = {row["name"]: row["changes"] for row in result["by_ci"]["rows"]}
    assert systems == {"(no pipeline)": 2, "GitHub Actions": 1}


@pytest.mark.parametrize("options, message", [
    (dict(since="2026-11-01T00:00:00"), "since: '2026-11-01T00:00:00' is not valid; expected an ISO 8601"),
    (dict(until="yesterday"), "until: 'yesterday' is not valid"),
    (dict(until=SINCE), "until: '2026-11-01T00:00:00Z' is not after since"),
    (dict(problem_after=0), "problem_after: 0 is not valid; expected a whole number, 1 or more"),
    (dict(problem_after="three"), "problem_after: 'three' is not valid"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(AnsibleFilterError, match="change_metrics: " + message.replace("(", r"\(")):
        metrics([], [], **options)


def test_records_that_are_not_a_list_are_refused():
    with pytest.raises(AnsibleFilterError, match="changes: expected a list of records"):
        plugin.change_metrics({"records": []}, [], since=SINCE, until=UNTIL)


def test_the_filter_is_registered_and_documented():
    assert plugin.FilterModule().filters() == {"change_metrics": plugin.change_metrics}
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "change_metrics"
    assert set(doc["options"]) == {"_input", "incidents", "since", "until", "previous_since", "problem_after"}
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"] == "dict"


def test_the_examples_run_as_written(tmp_path):
    """The filter's EXAMPLES, in one play with ansible-playbook against a local store holding one closed change."""
    setup = [{"name": "Test set-up: a change of the period, closed",
              "opsgate.itsm.change_request": {"correlation_id": "examples", "short_description": "Examples",
                                              "type": "standard", "state": "closed", "close_code": "successful",
                                              "close_notes": "done"}}]
    play = [{"name": "EXAMPLES of opsgate.itsm.change_metrics", "hosts": "localhost", "gather_facts": False,
             "tasks": setup + yaml.safe_load(plugin.EXAMPLES)}]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ITSM_", "ANSIBLE_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"], ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_NOCOLOR="1", ITSM_BACKEND="local", ITSM_LOCAL_DB=str(tmp_path / "itsm.sqlite"))
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               str(playbook)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Deployment frequency: 0.2 a week (before: none)" in done.stdout
    assert "Change fail rate: 0.0 % (before: none)" in done.stdout


def test_a_thousand_changes_and_incidents_take_under_five_seconds():
    """No figure is quadratic in the records (the rework check once compared every change with every incident)."""
    changes = [change(f"CHG{n:07d}", f"2026-11-{n % 14 + 1:02d}T00:00:00Z", closed=f"2026-11-{n % 14 + 1:02d}T01:00:00Z",
                      type="emergency" if n % 3 else "standard", assignment_group=f"group {n % 7}",
                      short_description=f"Fix INC{n:07d}", description=pipeline.with_block(
                          "x", {"system": ("github_actions", "gitlab_ci", "jenkins")[n % 3]}))
               for n in range(1000)]
    incidents = [incident(f"INC{n:07d}", "2026-11-03T00:00:00Z", f"CHG{n:07d}", "resolved",
                          resolved="2026-11-03T02:00:00Z", correlation_id=f"ansible-failure-{n % 50}",
                          notes=[note("Recurrence #2: again")]) for n in range(1000)]
    started = time.monotonic()
    result = metrics(changes, incidents)
    assert time.monotonic() - started < 5
    assert measure(result, "rework_rate")["text"] == "66.6 %"  # 666 emergency fixes of 1000
    assert len(result["by_group"]["rows"]) == 7 and len(result["by_ci"]["rows"]) == 3
