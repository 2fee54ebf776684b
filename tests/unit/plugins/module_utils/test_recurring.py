"""Problems from recurring failures (_recurring, issue 19): the threshold, the window, one problem per signature
under retries and under concurrent runs (forked processes on one local store)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import queue
from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as outbox
from ansible_collections.opsgate.itsm.plugins.module_utils import _recurring as recurring
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend

SIGNATURE = "ansible-failure-0123456789abcdef01234567"
THREE = recurring.Threshold(3, 30)
RUNNERS = 8
_fork = multiprocessing.get_context("fork")


def failures(backend, times):
    """The signature's incident, failed ``times`` times (raised once, then recurrences)."""
    incident = backend.create("incident", {"short_description": "Ansible task 'Restart' failed on web2",
                                           "correlation_id": SIGNATURE, "impact": "high", "urgency": "low"})
    for occurrence in range(2, times + 1):
        backend.record_recurrence(incident, f"failed again ({occurrence})")
    return backend.get("incident", id=incident["id"])


def raise_(backend, note="Change CHG0000001 failed: Restart", threshold=THREE, **kwargs):
    return recurring.raise_or_update(backend, SIGNATURE, threshold, summary="Recurring failure: Restart",
                                     statement="Task: Restart\nHosts: web2", note=note, **kwargs)


@pytest.mark.parametrize("after, window, option", [(1, 30, "problem_after"), (-1, 30, "problem_after"),
                                                   (True, 30, "problem_after"), (3, 0, "problem_window"),
                                                   (3, "x", "problem_window"), ("many", 30, "problem_after")])
def test_a_threshold_that_cannot_be_met_is_refused_naming_its_option(after, window, option):
    with pytest.raises(ItsmValidationError) as error:
        recurring.threshold_of(after, window)
    assert error.value.details["option"] == option


def test_the_problem_of_a_signature_has_the_incident_id_with_the_problem_prefix():
    assert recurring.problem_correlation_id(SIGNATURE) == "ansible-problem-0123456789abcdef01234567"
    assert recurring.problem_correlation_id("deploy-42").startswith("ansible-problem-deploy-42")


def test_below_the_threshold_nothing_is_raised_and_at_it_one_problem_linked_to_the_incident(local_backend):
    failures(local_backend, 2)
    assert raise_(local_backend) is None and list(local_backend.find("problem", {})) == []
    local_backend.record_recurrence(local_backend.get("incident", correlation_id=SIGNATURE), "third")
    done = raise_(local_backend)
    assert done["outcome"] == "created" and done["occurrences"] == 3
    [problem] = list(local_backend.find("problem", {}))
    assert (problem["number"], problem["impact"], problem["urgency"]) == (done["number"], "high", "low")
    assert problem["description"] == "Task: Restart\nHosts: web2"
    assert local_backend.get("incident", correlation_id=SIGNATURE)["problem"] == problem["number"]
    assert [e["text"] for e in local_backend.journal("problem", problem)] == ["Change CHG0000001 failed: Restart"]


def test_a_retry_writes_nothing_twice_and_a_new_failure_adds_its_note(local_backend):
    failures(local_backend, 3)
    first = raise_(local_backend)
    assert raise_(local_backend)["outcome"] == "unchanged"
    assert raise_(local_backend, note="Change CHG0000002 failed: Restart")["outcome"] == "updated"
    [problem] = list(local_backend.find("problem", {}))
    assert problem["number"] == first["number"]
    assert [e["text"][:17] for e in local_backend.journal("problem", problem)] == ["Change CHG0000001", "Change CHG0000002"]


def test_failures_outside_the_window_do_not_count(local_backend):
    failures(local_backend, 3)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert raise_(local_backend, now=later) is None
    assert raise_(local_backend, now=later, threshold=recurring.Threshold(3, 40))["occurrences"] == 3


def test_threshold_off_reads_nothing():
    assert recurring.raise_or_update(None, SIGNATURE, recurring.Threshold(0, 30), summary="", statement="",  # no backend
                                     note="") is None


def test_check_mode_predicts_the_problem_and_writes_nothing(local_backend):
    failures(local_backend, 3)
    assert raise_(local_backend, check_mode=True)["outcome"] == "created"
    assert list(local_backend.find("problem", {})) == []


def _runner(path, index, barrier, results):
    backend = LocalBackend(ConnectionSettings(local_db=path, username=f"run{index}", timeout=60))
    try:
        barrier.wait(60)
        item = dict(type="problem", id=f"m{index}:problem", marker=f"m{index}", correlation_id=SIGNATURE,
                    change={"number": f"CHG{index:07d}"}, problem_after=3, problem_window=30,
                    summary="Recurring failure: Restart", statement="Task: Restart", what="Restart failed")
        # each run delivers its item twice: a retry after a lost answer
        results.put([outbox.deliver(backend, item, lambda text: None)["number"] for _attempt in range(2)])
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported to the test
        results.put(repr(error))
    finally:
        backend.close()


def test_concurrent_runs_raise_one_problem_with_one_note_each(tmp_path):
    path = str(tmp_path / "itsm.sqlite")
    setup = LocalBackend(ConnectionSettings(local_db=path, username="setup"))
    failures(setup, 3)
    setup.close()
    barrier, results = _fork.Barrier(RUNNERS), _fork.Queue()
    processes = [_fork.Process(target=_runner, args=(path, index, barrier, results)) for index in range(1, RUNNERS + 1)]
    for process in processes:
        process.start()
    outcomes = []
    for _process in processes:
        try:
            outcomes.append(results.get(timeout=120))
        except queue.Empty:
            break
    for process in processes:
        process.join(30)
    assert all(isinstance(outcome, list) for outcome in outcomes) and len(outcomes) == RUNNERS, outcomes
    numbers = {number for outcome in outcomes for number in outcome}
    check = LocalBackend(ConnectionSettings(local_db=path, username="check"))
    [problem] = list(check.find("problem", {}))
    assert numbers == {problem["number"]}
    notes = sorted(entry["text"] for entry in check.journal("problem", problem))
    assert notes == sorted(f"Change CHG{index:07d} failed: Restart failed [m{index}]" for index in range(1, RUNNERS + 1))
    assert check.get("incident", correlation_id=SIGNATURE)["problem"] == problem["number"]
    check.close()


def test_a_backend_without_problems_takes_the_item_with_a_warning_instead_of_holding_the_outbox():
    backend = mock.create_autospec(ItsmBackend, instance=True)
    backend.name, backend.capabilities = "jsm", frozenset({"approvals"})
    warnings = []
    item = dict(type="problem", id="m:problem", marker="m", correlation_id=SIGNATURE, change={"number": "ITSM-1"},
                problem_after=3, problem_window=30, summary="s", statement="t", what="w")
    assert outbox.deliver(backend, item, warnings.append) == dict(type="problem", number=None, outcome="not available")
    assert warnings == ["recorder: problem_after: the jsm backend keeps no problem records; none is raised"]
    assert backend.method_calls == []
