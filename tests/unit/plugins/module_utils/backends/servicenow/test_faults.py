# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults on every kind of ServiceNow call, echoed credentials, and the proxy, against the simulator.

test_backend.py covers faults on creating and reading incidents; here: the Batch API, PATCH
updates and transitions, attachment uploads and the OAuth token endpoint, each leaving exactly one
effect behind; then a server that quotes the request back (the ``echo`` fault), which must never
get a credential into a message; then a CONNECT proxy on loopback.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils import _http
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmAuthError, ItsmError
from tests.unit.plugins.module_utils.backends.servicenow.test_backend import _auth_options, table_rows, unique

FAULTS = [{"kind": "rate_limit", "retry_after": 1, "count": 2}, {"kind": "status", "status": 503, "count": 1},
          {"kind": "reset", "count": 1}, {"kind": "reset", "stage": "headers", "count": 1}]
FAULT_IDS = ["rate_limit", "503", "reset", "reset-headers"]


def inject(sim, fault: dict, method: str, path: str) -> None:
    sim.admin("POST", "faults", dict(fault, method=method, path=path))


def faults_hit(sim, path: str) -> int:
    return sum(1 for item in sim.admin("GET", f"requests?path={path}")["requests"] if item["fault"])


@pytest.fixture
def no_cached_tokens():
    _http._TOKENS.clear()
    yield
    _http._TOKENS.clear()


# -- each kind of call: the right outcome and exactly one effect ------------------------------------

@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_faulted_batch_read_of_a_change_returns_it(sim, make, fault):
    backend = make()
    marker = unique("batch")
    change = backend.create("change", {"short_description": marker, "configuration_items": ["web01"]})
    inject(sim, fault, "POST", "/api/now/v1/batch")

    assert backend.get("change", number=change["number"]) == change
    assert faults_hit(sim, "/api/now/v1/batch") == fault["count"]
    assert len(table_rows(sim, "change_request", f"short_description={marker}")) == 1


# A PATCH that carries a work note is not idempotent: each must land once, fault or not.
PATCHES = {
    "update": (lambda backend, incident, note: backend.update("incident", incident, {"urgency": "high",
                                                                                     "work_notes": note}),
               {"urgency": "high"}),
    "transition": (lambda backend, incident, note: backend.transition("incident", incident, "in_progress",
                                                                      {"work_notes": note}),
                   {"state": "in_progress"}),
}


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("write", sorted(PATCHES))
def test_a_faulted_patch_with_a_work_note_lands_once(sim, make, fault, write):
    backend = make()
    incident = backend.create("incident", {"short_description": unique(write)})
    note = unique("note")
    patch, expected = PATCHES[write]
    inject(sim, fault, "PATCH", "/api/now/table/incident")

    written = patch(backend, incident, note)

    stored = backend.get("incident", id=incident["id"])
    assert {key: written[key] for key in expected} == {key: stored[key] for key in expected} == expected
    assert [entry["text"] for entry in backend.journal("incident", incident)].count(note) == 1
    assert faults_hit(sim, "/api/now/table/incident") == fault["count"]


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_a_faulted_attachment_upload_attaches_once(sim, make, fault, tmp_path):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("attach")})
    path = tmp_path / "evidence.txt"
    path.write_text(unique("content"))
    inject(sim, fault, "POST", "/api/now/attachment/file")

    changed, attached = backend.add_attachment("incident", incident, str(path))

    assert changed is True
    assert [item["id"] for item in backend.attachments("incident", incident)] == [attached["id"]]


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("auth", ["oauth", "oauth_client_credentials"])
def test_a_faulted_token_request_is_retried_and_the_record_created_once(sim, make, no_cached_tokens, fault, auth):
    backend = make(**_auth_options(sim, auth))
    marker = unique("token")
    inject(sim, fault, "POST", "/oauth_token.do")

    created = backend.create("incident", {"short_description": marker})

    assert [row["number"] for row in table_rows(sim, "incident", f"short_description={marker}")] == [created["number"]]
    assert sim.request_count("POST", "/oauth_token.do") == fault["count"] + 1
    assert backend.http.retried == fault["count"]


# -- a server that quotes the request back never gets a credential into a message -------------------

