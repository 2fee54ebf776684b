"""The incident module's problem_after (issue 19), as the incident_on_failure role uses it, on a real local store."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident

FAILURE = dict(correlation_id="ansible-failure-aaaabbbbccccddddeeeeffff", short_description="Migrate failed on web1",
               description="Task: Migrate\nHosts: web1\nweb1: exit 1", problem_after=3)


def test_the_third_failure_raises_the_problem_and_later_ones_update_it(task):
    assert task(incident, **FAILURE)["problem"] is None
    assert task(incident, work_notes="Failed on 1 host(s): web1", problem_change="CHG0000002", **FAILURE)["problem"] is None
    third = task(incident, work_notes="Failed on 1 host(s): web1", problem_change="CHG0000003", **FAILURE)
    assert third["changed"] and third["problem"]["outcome"] == "created" and third["problem"]["occurrences"] == 3
    problem = task.backend.get("problem", number=third["problem"]["number"])
    assert problem["correlation_id"] == "ansible-problem-aaaabbbbccccddddeeeeffff"
    assert problem["description"] == FAILURE["description"]
    assert task.backend.get("incident", correlation_id=FAILURE["correlation_id"])["problem"] == problem["number"]
    fourth = task(incident, work_notes="Failed on 1 host(s): web1", problem_change="CHG0000004", **FAILURE)
    assert fourth["problem"] == dict(third["problem"], outcome="updated", occurrences=4)
    notes = [entry["text"] for entry in task.backend.journal("problem", problem)]
    assert [note.split(" failed:")[0] for note in notes] == ["Change CHG0000003", "Change CHG0000004"]
    assert notes[0] == "Change CHG0000003 failed: Migrate failed on web1\nFailed on 1 host(s): web1"


@pytest.mark.parametrize("value, option", [(1, "problem_after"), (-3, "problem_after")])
def test_a_threshold_that_means_nothing_is_refused_before_anything_is_written(task, value, option):
    with pytest.raises(ItsmValidationError) as error:
        task(incident, **dict(FAILURE, problem_after=value))
    assert error.value.details["option"] == option
    assert list(task.backend.find("incident", {})) == []


def test_a_backend_without_problems_refuses_problem_after_before_writing(double_task, backend_double):
    backend_double.unsupported.side_effect = lambda what: ItsmError(f"double: {what} not available")
    with pytest.raises(ItsmError, match="problem records"):
        double_task(incident, **FAILURE)
    assert not backend_double.create.called and not backend_double.update.called
