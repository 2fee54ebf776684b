#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the collection tarball from the working tree, install it, and check what users will get.

Run with the Python of the virtualenv that holds ansible-core (the tools are taken from its bin/).

  build_and_doc.py --install-only   build into .cache/dist and install into .cache/collections
  build_and_doc.py                  the same, then check:
    - the tarball holds what it must (metadata, licence, every module) and none of the local
      droppings build_ignore is there to keep out (venvs, caches, test output, simulators, ...);
    - meta/runtime.yml's `itsm` action group lists exactly plugins/modules/*.py, alphabetically,
      and every module has its action plugin;
    - `ansible-doc` renders every plugin and role of the INSTALLED copy without an error or warning;
    - `ansible-builder introspect` finds the Python requirements an execution environment needs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, ".cache")
DIST = os.path.join(CACHE, "dist")
COLLECTIONS = os.path.join(CACHE, "collections")
BIN = os.path.dirname(sys.executable)
FQCN = "opsgate.itsm"

# What must never be shipped: top-level folders, folders at any depth, suffixes and single files.
FORBIDDEN_PREFIXES = (".venv", ".cache/", ".ci/", ".ansible/", ".git/", ".github/", ".idea/", ".vscode/", ".tox/",
                      "htmlcov/", "collections/", "dist/", "bench/", "hack/", "tests/output/", "tests/simulators/", "tests/fidelity/", "tests/ci/",
                      "tests/checkout/")
FORBIDDEN_ANYWHERE = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".idea", ".vscode", ".tox", ".DS_Store"}
FORBIDDEN_SUFFIXES = (".tar.gz", ".pyc", ".db", ".db-wal", ".db-shm", ".sqlite", ".coverage", ".swp", ".swo", "~")
FORBIDDEN_FILES = {"Makefile", "changelogs/.plugin-cache.yaml", "tests/requirements-dev.txt", ".gitignore"}
REQUIRED_FILES = ("MANIFEST.json", "FILES.json", "README.md", "LICENSES/GPL-3.0-or-later.txt", "requirements.txt",
                  "meta/runtime.yml", "meta/execution-environment.yml", "changelogs/changelog.yaml")
# plugins/<dir> -> ansible-doc plugin type, for the plugin types whose file name is the plugin name.
DOC_TYPES = {"modules": "module", "inventory": "inventory", "callback": "callback", "lookup": "lookup",
             "connection": "connection", "become": "become", "cache": "cache", "vars": "vars",
             "strategy": "strategy"}
# Filter and test plugin files may hold several plugins, so they are checked by listing, not by file name.
LISTED_TYPES = {"filter": "filter", "test": "test"}

failures: list[str] = []


def fail(message: str) -> None:
    """Record one failed check; all checks run before the script exits."""
    failures.append(message)
    print(f"FAIL: {message}")


def run(*command: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command from the venv's bin/ and return its captured result."""
    result = subprocess.run([os.path.join(BIN, command[0]), *command[1:]], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=False)
    if check and result.returncode != 0:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        raise SystemExit(f"{' '.join(command)} failed with exit code {result.returncode}")
    return result


def build_and_install() -> str:
    """Build the tarball from the working tree and install it fresh; return the tarball's path."""
    shutil.rmtree(DIST, ignore_errors=True)
    shutil.rmtree(COLLECTIONS, ignore_errors=True)
    run("ansible-galaxy", "collection", "build", "--force", "--output-path", DIST, ROOT)
    tarballs = glob.glob(os.path.join(DIST, "opsgate-itsm-*.tar.gz"))
    if len(tarballs) != 1:
        raise SystemExit(f"expected one tarball in {DIST}, found {tarballs}")
    run("ansible-galaxy", "collection", "install", "--force", "--offline", "-p", COLLECTIONS, tarballs[0])
    print(f"built {os.path.relpath(tarballs[0], ROOT)} ({os.path.getsize(tarballs[0])} bytes), "
          f"installed into {os.path.relpath(COLLECTIONS, ROOT)}")
    return tarballs[0]


def check_tarball(tarball: str) -> None:
    """The tarball ships the collection and nothing from the developer's machine."""
    with tarfile.open(tarball) as archive:
        names = [m.name for m in archive.getmembers()]
    shipped = set(names)
    for name in names:
        if (name.startswith(FORBIDDEN_PREFIXES) or FORBIDDEN_ANYWHERE.intersection(name.split("/"))
                or name.endswith(FORBIDDEN_SUFFIXES) or name in FORBIDDEN_FILES):
            fail(f"tarball ships {name}: add it to build_ignore in galaxy.yml")
    for name in REQUIRED_FILES:
        if name not in shipped:
            fail(f"tarball lacks {name}")
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "*", "*.py"))):
        rel = os.path.relpath(path, ROOT)
        if rel not in shipped:
            fail(f"tarball lacks {rel}")
    print(f"tarball: {len(names)} entries checked")


def module_names() -> list[str]:
    """Names of the modules in the working tree (plugins/modules/*.py)."""
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                  if not os.path.basename(p).startswith("__"))


def check_runtime() -> None:
    """The action group is alphabetical and complete; every module has its action plugin."""
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    group = (runtime.get("action_groups") or {}).get("itsm")
    modules = module_names()
    if not isinstance(group, list):
        fail("meta/runtime.yml: action_groups.itsm must be a list of module names")
        return
    if group != sorted(group):
        fail(f"meta/runtime.yml: action_groups.itsm is not alphabetical: {group}")
    if sorted(group) != modules:
        fail(f"meta/runtime.yml: action_groups.itsm {sorted(group)} differs from plugins/modules/*.py {modules}")
    for name in modules:
        if not os.path.exists(os.path.join(ROOT, "plugins", "action", f"{name}.py")):
            fail(f"module {name} has no action plugin plugins/action/{name}.py")
    print(f"meta/runtime.yml: action group itsm = {group}")


