"""The README shows what the repository runs: the tour's playbook verbatim, the commands the tests run, the line
`make install` prints. A checkout-level test (it reads the Makefile, which the built collection does not ship).

The commands themselves are run as shown by test_make_demo.py (the tour, `ansible-doc` from a new shell, the
"Try it against ServiceNow" commands, what `make demo` prints) and by the integration targets playbook_tour and
playbook_flush_outbox.
"""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path: str) -> str:
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return handle.read()


def section(title: str) -> str:
    """The README's text under the level-2 heading TITLE, up to the next one."""
    readme = read("README.md")
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end >= 0 else None]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of LANGUAGE in TEXT, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_the_tour_shows_playbooks_tour_yml_verbatim():
    assert blocks(section("The 60-second tour"), "yaml") == [read("playbooks", "tour.yml")]


def test_the_tour_command_is_the_one_its_integration_target_runs():
    command = blocks(section("The 60-second tour"), "sh")[0].splitlines()
    assert command[-1] == "ansible-playbook -i playbooks/inventory playbooks/tour.yml"
    assert command[-1] in read("tests", "integration", "targets", "playbook_tour", "runme.sh")


@pytest.fixture(scope="module")
def installed_export_line() -> str:
    """The line `make install` prints for a new shell, written for the checkout's root as the README does."""
    dry_run = subprocess.run(["make", "--no-print-directory", "-n", "-C", ROOT, "install"], capture_output=True,
                             text=True, check=True, env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
    printed = re.search(r"use it from a new shell with: (export [^'\n]*)", dry_run.stdout)
    assert printed, dry_run.stdout
    return printed.group(1).replace(ROOT, "$PWD")


def test_the_readme_export_lines_are_what_make_install_prints(installed_export_line):
    readme = read("README.md")
    shown = set(re.findall(r"^export ANSIBLE_COLLECTIONS_PATH=.*$", readme, flags=re.MULTILINE))
    shown |= set(re.findall(r"`(export ANSIBLE_COLLECTIONS_PATH=[^`]*)`", readme))
    assert shown == {installed_export_line}


def test_the_module_documentation_step_gives_the_export_line(installed_export_line):
    step = blocks(section("Modules"), "sh")
    assert step == [f"{installed_export_line}\nansible-doc opsgate.itsm.change_request\n"]


def test_the_flush_command_is_the_playbooks_own_and_names_a_callback():
    # An empty ANSIBLE_CALLBACKS_ENABLED= makes ansible-core 2.19 fail every command; the target playbook_flush_outbox
    # runs the README's command.
    readme_commands = set(re.findall(r"`(ANSIBLE_CALLBACKS_ENABLED=[^`]*flush_outbox\.yml)`", read("README.md")))
    playbook_commands = set(re.findall(r"^#   (ANSIBLE_CALLBACKS_ENABLED=\S+ ansible-playbook playbooks/flush_outbox\.yml)$",
                                       read("playbooks", "flush_outbox.yml"), flags=re.MULTILINE))
    assert readme_commands == playbook_commands == {
        "ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.default ansible-playbook playbooks/flush_outbox.yml"}
