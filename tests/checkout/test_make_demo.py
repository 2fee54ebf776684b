"""`make demo` and the README's commands, run as a new user runs them: in a fresh copy of the repository (the files
git would ship, as a clone has them), from shells that inherit nothing from this one but HOME and a PATH with no
virtualenv on it.

The copy builds its own .venv-demo and installs the collection with `make install`, so this takes a minute; it
runs with `make units` (tests/checkout is in the Makefile's UNIT_PATHS) and is not shipped in the collection.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_copy():
    spec = importlib.util.spec_from_file_location("collection_copy", os.path.join(ROOT, "tests", "ci", "collection_copy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_clone(dest: str) -> str:
    """Copy the files a clone would hold (tracked and new, not ignored) to DEST, a plain directory."""
    copy = _collection_copy()
    files = copy.git_files(ROOT)
    for rel in files if files is not None else copy.walked_files(ROOT):
        src, dst = os.path.join(ROOT, rel), os.path.join(dest, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    return dest


def new_shell_env(**extra: str) -> dict[str, str]:
    """What a new login shell has: HOME, a PATH without this checkout's or any virtualenv's bin, no ANSIBLE_*,
    ITSM_* or make variables."""
    venv = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
            if p and not p.startswith(ROOT) and "/.venv" not in p and not (venv and p.startswith(venv))]
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.pathsep.join(path), "LANG": "C.UTF-8",
           "ANSIBLE_NOCOLOR": "1"}
    env.update(extra)
    return env


def run(command: str, cwd: str, **extra: str) -> str:
    """Run COMMAND with bash in a new shell's environment; return its output, failing with it on an error."""
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=new_shell_env(**extra),
                            capture_output=True, text=True, check=False, timeout=900)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # ansible-doc bolds names even without a tty
    assert result.returncode == 0, f"{command!r} failed ({result.returncode}):\n{output}"
    return output