def _doc_env() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="1")
    env.pop("ANSIBLE_CONFIG", None)
    return env


def _doc_problem(plugin_type: str, name: str) -> str | None:
    """Render one plugin's documentation as a user would see it, and as JSON; describe what went wrong."""
    env = _doc_env()
    text = run("ansible-doc", "-t", plugin_type, name, check=False, env=env)
    problems = [line for line in text.stderr.splitlines() if re.search(r"\[(WARNING|ERROR|DEPRECATION WARNING)\]|ERROR!", line)]
    if text.returncode != 0 or problems or not text.stdout.strip():
        hint = ""
        if not text.stdout.strip() and "ansible_collections" in ROOT.split(os.sep):
            # Seen with ansible-core 2.19: roles print nothing when the install sits inside another
            # ansible_collections tree (a checkout at .../ansible_collections/opsgate/itsm).
            hint = " (this checkout is itself inside an ansible_collections tree; run from a checkout outside one)"
        return f"ansible-doc -t {plugin_type} {name}: exit {text.returncode}: {(text.stderr or text.stdout).strip()[:600]}{hint}"
    data = run("ansible-doc", "--json", "-t", plugin_type, name, check=False, env=env)
    # Plugins carry their documentation under "doc"; roles carry one per entry point.
    key = "entry_points" if plugin_type == "role" else "doc"
    try:
        doc = json.loads(data.stdout).get(name, {}).get(key)
    except json.JSONDecodeError:
        doc = None
    if data.returncode != 0 or not doc:
        return f"ansible-doc --json -t {plugin_type} {name}: no documentation ({data.stderr.strip()[:600]})"
    return None


def _listed(plugin_type: str) -> list[str]:
    result = run("ansible-doc", "--json", "-t", plugin_type, "-l", FQCN, check=False, env=_doc_env())
    if result.returncode != 0:
        fail(f"ansible-doc -t {plugin_type} -l {FQCN}: exit {result.returncode}: {result.stderr.strip()[:600]}")
        return []
    return sorted(json.loads(result.stdout or "{}"))


def check_docs() -> None:
    """Every plugin and role of the installed copy has documentation ansible-doc can render."""
    installed = os.path.join(COLLECTIONS, "ansible_collections", "opsgate", "itsm")
    wanted: list[tuple[str, str]] = []
    for folder, plugin_type in DOC_TYPES.items():
        files = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(installed, "plugins", folder, "*.py"))
                       if not os.path.basename(p).startswith("__"))
        if not files:
            continue
        expected = [f"{FQCN}.{name}" for name in files]
        listed = _listed(plugin_type)
        if listed != expected:
            fail(f"ansible-doc -t {plugin_type} -l {FQCN} lists {listed}, the installed files are {expected}")
        wanted += [(plugin_type, name) for name in expected]
    for folder, plugin_type in LISTED_TYPES.items():
        if glob.glob(os.path.join(installed, "plugins", folder, "*.py")):
            listed = _listed(plugin_type)
            if not listed:
                fail(f"plugins/{folder}/ has files but ansible-doc -t {plugin_type} lists no plugin")
            wanted += [(plugin_type, name) for name in listed]
    roles = sorted(os.path.basename(p) for p in glob.glob(os.path.join(installed, "roles", "*")) if os.path.isdir(p))
    for role in roles:
        if not os.path.exists(os.path.join(installed, "roles", role, "meta", "argument_specs.yml")):
            fail(f"role {role} has no meta/argument_specs.yml, so ansible-doc cannot document it")
            continue
        wanted.append(("role", f"{FQCN}.{role}"))
    # Each ansible-doc run is mostly interpreter start-up: run them side by side.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        problems = list(pool.map(lambda item: _doc_problem(*item), wanted))
    for (plugin_type, name), problem in zip(wanted, problems):
        if problem:
            fail(problem)
        else:
            print(f"ansible-doc -t {plugin_type} {name}: ok")
    listing = run("ansible-doc", "-l", FQCN, check=False, env=_doc_env())
    if listing.returncode != 0:
        fail(f"ansible-doc -l {FQCN}: exit {listing.returncode}: {listing.stderr.strip()[:600]}")
    print(f"ansible-doc: {len(wanted)} plugins and roles rendered from the installed copy")


def check_execution_environment() -> None:
    """ansible-builder sees the collection's Python requirements through meta/execution-environment.yml."""
    builder = os.path.join(BIN, "ansible-builder")
    if not os.path.exists(builder):
        fail("ansible-builder is not installed in the venv (tests/requirements-dev.txt)")
        return
    result = run("ansible-builder", "introspect", "--sanitize", COLLECTIONS, check=False)
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        wanted = [re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0] for line in handle
                  if line.strip() and not line.lstrip().startswith("#")]
    missing = [name for name in wanted if not re.search(rf"^\s*-?\s*['\"]?{re.escape(name)}\b.*{FQCN}", result.stdout, re.M | re.I)]
    if result.returncode != 0 or missing:
        fail(f"ansible-builder introspect: exit {result.returncode}, missing {missing}:\n{result.stdout}{result.stderr}")
        return
    print(f"ansible-builder introspect: {', '.join(wanted)} from {FQCN}")


def main() -> None:
    """Build, install and, unless --install-only, check everything."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install-only", action="store_true", help="build and install, check nothing")
    args = parser.parse_args()
    tarball = build_and_install()
    if args.install_only:
        return
    check_tarball(tarball)
    check_runtime()
    check_docs()
    check_execution_environment()
    if failures:
        raise SystemExit(f"build-check: {len(failures)} problem(s), listed above")
    print("build-check: ok")


if __name__ == "__main__":
    main()