ECHO = {"kind": "echo", "count": 0}


def test_the_echo_fault_really_quotes_credentials(sim):
    inject(sim, ECHO, "GET", "/api/now/table/incident")
    answer = requests.get(f"{sim.url}/api/now/table/incident", params={"sysparm_limit": "1"}, verify=sim.cert,
                          headers={"x-sn-apikey": "visible-key-1"}, auth=("admin", "visible-pw"), timeout=30)
    detail = answer.json()["error"]["detail"]
    assert answer.status_code == 400
    assert "x-sn-apikey: visible-key-1;" in detail and "Basic YWRtaW46dmlzaWJsZS1wdw==" in detail
    assert "sysparm_limit=1" in detail


# Credentials the simulator does not know: the echo answers before authentication. Each has
# characters that form encoding changes, so the encoded form must be masked as well.
ECHOED_SECRETS = {
    "basic": ({"password": "b@sic pass/1"}, "/api/now/table/incident"),
    "oauth_password_grant": ({"client_id": "opsgate", "client_secret": "cl!ent secret/2", "password": "gr@nt pass/3"},
                             "/oauth_token.do"),
    "oauth_client_credentials": ({"client_id": "opsgate", "client_secret": "cl!ent secret/4", "username": None,
                                  "password": None}, "/oauth_token.do"),
    "token": ({"token": "bearer-token/5+x", "password": None}, "/api/now/table/incident"),
    "api_key": ({"api_key": "api key/6+y", "password": None}, "/api/now/table/incident"),
}


@pytest.mark.parametrize("auth", sorted(ECHOED_SECRETS))
def test_echoed_credentials_are_redacted_at_every_auth_method(sim, make, no_cached_tokens, auth):
    options, path = ECHOED_SECRETS[auth]
    backend = make(**options)
    inject(sim, ECHO, None, path)

    with pytest.raises(ItsmError) as caught:
        backend.get("incident", number="INC0000000")

    message = str(caught.value)
    assert "Echoed request" in message and _http.REDACTED in message
    for secret in backend.http.secrets:
        assert secret not in message, (secret, message)
    for secret in (value for value in options.values() if value and value != "opsgate"):
        assert secret not in message
    if auth.startswith("oauth"):
        assert isinstance(caught.value, ItsmAuthError) and "for client opsgate" in message


def test_an_echoed_oauth_access_token_is_redacted(sim, make, no_cached_tokens):
    backend = make(**_auth_options(sim, "oauth"))
    backend.get("incident", number="INC0000000")
    token = backend.http._token
    inject(sim, ECHO, "GET", "/api/now/table/incident")

    with pytest.raises(ItsmError) as caught:
        backend.get("incident", number="INC0000000")

    assert token and token not in str(caught.value)
    assert f"Bearer {_http.REDACTED}" in str(caught.value)


# -- proxy --------------------------------------------------------------------------------------

class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy on loopback that counts tunnels and keeps each one's Proxy-Authorization."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.connects: list[tuple[str, str]] = []


class _Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        request_line = self.rfile.readline().decode("latin-1").split()
        headers = {}
        for line in iter(self.rfile.readline, b"\r\n"):
            name, _sep, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(request_line) < 2 or request_line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.connects.append((request_line[1], headers.get("proxy-authorization", "")))
        host, _sep, port = request_line[1].rpartition(":")
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(self.connection, upstream)


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    sockets = [client, upstream]
    while True:
        readable, _w, _x = select.select(sockets, [], [], 30)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (upstream if source is client else client).sendall(data)


@pytest.fixture
def proxy():
    server = ConnectProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_proxy(sim, make, proxy):
    address = f"127.0.0.1:{proxy.server_address[1]}"
    backend = make(proxy=f"http://relay:pr0xy-secret@{address}")
    target = sim.url.split("://", 1)[1]

    created = backend.create("incident", {"short_description": unique("proxied")})
    assert backend.get("incident", id=created["id"]) == created

    assert proxy.connects and {host for host, _auth in proxy.connects} == {target}
    assert all(auth.startswith("Basic ") for _host, auth in proxy.connects)
    assert "pr0xy-secret" not in repr(backend.http.settings)