def readme_block(readme: str, title: str, language: str) -> str:
    """The first LANGUAGE block under the README's level-2 heading TITLE."""
    text = readme[readme.index(f"\n## {title}\n"):]
    return re.search(rf"^```{language}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE).group(1)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return fresh_clone(str(tmp_path_factory.mktemp("fresh-clone") / "opsgate-itsm"))


def test_make_demo_twice_then_what_it_prints_works_from_a_new_shell(clone):
    first = run("make demo", clone)
    for step in ('"msg": "CHG0000001 is assess, approval requested"', '"msg": "passed=False: CHG0000001 did not pass',
                 "Smoke test 1 failed: INC0000001 raised for change CHG0000001",
                 '"Change   CHG0000001: closed (successful_issues)"'):
        assert step in first, f"{step!r} missing:\n{first}"
    # The demo's output tells its story without an error banner or ansible-core's GroupTuple warning.
    assert not re.search(r"\[ERROR\]|GroupTuple|FAILED!", first), first
    # Only what the collection needs went into the demo's venv, none of the test toolchain.
    installed = run(".venv-demo/bin/python -m pip list --format=freeze", clone).lower()
    assert "ansible-core==2.19." in installed and "requests==" in installed and "jsonschema==" in installed
    assert not re.search(r"^(ansible-lint|molecule|pytest|antsibull-[a-z]+)==", installed, flags=re.MULTILINE), installed

    second = run("make demo", clone)
    assert "Release 1.4.2 was already deployed under CHG0000001 (closed, successful_issues); nothing to do." in second
    assert "TASK [Summary]" not in second, second

    # What the demo prints to try next, run as printed: the indented lines after "Try next, from a new shell:".
    steps = re.search(r"^Try next, from a new shell:\n((?:  \S.*\n)+)", second, flags=re.MULTILINE)
    assert steps, second
    commands = [line.strip() for line in steps.group(1).splitlines()]
    assert commands[0] == f"cd {clone}"
    assert commands[1] == (f"export ANSIBLE_COLLECTIONS_PATH={clone}/.cache/collections "
                           f"PATH={clone}/.venv-demo/bin:$PATH")
    assert "ansible-doc opsgate.itsm.change_gate" in commands
    assert any(re.match(rf"ITSM_LOCAL_DB={re.escape(clone)}/\.cache/demo/itsm\.db ansible localhost .*"
                        r"-m opsgate\.itsm\.change_request_info -a ", c) for c in commands), commands
    tried = run("\n".join(commands), "/")
    assert "MODULE opsgate.itsm.change_gate " in tried and "Checks a change request before the work it covers" in tried, tried
    assert '"correlation_id": "demo-deploy-1.4.2"' in tried and '"approver": "cab.chair"' in tried, tried
    # ... and the change report it names.
    report = re.search(r"open (\S+/report\.html) in a browser", second)
    assert report and report.group(1) == f"{clone}/.cache/demo/report.html", second
    with open(report.group(1), encoding="utf-8") as handle:
        assert "CHG0000001" in handle.read()

    run("make demo-reset", clone)
    assert not os.path.exists(os.path.join(clone, ".cache", "demo")), "make demo-reset keeps the demo's store"


def test_the_readme_commands_work_as_shown_in_a_new_shell(clone, tmp_path):
    with open(os.path.join(clone, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    # The tour: make install, the export line and ansible-playbook, on the local store (a private one here).
    tour = run(readme_block(readme, "The 60-second tour", "sh"), clone, ITSM_LOCAL_DB=str(tmp_path / "tour.db"))
    assert re.search(r"^CHG0000001 waiting for the window to open in \d+s", tour, flags=re.MULTILINE), tour
    assert '"msg": "CHG0000001 closed (successful_issues): Release 1.0 deployed. Incidents: INC0000001."' in tour, tour
    # Reading a module's documentation after make install.
    doc = run(readme_block(readme, "Modules", "sh"), clone)
    assert "MODULE opsgate.itsm.change_request " in doc and "Finds a change by" in doc, doc


def try_it(clone: str, title: str, ready: str) -> str:
    """The three commands of the README's section TITLE, after the `make install` and export line it names, each
    line as shown; the simulator's line runs in the background as its `&` says, and the next lines wait for the
    READY line it prints, as a person reading it would. Returns what the last two lines printed."""
    with open(os.path.join(clone, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    intro = readme[readme.index(f"\n## {title}\n"):]
    export = re.search(r"`(export ANSIBLE_COLLECTIONS_PATH=[^`]*)`", intro).group(1)
    start, *commands = [line for line in readme_block(readme, title, "bash").splitlines() if line]
    start = start.split("#", 1)[0].strip()
    assert start.endswith("&"), start
    # A reader runs the block once, on a machine where the simulator's state directory does not exist yet; an earlier
    # run of this test (or of the reader) left its records there, which the tour would find deployed already.
    state_dir = re.search(r"--state-dir (\S+)", start)
    if state_dir:
        shutil.rmtree(state_dir.group(1), ignore_errors=True)
    run("make install", clone)
    simulator = subprocess.Popen(["bash", "-c", f"{export}\nexec {start[:-1]}"], cwd=clone, env=new_shell_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = simulator.stdout.readline()
        assert line.startswith(ready), line
        return run("\n".join([export] + commands), clone)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)


def test_the_readme_servicenow_commands_work_as_shown(clone):
    """The three commands of "Try it against ServiceNow" (try_it)."""
    output = try_it(clone, "Try it against ServiceNow", "ServiceNow simulator ready at https://127.0.0.1:8443")
    assert "localhost | CHANGED => {" in output, output
    for shown in ('"short_description": "My first change"', '"assignment_group": "Network"', '"state": "assess"',
                  '"backend": "servicenow"'):
        assert shown in output, output


def test_the_readme_jsm_commands_work_as_shown(clone):
    """The three commands of "Try it against Jira Service Management" (try_it): the tour, unchanged, on the JSM
    simulator, each approver answering with their own login: the gate waits, passes, the change is closed."""
    output = try_it(clone, "Try it against Jira Service Management", "JSM simulator ready at https://127.0.0.1:8444")
    assert re.search(r"^changed: \[web1\] => \(item=cab\.approver\)$", output, flags=re.MULTILINE), output
    assert re.search(r"^ITSM-\d+ waiting for the window to open in \d+s", output, flags=re.MULTILINE), output
    assert re.search(r'"msg": "ITSM-\d+ closed \(successful_issues\): Release 1\.0 deployed\. Incidents: ITSM-\d+\."',
                     output), output
    assert "cab-token" not in output and "admin-token" not in output, output
