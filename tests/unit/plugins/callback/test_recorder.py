"""The recorder callback, driven with the events ansible-playbook sends, against a real local store."""

import hashlib
import json
import os
import subprocess
import sys
import types

import pytest
from ansible.plugins.callback import CallbackBase

from ansible_collections.opsgate.itsm.plugins.callback import recorder as plugin
from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]


class Display:
    def __init__(self):
        self.warnings, self.lines = [], []

    def warning(self, text):
        self.warnings.append(text)

    def display(self, text, *args, **kwargs):
        self.lines.append(text)

    def vv(self, text, *args, **kwargs):
        self.lines.append(text)

    verbosity = 0


class Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name

    def get_vars(self):
        return {"itsm_incident_urgency": "high"} if self.name == "web2" else {}


class Task:
    def __init__(self, name, action="ansible.builtin.command"):
        self.name, self.action, self._role = name, action, None

    def get_name(self):
        return self.name


class Play:
    hosts = ["web"]
    vars = {"itsm_incident_impact": "high"}

    def get_name(self):
        return "Deploy web"


class Stats:
    def __init__(self, recap):
        self.recap = recap
        self.processed = dict.fromkeys(recap, 1)

    def summarize(self, host):
        return dict({key: 0 for key in ("ok", "changed", "failures", "unreachable", "skipped", "rescued",
                                        "ignored")}, **self.recap[host])


def result(host, task, **data):
    return types.SimpleNamespace(host=Host(host), task=Task(task), result=data)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ITSM_LOCAL_DB", str(tmp_path / "itsm.sqlite"))
    monkeypatch.setenv("ITSM_OUTBOX", str(tmp_path / "outbox.sqlite"))
    monkeypatch.setenv("ITSM_RECORDER_RUN_ID", "job-7")
    for name in ("ITSM_BACKEND", "ITSM_CHANGE", "JOB_ID", "CI_PIPELINE_ID", "GITHUB_RUN_ID", plugin.PLAYBOOK_ENV,
                 plugin.PLAY_HOSTS_ENV, plugin.CHANGE_ENV):
        monkeypatch.delenv(name, raising=False)
    # The tests' own CI (if any) is not the pipeline of the runs they record.
    for name in [system.present[0] for system in pipeline.SYSTEMS] + [name for name in os.environ
                                                                      if name.startswith(pipeline.OVERRIDE_PREFIX)]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(plugin.context, "CLIARGS", {"check": False, "subset": "web", "tags": ("all",)})
    return tmp_path


@pytest.fixture(autouse=True)
def no_process_hooks(monkeypatch):
    """The exit hooks are the test's to call: none is left behind in the test process."""
    monkeypatch.setattr(plugin.atexit, "register", lambda *args: None)
    monkeypatch.setattr(plugin.signal, "signal", lambda *args: None)


