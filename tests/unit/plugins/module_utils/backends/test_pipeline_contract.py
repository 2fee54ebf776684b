"""A change's CI pipeline (issue 19) on every backend: written by the change_request module and by the recorder,
read back with _pipeline.read from what the backend returns (local: columns; jsm: the opsgate.record property;
servicenow: the description's block)."""

from __future__ import annotations

import sqlite3

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as outbox
from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request, change_request_info

VALUES = {"system": "gitlab_ci", "repository": "acme/shop", "branch": "main",
          "commit": "3f786850e387550fdab836ed7e6dc881de23001b", "commit_time": "2026-12-01T09:15:30Z",
          "url": "https://gitlab.example.com/acme/shop/-/pipelines/991", "run_number": "17", "triggered_by": "carol",
          "job_id": "991", "job_template": "deploy-prod"}


def run(runner, backend, **args):
    spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
    validated = ArgumentSpecValidator(spec).validate(args)
    assert not validated.error_messages
    warnings: list[str] = []
    return runner.run(validated.validated_parameters, backend, check_mode=False, warn=warnings.append)


def info(backend, **filters):
    return run(change_request_info, backend, include=["notes"], **filters)["records"]


def test_the_module_writes_the_pipeline_and_every_backend_gives_it_back(backend):
    first = run(change_request, backend, correlation_id="pipeline-991", short_description="Deploy the shop",
                description="Rolling deploy.", pipeline=VALUES)
    assert first["changed"] and pipeline.read(first["record"]) == VALUES
    [record] = info(backend, correlation_id="pipeline-991")
    assert pipeline.read(record) == VALUES
    assert record["description"].startswith("Rolling deploy.\n\n" + pipeline.BLOCK_START)
    # the same pipeline again changes nothing; the next commit replaces the block, never adds one
    assert run(change_request, backend, correlation_id="pipeline-991", pipeline=VALUES)["changed"] is False
    later = dict(VALUES, commit="a" * 40, run_number="18")
    assert run(change_request, backend, correlation_id="pipeline-991", pipeline=later)["changed"] is True
    [record] = info(backend, correlation_id="pipeline-991")
    assert pipeline.read(record) == later and record["description"].count(pipeline.BLOCK_START) == 1
    assert record["description"].startswith("Rolling deploy.")


def test_a_bad_pipeline_is_refused_naming_it_before_anything_is_written(backend):
    with pytest.raises(ItsmValidationError) as error:
        run(change_request, backend, correlation_id="pipeline-bad", short_description="Deploy",
            pipeline=dict(VALUES, commit_time="last tuesday"))
    assert error.value.details["option"] == "pipeline.commit_time"
    with pytest.raises(ItsmValidationError) as error:
        run(change_request, backend, correlation_id="pipeline-bad", short_description="Deploy", pipeline="maybe")
    assert error.value.details["option"] == "pipeline"
    assert info(backend, correlation_id="pipeline-bad") == []


def test_the_recorder_writes_the_pipeline_and_whether_the_gate_ran(backend):
    run_ = recorder.Run(run_id="job-991", attempt="a1", playbook="site.yml", template=None, pipeline=dict(VALUES))
    warnings: list[str] = []
    outbox.deliver(backend, recorder.change_item(run_), warnings.append)
    settings = recorder.Settings()
    note = recorder.recap_note({"web1": {"ok": 1}}, [], "successful", settings, run_.marker, run_.label, run_.context())
    outbox.deliver(backend, recorder.change_item(run_, note, "successful"), warnings.append)
    [record] = info(backend, correlation_id=run_.correlation_id)
    assert record["state"] == "closed"
    assert pipeline.read(record) == dict(VALUES, gate_used=False)
    # without the notes too: the close notes say it
    assert pipeline.read(dict(record, notes=[])) == dict(VALUES, gate_used=False)


def test_the_local_store_keeps_the_pipeline_in_columns_of_its_own(local_backend, tmp_path):
    run(change_request, local_backend, correlation_id="pipeline-sql", short_description="Deploy", pipeline=VALUES,
        fields={"ticket": "OPS-1"})
    with sqlite3.connect(str(tmp_path / "itsm.sqlite")) as conn:
        row = conn.execute("SELECT pipeline_commit, pipeline_commit_time, pipeline_system, fields FROM changes").fetchone()
    assert row == (VALUES["commit"], VALUES["commit_time"], "gitlab_ci", '{"ticket": "OPS-1"}')
    # a value taken away (the task's fields set it to null) empties its column
    run(change_request, local_backend, correlation_id="pipeline-sql", fields={"pipeline_commit_time": None})
    record = local_backend.get("change", correlation_id="pipeline-sql")
    assert "pipeline_commit_time" not in record["fields"] and record["fields"]["pipeline_commit"] == VALUES["commit"]


@pytest.mark.parametrize("name", ["local", "servicenow"])
def test_a_change_made_from_a_template_keeps_its_description_and_gets_the_block_as_a_note(make_contract_backend, name):
    backend = make_contract_backend(name)
    template = "Patch Linux servers - 1"
    if name == "local":
        backend.put_template(template, {"short_description": "Patch Linux servers",
                                        "description": "Apply the monthly OS patch bundle to Linux servers"})
    first = run(change_request, backend, correlation_id="pipeline-template", template=template, pipeline=VALUES)
    [record] = info(backend, correlation_id="pipeline-template")
    assert record["description"].startswith("Apply the monthly OS patch") and pipeline.BLOCK_START not in record["description"]
    assert pipeline.read(record) == VALUES and first["changed"]
    assert [note["text"] for note in record["notes"]] == [pipeline.block(VALUES)]
    assert run(change_request, backend, correlation_id="pipeline-template", pipeline=VALUES)["changed"] is False
    later = dict(VALUES, commit="b" * 40)
    assert run(change_request, backend, correlation_id="pipeline-template", pipeline=later)["changed"] is True
    [record] = info(backend, correlation_id="pipeline-template")
    assert pipeline.read(record) == later and len(record["notes"]) == 2


def test_a_store_made_before_the_pipeline_columns_gets_them_when_opened(tmp_path):
    path = str(tmp_path / "old.sqlite")
    old = LocalBackend(ConnectionSettings(local_db=path))
    old.create("change", {"short_description": "Before issue 19", "correlation_id": "old-1"})
    old.close()
    with sqlite3.connect(path) as conn:  # the store as an earlier collection left it: no pipeline columns
        for name in pipeline.extras(dict.fromkeys(pipeline.KEYS, "x")):
            conn.execute(f"ALTER TABLE changes DROP COLUMN {name}")
    new = LocalBackend(ConnectionSettings(local_db=path))
    run(change_request, new, correlation_id="old-1", pipeline=VALUES)
    assert pipeline.read(new.get("change", correlation_id="old-1")) == VALUES
    new.close()
