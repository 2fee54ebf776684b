# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away PostgreSQL server for the tests of the local store on PostgreSQL (issue 18). Standard library only.

It runs Debian's ``postgresql`` package (``make`` installs it: tests/ci/install_postgresql.sh) from a
temporary directory: ``initdb`` into DIR/data, then ``pg_ctl start`` on a free loopback port with its socket in
DIR. The superuser is ``postgres`` with password SUPERUSER_PASSWORD; then, as the README tells users to (unless
``--bare``: the README's own commands make them), the login ``itsm`` with password PASSWORD and its database
``itsm``. Logins use scram-sha-256 over TCP, as users' do.
As root, the server runs as the unprivileged ``postgres`` user (else ``nobody``): PostgreSQL refuses to run
as root.

Used by the pytest fixtures (tests/unit/conftest.py: one server per pytest session, shared by the xdist workers,
started by the first test that needs it) and by the integration targets (setup_postgresql/postgresql.sh):

    python -m tests.postgresql_server start DIR [--bare]  # prints "PostgreSQL ready at postgresql://itsm@127.0.0.1:PORT/itsm"
    python -m tests.postgresql_server stop DIR
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

#: the directory of the pytest session's shared server (set by tests/conftest.py in the controlling process)
SESSION_ENV = "OPSGATE_ITSM_TEST_POSTGRESQL"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres-test-password"
USER = "itsm"
PASSWORD = "itsm-test-password"
DATABASE = "itsm"
# Tests want speed, not durability: a crash loses the whole throw-away cluster anyway.
_TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300")


class ServerError(RuntimeError):
    """The server could not be set up; the message says which step and what it printed."""


def bin_dir() -> str:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[-3]))
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("pg_ctl")
    if on_path:
        return os.path.dirname(on_path)
    raise ServerError("PostgreSQL is not installed: run tests/ci/install_postgresql.sh (make does it for make test)")


def _run_as() -> list[str]:
    """The command prefix that runs the server's programs as an unprivileged user when we are root."""
    if os.getuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise ServerError("running as root, and there is no postgres or nobody user to run PostgreSQL as")


def _owner() -> tuple[int, int] | None:
    prefix = _run_as()
    if not prefix:
        return None
    entry = pwd.getpwnam(prefix[2])
    return entry.pw_uid, entry.pw_gid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _step(command: list[str], what: str, **options) -> str:
    done = subprocess.run(_run_as() + command, capture_output=True, text=True, check=False, **options)
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def url(port: int, database: str = DATABASE, password: bool = False) -> str:
    secret = f":{PASSWORD}" if password else ""
    return f"postgresql://{USER}{secret}@127.0.0.1:{port}/{database}"


def start(directory: str, settings: tuple[str, ...] = _TEST_SETTINGS, bare: bool = False) -> str:
    """initdb and start a server in ``directory`` (made if missing); returns the store's URL (without password)."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    run = _run_dir(directory)
    data = os.path.join(run, "data")
    binaries = bin_dir()
    if not os.path.exists(os.path.join(data, "PG_VERSION")):
        owner = _owner()
        pwfile = os.path.join(run, "pwfile")
        with open(pwfile, "w", encoding="utf-8") as handle:
            handle.write(SUPERUSER_PASSWORD + "\n")
        os.chmod(pwfile, 0o600)
        if owner:
            os.chown(pwfile, *owner)
        _step([os.path.join(binaries, "initdb"), "-D", data, "-U", SUPERUSER, "--pwfile", pwfile, "-E", "UTF8",
               "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"], "initdb")
        os.remove(pwfile)
    for _attempt in range(5):
        port = _free_port()
        options = " ".join([f"-p {port}", f"-k {run}", "-c listen_addresses=127.0.0.1"]
                           + [f"-c {setting}" for setting in settings])
        try:
            _step([os.path.join(binaries, "pg_ctl"), "start", "-w", "-t", "60", "-D", data, "-l",
                   os.path.join(run, "server.log"), "-o", options], "pg_ctl start")
            break
        except ServerError:
            if "could not bind" not in _log(run) and "Address already in use" not in _log(run):
                raise ServerError(f"pg_ctl start failed: {_log(run)[-2000:]}") from None
    else:
        raise ServerError(f"pg_ctl start found no free port: {_log(run)[-2000:]}")
    if not bare:
        psql = [os.path.join(binaries, "psql"), "-h", run, "-p", str(port), "-U", SUPERUSER, "-d", "postgres", "-q"]
        _step(psql + ["-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"], "create the login")
        _step(psql + ["-c", f"CREATE DATABASE {DATABASE} OWNER {USER}"], "create the database")
    with open(os.path.join(directory, "port"), "w", encoding="utf-8") as handle:
        handle.write(str(port))
    return url(port)


def _run_dir(directory: str) -> str:
    """Where the server's data, socket and log live: ``directory``, or as root a directory of the server's user.

    As root, the server's user may not reach ``directory`` (a private temporary directory): its files then go to
    a directory of its own under /tmp, named in DIR/run-dir and removed by stop()."""
    named = os.path.join(directory, "run-dir")
    if os.path.exists(named):
        with open(named, encoding="utf-8") as handle:
            return handle.read().strip()
    owner = _owner()
    if owner is None:
        return directory
    run = tempfile.mkdtemp(prefix="opsgate-itsm-postgresql-", dir="/tmp")
    os.chown(run, *owner)
    with open(named, "w", encoding="utf-8") as handle:
        handle.write(run)
    return run


def stop(directory: str) -> None:
    """Stop the server of ``directory`` (nothing when none runs there) and remove its files."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        return
    run = _run_dir(directory) if os.path.exists(os.path.join(directory, "run-dir")) else directory
    data = os.path.join(run, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        subprocess.run(_run_as() + [os.path.join(bin_dir(), "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w"],
                       capture_output=True, check=False)
    if run != directory:
        shutil.rmtree(run, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.remove(os.path.join(directory, "port"))


def running_url(directory: str) -> str | None:
    """The URL of the server running in ``directory``, None when none does."""
    try:
        with open(os.path.join(directory, "port"), encoding="utf-8") as handle:
            port = int(handle.read())
    except (OSError, ValueError):
        return None
    if not os.path.exists(os.path.join(_run_dir(directory), "data", "postmaster.pid")):
        return None
    return url(port)


def shared(directory: str) -> str:
    """The URL of the server in ``directory``, started by the first process that asks (the others wait for it)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(os.path.dirname(directory.rstrip("/")), os.path.basename(directory) + ".lock"),
              "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return running_url(directory) or start(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log(directory: str) -> str:
    with contextlib.suppress(OSError), open(os.path.join(directory, "server.log"), encoding="utf-8") as handle:
        return handle.read()
    return ""


def main(argv: list[str]) -> int:
    bare = "--bare" in argv
    argv = [arg for arg in argv if arg != "--bare"]
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgresql_server start|stop DIR [--bare]", file=sys.stderr)
        return 2
    command, directory = argv
    if command == "stop":
        stop(directory)
        return 0
    started = time.monotonic()
    try:
        found = start(directory, bare=bare)
    except ServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"PostgreSQL ready at {found} (password {PASSWORD}; superuser {SUPERUSER}, password {SUPERUSER_PASSWORD}; "
          f"{time.monotonic() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