@pytest.fixture(scope="module")
def definitions():
    """The plugin's options with their ini/env sources, as ansible-doc resolves them (fragments merged)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE)
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    output = subprocess.run([ansible_doc, "-t", "callback", "--json", "opsgate.itsm.recorder"], env=env, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output)["opsgate.itsm.recorder"]["doc"]["options"]


@pytest.fixture
def callback(definitions):
    """Build the plugin as the callback loader does: its options registered with the config manager."""
    from ansible import constants as C

    C.config.initialize_plugin_configuration_definitions("callback", "opsgate.itsm.recorder", definitions)

    def build(**direct):
        module = plugin.CallbackModule(display=Display())
        module._load_name = "opsgate.itsm.recorder"
        if hasattr(module, "_init_callback_methods"):  # ansible-core 2.19+: the list of methods it dispatches to
            module._init_callback_methods()
        module.set_options(direct=direct or None)
        return module
    return build


def play_run(module, recap, events):
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    module.v2_playbook_on_play_start(Play())
    for kind, event, ignored in events:
        if kind == "unreachable":
            module.v2_runner_on_unreachable(event)
        else:
            module.v2_runner_on_failed(event, ignore_errors=ignored)
    module.v2_playbook_on_stats(Stats(recap))


def backend(tmp_path):
    return build_backend(ConnectionSettings(local_db=str(tmp_path / "itsm.sqlite")))


RECAP = {"web1": {"ok": 3, "rescued": 1}, "web2": {"ok": 1, "failures": 1, "rescued": 1},
         "web3": {"unreachable": 1}}
EVENTS = [
    ("failed", result("web1", "Migrate", msg="lock timeout"), False),
    ("failed", result("web2", "Migrate", msg="lock timeout"), False),
    ("failed", result("web2", "Restart", msg="exit 3 password=hunter2"), False),
    ("unreachable", result("web3", "Gather", msg="ssh: connection refused"), False),
]


def test_a_run_becomes_one_closed_change_and_one_incident_per_unhandled_failure(callback, store):
    play_run(callback(), RECAP, EVENTS)
    itsm = backend(store)
    [change] = list(itsm.find("change", {}))
    assert change["state"] == "closed" and change["close_code"] == "unsuccessful"
    assert change["short_description"] == "Ansible run: site.yml, limit web"
    [note] = [entry["text"] for entry in itsm.journal("change", change)]
    assert "web2: 1 0 1 0 0 1 0" in note and "Restart (Deploy web) failed" in note
    incidents = {record["short_description"]: record for record in itsm.find("incident", {})}
    assert sorted(incidents) == ["Ansible task 'Gather' unreachable on web3 (Deploy web)",
                                 "Ansible task 'Restart' failed on web2 (Deploy web)"]
    restart = incidents["Ansible task 'Restart' failed on web2 (Deploy web)"]
    assert restart["caused_by"] == change["number"] and restart["impact"] == "high"
    assert restart["urgency"] == "high" and "hunter2" not in restart["description"]


def test_the_same_failure_in_the_next_run_updates_the_open_incident(callback, store):
    play_run(callback(), RECAP, EVENTS)
    play_run(callback(), RECAP, EVENTS)
    itsm = backend(store)
    assert len(list(itsm.find("change", {}))) == 2
    incidents = list(itsm.find("incident", {}))
    assert len(incidents) == 2
    for record in incidents:
        assert [entry["text"][:13] for entry in itsm.journal("incident", record)] == ["Recurrence #2"]


def test_a_run_with_only_rescued_failures_closes_with_issues_and_raises_nothing(callback, store):
    play_run(callback(), {"web1": {"ok": 2, "rescued": 1}}, EVENTS[:1])
    itsm = backend(store)
    assert [c["close_code"] for c in itsm.find("change", {})] == ["successful_issues"]
    assert list(itsm.find("incident", {})) == []


def test_a_backend_outage_queues_the_records_and_the_next_run_sends_them(callback, store):
    (store / "down").write_text("a file where the store's directory should be")
    module = callback(local_db=str(store / "down" / "itsm.sqlite"))
    play_run(module, RECAP, EVENTS)
    assert any("queued in the outbox" in text for text in module._display.warnings)
    box = ob.Outbox(str(store / "outbox.sqlite"))
    assert [item["type"] for item in box.list()] == ["change", "incident", "incident"]
    (store / "down").unlink()
    (store / "down").mkdir()
    play_run(callback(local_db=str(store / "down" / "itsm.sqlite")), {"web1": {"ok": 1}}, [])
    itsm = build_backend(ConnectionSettings(local_db=str(store / "down" / "itsm.sqlite")))
    assert [c["close_code"] for c in itsm.find("change", {})] == ["unsuccessful", "successful"]
    assert len(list(itsm.find("incident", {}))) == 2 and box.list() == []


def test_attaching_to_an_existing_change(callback, store):
    itsm = backend(store)
    existing = itsm.create("change", {"type": "standard", "short_description": "Planned work"})
    play_run(callback(change=existing["number"], end_state="review"), {"web1": {"ok": 1}}, [])
    [change] = list(itsm.find("change", {}))
    assert change["number"] == existing["number"] and change["state"] == "review"


def test_bad_configuration_disables_the_recorder_with_a_warning(callback, store):
    module = callback(incident_key="{play}/{nonsense}")
    assert module.disabled and "incident_key" in module._display.warnings[0]
    play_run(module, RECAP, EVENTS)
    assert list(backend(store).find("change", {})) == []


def test_check_mode_runs_are_not_recorded(callback, store, monkeypatch):
    monkeypatch.setattr(plugin.context, "CLIARGS", {"check": True})
    play_run(callback(), RECAP, EVENTS)
    assert list(backend(store).find("change", {})) == []


def test_resolve_on_success_resolves_the_incident_when_the_task_succeeds(callback, store):
    play_run(callback(), {"web2": {"failures": 1}}, [("failed", result("web2", "Restart", msg="x"), False)])
    module = callback(resolve_on_success=True)
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    module.v2_playbook_on_play_start(Play())
    module.v2_runner_on_ok(result("web2", "Restart"))
    module.v2_playbook_on_stats(Stats({"web2": {"ok": 1}}))
    assert [i["state"] for i in backend(store).find("incident", {})] == ["resolved"]


def test_an_unusable_outbox_does_not_stop_delivery_to_a_healthy_backend(callback, store, monkeypatch):
    (store / "outbox-dir").mkdir()
    monkeypatch.setenv("ITSM_OUTBOX", str(store / "outbox-dir"))
    module = callback()
    play_run(module, RECAP, EVENTS)
    assert [c["close_code"] for c in backend(store).find("change", {})] == ["unsuccessful"]
    assert len(list(backend(store).find("incident", {}))) == 2
    assert any("outbox-dir cannot be used" in text for text in module._display.warnings)
    assert not any("could not reach" in text for text in module._display.warnings)


def test_records_that_can_be_neither_sent_nor_queued_are_printed_without_secrets(callback, store, monkeypatch):
    (store / "outbox-dir").mkdir()
    (store / "down").write_text("a file where the store's directory should be")
    monkeypatch.setenv("ITSM_OUTBOX", str(store / "outbox-dir"))
    module = callback(local_db=str(store / "down" / "itsm.sqlite"))
    play_run(module, RECAP, EVENTS)
    [printed] = [text for text in module._display.warnings if "enter them by hand" in text]
    assert printed.count('"type": "incident"') == 2 and '"type": "change"' in printed and "hunter2" not in printed


def test_the_recorder_uses_its_own_short_timeout_and_retries(callback, store, monkeypatch):
    monkeypatch.setenv("ITSM_TIMEOUT", "30")
    monkeypatch.setenv("ITSM_RETRIES", "3")
    assert (callback().connection.timeout, callback().connection.retries) == (10.0, 1)
    module = callback(recorder_timeout=2.5, recorder_retries=0)
    assert (module.connection.timeout, module.connection.retries) == (2.5, 0)


def test_an_interrupted_run_ends_its_change_once_as_unsuccessful(callback, store, monkeypatch):
    module = callback()
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    module._end_interrupted("terminated by SIGTERM")
    module._end_interrupted("the run ended before its recap")
    module.v2_playbook_on_stats(Stats({"web1": {"ok": 1}}))
    [change] = list(backend(store).find("change", {}))
    assert change["state"] == "closed" and change["close_code"] == "unsuccessful"
    [note] = [entry["text"] for entry in backend(store).journal("change", change)]
    assert note.startswith("Ansible run interrupted (terminated by SIGTERM)")


def test_rescue_runs_only_for_the_block_part_of_a_block_with_a_rescue():
    from ansible.playbook.block import Block
    from ansible.playbook.task import Task as AnsibleTask

    def block(tasks=(), rescue=(), always=(), parent=None):
        made = Block(parent_block=parent)
        made.block, made.rescue, made.always = list(tasks), list(rescue), list(always)
        for child in (*made.block, *made.rescue, *made.always):
            child._parent = made
        return made

    real, cleanup_step, handler = AnsibleTask(), AnsibleTask(), AnsibleTask()
    cleanup = block([cleanup_step], rescue=[handler])
    block([real], always=[cleanup])
    assert not plugin.rescue_runs(real) and plugin.rescue_runs(cleanup_step) and not plugin.rescue_runs(handler)


class TwoGroupPlay(Play):
    hosts = ["web", "db"]


def test_the_playbook_and_the_play_host_pattern_are_published_for_the_role_key(callback, store):
    """The incident_on_failure role's default key reads these two; with them it hashes to the recorder's id."""
    module = callback()
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    module.v2_playbook_on_play_start(TwoGroupPlay())
    assert (os.environ[plugin.PLAYBOOK_ENV], os.environ[plugin.PLAY_HOSTS_ENV]) == ("site.yml", "web,db")
    module.v2_runner_on_failed(result("web1", "Migrate", msg="lock timeout"))
    module.v2_playbook_on_stats(Stats({"web1": {"failures": 1}}))
    role_key = f"{os.environ[plugin.PLAYBOOK_ENV]}/Deploy web/Migrate/{os.environ[plugin.PLAY_HOSTS_ENV]}"
    [incident] = list(backend(store).find("incident", {}))
    assert incident["correlation_id"] == "ansible-failure-" + hashlib.sha256(role_key.encode()).hexdigest()[:24]


def test_the_runs_change_is_published_for_the_role_and_forgotten_by_the_next_playbook(callback, store, monkeypatch):
    module = callback()
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    [change] = list(backend(store).find("change", {}))
    assert os.environ[plugin.CHANGE_ENV] == change["number"]
    monkeypatch.setattr(plugin.context, "CLIARGS", {"check": True})
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/dry.yml"))
    assert plugin.CHANGE_ENV not in os.environ


def test_each_play_publishes_its_own_host_pattern_even_in_check_mode(callback, store, monkeypatch):
    monkeypatch.setattr(plugin.context, "CLIARGS", {"check": True})
    module = callback()
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/other.yml"))
    module.v2_playbook_on_play_start(Play())
    assert os.environ[plugin.PLAY_HOSTS_ENV] == "web"
    module.v2_playbook_on_play_start(TwoGroupPlay())
    assert (os.environ[plugin.PLAYBOOK_ENV], os.environ[plugin.PLAY_HOSTS_ENV]) == ("other.yml", "web,db")
    assert module.run is None and module.delivery is None


@pytest.mark.parametrize("resolve_on_success", [False, True])
def test_successes_are_dispatched_to_the_recorder_only_for_resolve_on_success(callback, store, resolve_on_success):
    """ansible-core copies each task result for every callback listed as implementing v2_runner_on_ok."""
    module = callback(resolve_on_success=resolve_on_success)
    if not hasattr(CallbackBase, "_init_callback_methods"):
        # Before 2.19 ansible-core keeps no such list and calls every method: the recorder leaves none behind.
        assert not hasattr(module, "_implemented_callback_methods")
        return
    implemented = module._implemented_callback_methods
    assert ("v2_runner_on_ok" in implemented) is resolve_on_success
    assert {"v2_runner_on_failed", "v2_runner_on_unreachable", "v2_playbook_on_stats"} <= implemented


def test_loading_the_callback_imports_no_backend():
    """The backends (and requests) are imported when a recorded playbook starts, not when the callback loads."""
    code = ("import sys; import ansible_collections.opsgate.itsm.plugins.callback.recorder; "
            "utils = 'ansible_collections.opsgate.itsm.plugins.module_utils.'; "
            "print(sorted(m for m in sys.modules if m == 'requests' or m.startswith((utils + 'backends', utils + '_outbox'))))")
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_BASE)
    output = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert output.strip() == "[]"


# -- nothing is lost, whatever the transport raises; what happened is said plainly (issue 12) ------------

def test_the_end_of_the_run_says_the_change_was_closed_unsuccessful_not_updated(callback, store):
    module = callback()
    play_run(module, RECAP, EVENTS)
    assert "opsgate.itsm.recorder: CHG0000001 created, now implement" in module._display.lines
    assert ("opsgate.itsm.recorder: change CHG0000001 closed unsuccessful; incident INC0000001 created; "
            "incident INC0000002 created") in module._display.lines


def test_a_ca_path_that_does_not_exist_queues_the_runs_records_and_names_the_option(callback, store):
    missing = str(store / "nowhere" / "ca.pem")
    module = callback(backend="servicenow", url="https://127.0.0.1:9", username="admin", password="pw",
                      ca_path=missing)
    play_run(module, RECAP, EVENTS)
    assert not module.disabled
    start, queued = module._display.warnings
    assert start.startswith(f"opsgate.itsm.recorder cannot use the servicenow backend (ca_path: {missing} does not "
                            "exist; expected a PEM file")
    assert queued.startswith(f"opsgate.itsm.recorder: 3 records queued in the outbox {store / 'outbox.sqlite'}")
    assert queued.endswith("once the setting is fixed.")
    box = ob.Outbox(str(store / "outbox.sqlite"))
    assert [(item["type"], item["state"], item["target"]) for item in box.list()] == [
        ("change", "pending", "servicenow:https://127.0.0.1:9")] + [
        ("incident", "pending", "servicenow:https://127.0.0.1:9")] * 2
    assert all(item["last_error"].startswith(f"ca_path: {missing} does not exist") for item in box.list())


def _raising_backend(monkeypatch, error, where):
    from ansible_collections.opsgate.itsm.plugins.plugin_utils import _recorder_delivery
    from tests.unit.plugins.module_utils.transport_errors import Raising

    def build(settings, warn=None):
        if where == "build":
            raise error
        return Raising(error)

    monkeypatch.setattr(_recorder_delivery, "build_backend", build)


def _every_error():
    from tests.unit.plugins.module_utils.transport_errors import REFUSED, WAITING, error_id

    return [pytest.param(error, id=error_id(error)) for error in WAITING + REFUSED]


@pytest.mark.parametrize("where", ["build", "call"])
@pytest.mark.parametrize("error", _every_error())
def test_whatever_the_backend_raises_every_record_ends_in_the_outbox(callback, store, monkeypatch, error, where):
    from tests.unit.plugins.module_utils.transport_errors import SECRET

    _raising_backend(monkeypatch, error, where)
    module = callback(password=SECRET)
    play_run(module, RECAP, EVENTS)  # never raises
    assert not module.disabled
    box = ob.Outbox(str(store / "outbox.sqlite"))
    assert sorted(item["type"] for item in box.list()) == ["change", "incident", "incident"]
    assert all(item["last_error"] for item in box.list())
    assert module._display.warnings and not any(SECRET in text for text in module._display.warnings)
    assert not any("enter them by hand" in text for text in module._display.warnings)


def test_itsm_change_naming_no_change_warns_at_start_and_keeps_the_end_as_refused(callback, store):
    module = callback(change="CHG9999999")
    play_run(module, RECAP, EVENTS)
    start = module._display.warnings[0]
    assert start.startswith("opsgate.itsm.recorder: the change option (ITSM_CHANGE) names a change that does not "
                            f"exist: change: CHG9999999 does not exist on the local backend (local:{store / 'itsm.sqlite'})")
    assert "could not reach" not in start and "unset it" in start
    assert any("refused the end of change CHG9999999 for good" in text for text in module._display.warnings)
    [item] = ob.Outbox(str(store / "outbox.sqlite")).list()
    assert item["state"] == "failed" and item["permanent"] and "CHG9999999 does not exist" in item["last_error"]
    # The incidents still reached the backend; the next run says, at its start, what still waits and why.
    assert len(list(backend(store).find("incident", {}))) == 2
    following = callback()
    play_run(following, {"web1": {"ok": 1}}, [])
    assert any("1 item in" in text and "was refused for good" in text for text in following._display.warnings)


@pytest.mark.parametrize("option, value", [("recorder_timeout", 0), ("recorder_timeout", -1.0),
                                           ("recorder_retries", -1)])
def test_a_recorder_budget_requests_cannot_use_disables_the_recorder_naming_it(callback, store, option, value):
    module = callback(**{option: value})
    assert module.disabled and module._display.warnings[0].startswith(
        f"opsgate.itsm.recorder is disabled for this run: {option}: ")
    play_run(module, RECAP, EVENTS)


# -- AWX / Automation Platform: an outbox that goes with the job (issue 17) ---------------------------------------

def _awx_job(monkeypatch, private_data_dir):
    monkeypatch.setenv("AWX_HOST", "https://awx.example.com")
    monkeypatch.setenv("JOB_ID", "42")
    monkeypatch.setenv("AWX_ISOLATED_DATA_DIR", str(private_data_dir / "artifacts" / "42"))


def _lost_warnings(module):
    return [text for text in module._display.warnings if "does not outlive the job" in text]


def test_an_awx_job_with_an_undeclared_outbox_is_warned_once_per_run(callback, store, monkeypatch):
    _awx_job(monkeypatch, store / "runner")
    module = callback()
    play_run(module, RECAP, EVENTS)
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/second.yml"))  # a second playbook, same run

    [warning] = _lost_warnings(module)
    assert "AWX / Automation Platform job 42" in warning and str(store / "outbox.sqlite") in warning
    assert "ITSM_OUTBOX_DURABLE=true" in warning and "Paths to expose to isolated jobs" in warning


def test_an_awx_job_with_a_declared_durable_outbox_is_not_warned(callback, store, monkeypatch):
    _awx_job(monkeypatch, store / "runner")
    monkeypatch.setenv("ITSM_OUTBOX_DURABLE", "true")
    module = callback()
    play_run(module, RECAP, EVENTS)
    assert _lost_warnings(module) == []


def test_an_outbox_in_the_private_data_dir_is_warned_even_when_declared_durable(callback, store, monkeypatch):
    runner = store / "runner"
    monkeypatch.setenv("AWX_ISOLATED_DATA_DIR", str(runner / "artifacts" / "ident"))
    monkeypatch.setenv("ITSM_OUTBOX", str(runner / ".ansible" / "outbox.sqlite"))
    monkeypatch.setenv("ITSM_OUTBOX_DURABLE", "true")
    module = callback()
    play_run(module, RECAP, EVENTS)
    [warning] = _lost_warnings(module)
    assert f"inside the job's private data dir {runner}" in warning and "ansible-runner run" in warning


def test_outside_a_job_nothing_is_said_about_the_outbox(callback, store, monkeypatch):
    for name in ("AWX_HOST", "AWX_ISOLATED_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    module = callback()
    play_run(module, RECAP, EVENTS)
    assert _lost_warnings(module) == []


GITLAB = dict(GITLAB_CI="true", CI_PROJECT_PATH="acme/shop", CI_COMMIT_BRANCH="main", CI_COMMIT_SHA="c0ffee" * 6 + "c0ff",
              CI_COMMIT_TIMESTAMP="2026-12-01T10:15:30+01:00", CI_PIPELINE_URL="https://gitlab.example.com/p/991",
              CI_PIPELINE_IID="17", GITLAB_USER_LOGIN="carol", CI_PIPELINE_ID="991", CI_JOB_NAME="deploy",
              CI_JOB_TOKEN="glcbt-job-token-secret", CI_REGISTRY_PASSWORD="registry-password-secret")


def gate_events(module, skipped_on=()):
    """A change_gate task started on web1 and web2, skipped (its ``when``) on ``skipped_on``."""
    gate = Task("Change gate", action="opsgate.itsm.change_gate")
    gate._uuid = "gate-1"
    for host in ("web1", "web2"):
        module.v2_runner_on_start(Host(host), gate)
    for host in skipped_on:
        module.v2_runner_on_skipped(types.SimpleNamespace(host=Host(host), task=gate, result={"skipped": True}))


def record_run(module, during=None):
    module.v2_playbook_on_start(types.SimpleNamespace(_file_name="/srv/site.yml"))
    module.v2_playbook_on_play_start(Play())
    other = Task("Deploy")
    other._uuid = "deploy-1"
    module.v2_runner_on_start(Host("web1"), other)
    if during:
        during(module)
    module.v2_playbook_on_stats(Stats({"web1": {"ok": 2}, "web2": {"ok": 2}}))


def test_a_run_in_a_ci_pipeline_gives_its_change_the_pipeline_and_no_token(callback, store, monkeypatch):
    for name, value in GITLAB.items():
        monkeypatch.setenv(name, value)
    module = callback()
    record_run(module)
    itsm = backend(store)
    [change] = list(itsm.find("change", {}))
    notes = [entry["text"] for entry in itsm.journal("change", change)]
    expected = {"system": "gitlab_ci", "repository": "acme/shop", "branch": "main", "commit": GITLAB["CI_COMMIT_SHA"],
                "commit_time": "2026-12-01T09:15:30Z", "url": "https://gitlab.example.com/p/991", "run_number": "17",
                "triggered_by": "carol", "job_id": "991", "job_template": "deploy"}
    assert pipeline.read(change) == dict(expected, gate_used=False)
    assert "Repository: acme/shop" in change["description"] and "Pipeline: https://gitlab.example.com/p/991" in notes[0]
    everything = repr((change, notes, module._display.lines, module._display.warnings))
    assert "glcbt-job-token-secret" not in everything and "registry-password-secret" not in everything


def test_the_pipeline_option_off_writes_none(callback, store, monkeypatch):
    for name, value in GITLAB.items():
        monkeypatch.setenv(name, value)
    record_run(callback(pipeline=False))
    [change] = list(backend(store).find("change", {}))
    assert pipeline.read(change) == {"gate_used": False} and "pipeline_commit" not in change["fields"]


def test_a_bad_commit_time_is_left_out_with_a_warning_and_the_rest_is_kept(callback, store, monkeypatch):
    for name, value in dict(GITLAB, CI_COMMIT_TIMESTAMP="yesterday").items():
        monkeypatch.setenv(name, value)
    module = callback()
    record_run(module)
    [change] = list(backend(store).find("change", {}))
    assert "commit_time" not in pipeline.read(change) and pipeline.read(change)["commit"] == GITLAB["CI_COMMIT_SHA"]
    assert any("commit_time is left out" in text for text in module._display.warnings)


@pytest.mark.parametrize("skipped_on, used", [((), True), (("web1",), True), (("web1", "web2"), False)])
def test_the_change_says_whether_a_change_gate_task_ran(callback, store, skipped_on, used):
    record_run(callback(), during=lambda module: gate_events(module, skipped_on))
    [change] = list(backend(store).find("change", {}))
    assert pipeline.read(change) == {"gate_used": used}
    assert change["close_notes"].endswith(pipeline.gate_line(used))


def test_a_run_without_a_gate_task_says_so(callback, store):
    record_run(callback())
    [change] = list(backend(store).find("change", {}))
    assert pipeline.read(change) == {"gate_used": False}


def test_the_documentation_lists_every_variable_the_table_reads(definitions, ansible_doc):
    # One fragment (doc_fragments/pipeline.py) for the recorder and the change_request module: ansible-doc shows it.
    recorder_doc = ansible_doc("-t", "callback", "opsgate.itsm.recorder")["opsgate.itsm.recorder"]["doc"]
    module_doc = ansible_doc("opsgate.itsm.change_request")["opsgate.itsm.change_request"]["doc"]
    assert [note for note in recorder_doc["notes"] if "GITHUB_SHA" in note] == [
        note for note in module_doc["notes"] if "GITHUB_SHA" in note]
    text = " ".join(" ".join(recorder_doc["notes"]).split())
    for system in pipeline.SYSTEMS:
        assert system.label in text
        for name in pipeline.variable_names(system):
            name = name.removeprefix("vars.")  # an extra variable (AWX), named as such in the text
            if name.startswith("tower_"):  # AWX's older names, "C(tower_*) names too"
                assert "C(tower_*)" in text
                continue
            assert f"C({name})" in text or f"C({name}=" in text, (system.name, name)
    for key in pipeline.KEYS:
        assert f"C({pipeline.OVERRIDE_PREFIX}{key.upper()})" in text
        assert f"C({key})" in " ".join(" ".join(module_doc["options"]["pipeline"]["description"]).split())
    assert definitions["pipeline"]["default"] is True


def test_a_failure_recurring_past_problem_after_raises_one_problem_then_updates_it(callback, store):
    failing = [("failed", result("web2", "Restart", msg="exit 3 password=hunter2"), False)]
    recap = {"web2": {"ok": 1, "failures": 1}}
    for _run in range(2):
        play_run(callback(problem_after=3), recap, failing)
    itsm = backend(store)
    assert list(itsm.find("problem", {})) == []
    play_run(callback(problem_after=3), recap, failing)
    [problem] = list(itsm.find("problem", {}))
    [incident] = list(itsm.find("incident", {}))
    changes = list(itsm.find("change", {}))
    assert problem["correlation_id"] == incident["correlation_id"].replace("ansible-failure-", "ansible-problem-")
    assert incident["problem"] == problem["number"] and "hunter2" not in problem["description"]
    assert "Task: Restart" in problem["description"] and "Hosts: web2" in problem["description"]
    notes = [entry["text"] for entry in itsm.journal("problem", problem)]
    assert len(notes) == 1 and notes[0].startswith(f"Change {changes[2]['number']} failed: Ansible task 'Restart'")
    # a fourth failure updates the open problem: one more note, still one problem
    play_run(callback(problem_after=3), recap, failing)
    assert [p["number"] for p in itsm.find("problem", {})] == [problem["number"]]
    notes = [entry["text"] for entry in itsm.journal("problem", problem)]
    fourth = list(itsm.find("change", {}))[3]
    assert [note.split(" failed")[0] for note in notes] == [f"Change {changes[2]['number']}", f"Change {fourth['number']}"]


def test_problem_after_off_raises_no_problem(callback, store):
    failing = [("failed", result("web2", "Restart", msg="boom"), False)]
    for _run in range(4):
        play_run(callback(), {"web2": {"failures": 1}}, failing)
    assert list(backend(store).find("problem", {})) == []


@pytest.mark.parametrize("option, value", [("problem_after", 1), ("problem_after", -2), ("problem_window", 0)])
def test_a_bad_problem_threshold_disables_the_recorder_naming_it(callback, store, option, value):
    module = callback(**{option: value})
    assert module.disabled and option in module._display.warnings[0]
