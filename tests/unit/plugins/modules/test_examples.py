"""Every module's EXAMPLES run, as written, with ansible-playbook against a temporary local store.

Which example tasks run is decided by one documented rule (``skip_reason``): a task is left out when it
needs something outside the example itself, namely
  - a record that must already exist, named by its number (CHG0000042, INC0000007);
  - another backend than ``local`` (the examples for ServiceNow);
  - a file of the user's (``path``, ``policy``) other than the ``bundle_path`` the test provides;
  - a record it finds by ``correlation_id`` without creating it (no ``short_description`` in the task);
  - a variable that neither an earlier run task registers nor the test provides (``PROVIDED``, and
    ``change``: the test opens a change first, as the examples assume a play that opened one; it also
    registers the CI web01, which the examples take to be in the CMDB, as an incident's CI must be);
  - a step of a process the example leaves to people (``NEEDS_PEOPLE``, each with its reason).
Everything else runs in order, in one play per module, and must succeed. A module whose examples all
need the outside world is listed in ``NOTHING_SELF_CONTAINED``; every other module runs at least one.
"""

import os
import re
import subprocess
import sys

import pytest
import yaml


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py"))
COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]
RECORD_NUMBER = re.compile(r"\b(CHG|INC)\d{7}\b")
JINJA_NAME = re.compile(r"{{-?\s*([A-Za-z_][A-Za-z0-9_]*)")
# Names every play has (Ansible's magic variables, the loop variable, lookups and functions), and
# ansible_failed_result, which the incident example reads through default() outside a rescue section.
BUILTIN_NAMES = {"lookup", "query", "now", "omit", "item", "playbook_dir", "ansible_play_hosts",
                 "ansible_play_hosts_all", "inventory_hostname", "ansible_failed_result"}
PROVIDED = {"release": "1.4.2"}
FILE_OPTIONS = ("path", "policy")
NEEDS_PEOPLE = {
    "Start work once approved and scheduled": "the CAB's approvals come between asking and starting",
    "Close it with the outcome": "follows the start of the work, which needs the CAB's approvals",
}
NOTHING_SELF_CONTAINED: dict[str, str] = {}  # today every module has at least one self-contained example
SETUP = {"name": "Test set-up: the change the examples refer to as `change`",
         "opsgate.itsm.change_request": {"correlation_id": "examples-setup", "short_description": "Examples"},
         "register": "change"}
SETUP_CI = {"name": "Test set-up: the CI the examples name, in the CMDB",
            "opsgate.itsm.configuration_item": {"name": "web01", "ci_class": "linux_server"}}


def _examples(module):
    source = open(os.path.join(ROOT, "plugins", "modules", f"{module}.py"), encoding="utf-8").read()
    namespace = {}
    exec(compile(source, module, "exec"), namespace)  # noqa: S102 - our own documentation module
    return yaml.safe_load(namespace["EXAMPLES"])


def _module_args(task):
    return next((args for key, args in task.items() if key.startswith("opsgate.itsm.")), {}) or {}


def skip_reason(task, known_names):
    """Why an example task cannot run on its own, or None when it can (the rule in the docstring)."""
    text = yaml.safe_dump(task)
    args = _module_args(task)
    if RECORD_NUMBER.search(text):
        return f"names an existing record ({RECORD_NUMBER.search(text).group(0)})"
    if task["name"] in NEEDS_PEOPLE:
        return NEEDS_PEOPLE[task["name"]]
    if "correlation_id" in args and "short_description" not in args:
        return "finds a record by correlation_id that the example does not create"
    if args.get("backend", "local") != "local":
        return f"uses the {args['backend']} backend"
    user_files = [key for key in FILE_OPTIONS if key in args and args[key] != "{{ bundle_path }}"]
    if user_files:
        return f"reads a user's file ({user_files[0]})"
    missing = sorted(set(JINJA_NAME.findall(text)) - known_names)
    return f"needs variable(s) {', '.join(missing)}" if missing else None


def runnable(tasks):
    known = BUILTIN_NAMES | set(PROVIDED) | {"bundle_path", SETUP["register"]}
    chosen, skipped = [], []
    for task in tasks:
        reason = skip_reason(task, known)
        if reason:
            skipped.append((task["name"], reason))
            continue
        chosen.append(task)
        known |= {task["register"]} if "register" in task else set()
    return chosen, skipped


def test_the_rule_skips_what_needs_the_outside_world():
    known = BUILTIN_NAMES | set(PROVIDED)
    assert skip_reason({"name": "x", "opsgate.itsm.change_gate": {"number": "CHG0000042"}}, known)
    assert skip_reason({"name": "x", "opsgate.itsm.incident": {"backend": "servicenow"}}, known)
    assert skip_reason({"name": "x", "opsgate.itsm.attachment": {"path": "/var/log/x.log"}}, known)
    assert skip_reason({"name": "x", "opsgate.itsm.incident": {"number": "{{ change.record.number }}"}}, known)
    assert skip_reason({"name": "x", "opsgate.itsm.change_request": {"short_description": "{{ release }}"}}, known) is None


@pytest.mark.parametrize("module", MODULES)
def test_the_self_contained_examples_run(module, tmp_path):
    chosen, skipped = runnable(_examples(module))
    if module in NOTHING_SELF_CONTAINED:
        assert not chosen, f"{module} now has a self-contained example: remove it from NOTHING_SELF_CONTAINED"
        pytest.skip(NOTHING_SELF_CONTAINED[module])
    assert chosen, f"no example of {module} runs on its own: {skipped}"
    bundle = tmp_path / "diagnostics.tar.gz"
    bundle.write_bytes(b"diagnostics")
    play = [{"name": f"EXAMPLES of opsgate.itsm.{module}", "hosts": "localhost", "gather_facts": False,
             "vars": dict(PROVIDED, bundle_path=str(bundle)), "tasks": [SETUP, SETUP_CI, *chosen]}]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ITSM_", "ANSIBLE_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE, ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_NOCOLOR="1",
               ITSM_BACKEND="local", ITSM_LOCAL_DB=str(tmp_path / "itsm.sqlite"), ITSM_OUTBOX=str(tmp_path / "outbox.sqlite"))
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               str(playbook)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # Every chosen task ran (a loop over an empty result counts as skipped) and none failed.
    recap = re.search(r"ok=(\d+)\s+changed=\d+\s+unreachable=0\s+failed=0\s+skipped=(\d+)", done.stdout)
    assert recap and int(recap.group(1)) + int(recap.group(2)) == len(chosen) + 2, done.stdout[-2000:]
