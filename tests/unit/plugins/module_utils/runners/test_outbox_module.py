"""run() of the outbox module: list, flush (check mode too), purge. (Named apart from ../test_outbox.py: pytest
imports test files without __init__.py by basename.)"""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import outbox
from tests.unit.plugins.module_utils.backends import pg_sim


@pytest.fixture
def queued(tmp_path, local_backend):
    path = str(tmp_path / "outbox.sqlite")
    run = rec.Run(run_id="job-1", attempt="a1", playbook="site.yml")
    box = ob.Outbox(path)
    box.put([rec.change_item(run, note="recap", code="successful")], ob.target_of(local_backend.settings))
    other = rec.Run(run_id="job-2", attempt="a2", playbook="site.yml")
    box.put([rec.change_item(other, note="elsewhere", code="successful")], "servicenow:https://x.example")
    return path


def test_list_shows_this_backends_items_or_all(task, queued):
    mine = task(outbox, action="list", path=queued)
    everything = task(outbox, action="list", path=queued, all_targets=True)
    assert not mine["changed"] and [item["type"] for item in mine["queued"]] == ["change"]
    assert len(everything["queued"]) == 2 and everything["target"] is None


def test_flush_in_check_mode_sends_nothing(task, queued):
    result = task(outbox, action="flush", path=queued, check_mode=True)
    assert result["changed"] and result["remaining"] == 1
    assert list(task.backend.find("change", {})) == []


def test_flush_delivers_once_then_has_nothing_to_do(task, queued):
    first = task(outbox, path=queued)
    second = task(outbox, path=queued)
    assert first["changed"] and first["delivered"][0]["number"] == "CHG0000001" and first["remaining"] == 0
    assert not second["changed"] and second["delivered"] == []
    assert [c["state"] for c in task.backend.find("change", {})] == ["closed"]


def test_purge_removes_delivered_items(task, queued):
    task(outbox, path=queued)
    dry = task(outbox, action="purge", path=queued, check_mode=True)
    result = task(outbox, action="purge", path=queued)
    assert dry["purged"] == result["purged"] and len(result["purged"]) == 1 and result["changed"]
    assert not task(outbox, action="purge", path=queued)["changed"]


def test_the_path_falls_back_to_itsm_outbox(task, queued, monkeypatch):
    monkeypatch.setenv("ITSM_OUTBOX", queued)
    assert task(outbox, action="list")["path"] == queued


def test_ids_and_states_cannot_be_combined(task, queued):
    with pytest.raises(ValueError, match="mutually exclusive"):
        task(outbox, action="purge", path=queued, ids=["x"], states=["pending"])


@pytest.mark.parametrize("check_mode", [False, True])
def test_flush_counts_and_warns_of_items_for_another_backend(task, queued, check_mode):
    result = task(outbox, path=queued, check_mode=check_mode)
    assert result["other_targets"] == {"servicenow:https://x.example": 1}
    assert [w for w in task.warnings if "1 item in" in w and "waits for another backend" in w
            and "servicenow:https://x.example" in w] == task.warnings[-1:]


def test_flush_with_nothing_elsewhere_reports_none(task, tmp_path, local_backend):
    path = str(tmp_path / "outbox.sqlite")
    run = rec.Run(run_id="job-1", attempt="a1", playbook="site.yml")
    ob.Outbox(path).put([rec.change_item(run, note="recap", code="successful")], ob.target_of(local_backend.settings))
    assert task(outbox, path=path)["other_targets"] == {} and task.warnings == []


@pytest.fixture
def refused(tmp_path, local_backend):
    """An item for a change that does not exist: refused for good by the first flush."""
    path = str(tmp_path / "refused.sqlite")
    run = rec.Run(run_id="job-3", attempt="a3", playbook="site.yml", change_number="CHG9999999")
    box = ob.Outbox(path)
    box.put([rec.change_item(run, note="recap", code="successful")], ob.target_of(local_backend.settings))
    ob.flush(box, local_backend, ob.target_of(local_backend.settings), print)
    return path


def test_list_says_why_each_item_waits_and_which_are_refused_for_good(task, refused, queued):
    listed = task(outbox, action="list", path=refused)
    [item] = listed["queued"]
    assert item["permanent"] and item["state"] == "failed" and listed["permanent_failures"] == 1
    assert item["last_error"].startswith("change: CHG9999999 does not exist on the local backend (local:")
    assert item["description"] == "the end of change CHG9999999"
    waiting = task(outbox, action="list", path=queued)
    assert [(i["permanent"], i["state"]) for i in waiting["queued"]] == [(False, "pending")]
    assert waiting["permanent_failures"] == 0


@pytest.mark.parametrize("check_mode", [False, True])
def test_flush_reports_and_warns_of_items_refused_for_good_without_resending_them(task, refused, check_mode):
    result = task(outbox, path=refused, check_mode=check_mode)
    assert result["permanent_failures"] == 1 and result["refused"] == [] and result["remaining"] == 0
    assert [w for w in task.warnings if "refused for good by the local backend and are not sent again" in w
            and "CHG9999999 does not exist" in w and "retry_failed" in w]
    assert [i["attempts"] for i in ob.Outbox(refused).list()] == [1]


def test_a_refusal_during_a_flush_is_reported_without_failing_the_task(task, refused):
    """A result key "failed" holding the refused items made Ansible fail the task ("Unknown error")."""
    result = task(outbox, path=refused, retry_failed=True)
    assert not result.get("failed") and len(result["refused"]) == 1
    assert "CHG9999999 does not exist" in result["refused"][0]["error"]


# -- the outbox on PostgreSQL (issue 17) -------------------------------------------------------------

def test_path_may_be_a_postgresql_url_and_the_result_never_shows_its_password(task):
    url = pg_sim.new_store(password_in_url=True)
    run = rec.Run(run_id="job-9", attempt="a9", playbook="site.yml")
    ob.Outbox(url).put([rec.change_item(run, note="recap", code="successful")], ob.target_of(task.backend.settings))
    listed = task(outbox, action="list", path=url)
    assert [item["type"] for item in listed["queued"]] == ["change"]
    assert listed["path"].startswith("postgresql://itsm:********@") and pg_sim.PASSWORD not in str(listed)
    first, second = task(outbox, path=url), task(outbox, path=url)
    assert first["changed"] and first["remaining"] == 0 and not second["changed"]
    assert [c["state"] for c in task.backend.find("change", {})] == ["closed"]


def test_a_url_of_another_scheme_is_refused_naming_path(task):
    with pytest.raises(ob.ItsmSettingsError) as raised:
        task(outbox, action="list", path="redis://cache.example.com/0")
    assert raised.value.details["option"] == "path" and "redis://" in raised.value.message
