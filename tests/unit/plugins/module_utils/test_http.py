# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_http.HttpClient against a tiny scripted HTTP server on loopback (no simulator, no sleeping)."""

from __future__ import annotations

import base64
import email.utils
import http.server
import json
import threading
import time
import types

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils import _http
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmAuthError, ItsmError, ItsmNotFoundError, ItsmSettingsError, ItsmTransientError, ItsmUnavailableError,
    ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from tests.unit.plugins.module_utils import transport_errors
from tests.unit.plugins.module_utils.transport_errors import error_id, library_errors

SECRET = "pa55-w0rd-xyz"
# A real PEM bundle wherever requests is installed (certifi's).
CA_BUNDLE = requests.certs.where()


class Script:
    """Answers in order: each item is (status, headers, body); the last one repeats."""

    def __init__(self):
        self.answers: list[tuple[int, dict, str]] = []
        self.seen: list[dict] = []


@pytest.fixture
def server():
    script = Script()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            script.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                "body": self.rfile.read(length).decode()})
            status, headers, body = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
            if status is None:  # HANG_UP: close the connection without answering
                self.close_connection = True
                return
            headers = dict(headers)
            time.sleep(float(headers.pop(DELAY, 0)))  # a server slower than the client's timeout
            data = body.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield script
    httpd.shutdown()
    httpd.server_close()


HANG_UP = (None, {}, "")
DELAY = "X-Test-Delay"  # an answer's header the scripted server sleeps for (seconds) instead of sending


def ok(result=None):
    return (200, {"Content-Type": "application/json"}, json.dumps({"result": result or {}}))


def failure(status, message="boom", detail=None, headers=None):
    return (status, dict(headers or {}, **{"Content-Type": "application/json"}),
            json.dumps({"error": {"message": message, "detail": detail}, "status": "failure"}))


def client(script, slept=None, **options):
    values = dict(backend="servicenow", url=script.url, username="admin", password=SECRET, retries=3, timeout=5.0)
    values.update(options)
    warnings = []
    made = _http.HttpClient(ConnectionSettings(**values), warnings.append,
                            sleep=(slept.append if slept is not None else lambda s: None), rng=lambda: 0.5)
    made.warnings = warnings
    return made


def test_retries_429_honouring_retry_after_seconds(server):
    server.answers = [failure(429, "Rate limit exceeded", headers={"Retry-After": "7"}), ok({"n": 1})]
    slept = []
    http = client(server, slept)

    answer = http.request("GET", "/api/now/table/incident")

    assert answer.body == {"result": {"n": 1}}
    assert slept == [7.0]
    assert http.count == 2 and http.retried == 1
    assert "retrying in 7.0 s" in http.warnings[0]


def test_retry_after_as_an_http_date(server):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    server.answers = [failure(503, headers={"Retry-After": when}), ok()]
    slept = []

    client(server, slept).request("GET", "/x")

    assert 17 <= slept[0] <= 21


def test_backoff_grows_between_attempts_without_retry_after(server):
    server.answers = [failure(502), failure(504), failure(503), ok()]
    slept = []

    client(server, slept).request("GET", "/x")

    assert slept == [0.5, 1.0, 2.0]  # rng 0.5 is the midpoint: no jitter either way


def test_gives_up_after_retries_with_a_clear_message(server):
    server.answers = [failure(503, "Service Unavailable")]
    http = client(server, retries=2)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("GET", "/x", what="read incident INC1")

    assert "read incident INC1 failed after 3 attempt(s)" in str(caught.value)
    assert http.count == 3


def test_a_retry_after_beyond_the_budget_fails_at_once(server):
    server.answers = [failure(429, headers={"Retry-After": "3600"})]
    http = client(server, timeout=1.0, retries=5)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("GET", "/x")

    assert http.count == 1
    assert "budget" in str(caught.value)


def test_transaction_cancelled_body_is_transient_even_with_200(server):
    server.answers = [(200, {}, '{"result":[{"a":"1"}],"error":{"message":"Transaction cancelled: maximum '
                       'execution time exceeded"},"status":"failure"}'), ok({"a": "2"})]

    assert client(server).request("GET", "/x").body == {"result": {"a": "2"}}


def test_post_is_not_resent_after_an_ambiguous_failure_without_recover(server):
    server.answers = [failure(502), ok()]
    http = client(server)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("POST", "/api/now/table/incident", json_body={"a": 1}, what="create incident")

    assert http.count == 1
    assert "may have been carried out" in str(caught.value)


def test_post_is_resent_after_a_429_which_nothing_ran(server):
    server.answers = [failure(429, headers={"Retry-After": "1"}), (201, {}, '{"result": {"sys_id": "x"}}')]
    http = client(server)

    assert http.request("POST", "/t", json_body={}).status == 201
    assert http.count == 2


def test_recover_finding_the_record_ends_the_retry(server):
    server.answers = [failure(504), (201, {}, '{"result": {"sys_id": "second"}}')]
    found = _http.Response(201, {}, {"result": {"sys_id": "first"}}, "")

    answer = client(server).request("POST", "/t", json_body={}, recover=lambda: found)

    assert answer is found
    assert len(server.seen) == 1


def test_recover_finding_nothing_resends(server):
    server.answers = [failure(504), (201, {}, '{"result": {"sys_id": "second"}}')]

    answer = client(server).request("POST", "/t", json_body={}, recover=lambda: None)

    assert answer.body["result"]["sys_id"] == "second"
    assert len(server.seen) == 2


def test_a_write_the_server_did_not_answer_in_time_is_looked_for_after_a_wait_and_never_resent(server):
    server.answers = [(201, {DELAY: "1.5"}, '{"result": {"sys_id": "first"}}'), (201, {}, '{"result": {}}')]
    found = _http.Response(201, {}, {"result": {"sys_id": "first"}}, "")
    slept, looked = [], []

    def recover():
        looked.append(len(slept))
        return found if len(looked) == 3 else None

    http = client(server, slept, timeout=0.5)
    answer = http.request("POST", "/t", json_body={}, recover=recover)

    assert answer is found
    assert len(server.seen) == 1  # never sent again
    assert slept == [0.5, 0.5, 1.0] and looked == [1, 2, 3]  # the timeout again first, then the backoff
    assert "may still be carrying it out" in http.warnings[0]


def test_a_write_that_never_appears_fails_at_the_end_of_the_budget_saying_it_may_still_land(server):
    server.answers = [(201, {DELAY: "1"}, "{}")]
    http = client(server, [], timeout=0.2, retries=1)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("POST", "/t", json_body={}, recover=lambda: None, what="add work_notes to INC1")

    assert len(server.seen) == 1
    message = str(caught.value)
    assert message.startswith("add work_notes to INC1 failed: ") and "did not answer within the timeout" in message
    assert "not sent again because the server may still carry it out" in message
    assert f"at the end of the budget of {http.budget():g} seconds" in message


def test_a_read_that_timed_out_is_simply_sent_again(server):
    server.answers = [(200, {DELAY: "1"}, "{}"), ok({"n": 2})]

    assert client(server, timeout=0.3).request("GET", "/x").body == {"result": {"n": 2}}
    assert len(server.seen) == 2


def test_a_retry_after_longer_than_the_budget_says_so(server):
    server.answers = [failure(503, headers={"Retry-After": "600"})]
    http = client(server, timeout=1.0, retries=2)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("GET", "/x", what="read incident INC1")

    assert http.count == 1
    assert "the server asked to wait 600 seconds (Retry-After), longer than the" in str(caught.value)
    assert f"of the budget of {http.budget():g} seconds" in str(caught.value)
    assert caught.value.details["retry_after"] == 600


def test_error_statuses_map_to_the_error_tree_and_never_quote_the_password(server):
    server.answers = [failure(401, "User Not Authenticated", f"bad password {SECRET}")]
    with pytest.raises(ItsmAuthError) as caught:
        client(server).request("GET", "/x")
    assert SECRET not in str(caught.value) and "********" in str(caught.value)
    assert "basic authentication as admin" in str(caught.value)

    server.answers = [failure(404, "No Record found")]
    with pytest.raises(ItsmNotFoundError):
        client(server).request("GET", "/x")

    server.answers = [failure(403, "Operation Failed", "Business Rule 'X'")]
    with pytest.raises(_http.ItsmHttpError) as caught:
        client(server).request("PATCH", "/x", json_body={})
    assert (caught.value.status, caught.value.reason) == (403, "Operation Failed: Business Rule 'X'")


def test_oauth_token_is_fetched_once_and_refreshed_once_on_401(server):
    _http._TOKENS.clear()
    token = (200, {}, json.dumps({"access_token": "tok-1", "expires_in": 1799}))
    server.answers = [token, ok(), failure(401, "User Not Authenticated"), token, ok()]
    http = client(server, client_id="cid", client_secret="csecret-987")

    http.request("GET", "/a")
    http.request("GET", "/b")

    methods = [(item["method"], item["path"]) for item in server.seen]
    assert methods == [("POST", "/oauth_token.do"), ("GET", "/a"), ("GET", "/b"), ("POST", "/oauth_token.do"),
                       ("GET", "/b")]
    assert "grant_type=password" in server.seen[0]["body"]
    assert server.seen[1]["headers"]["Authorization"] == "Bearer tok-1"
    _http._TOKENS.clear()


def test_oauth_refusal_names_the_client_but_not_the_secret(server):
    _http._TOKENS.clear()
    server.answers = [(401, {}, json.dumps({"error": "server_error", "error_description": "access_denied"}))]

    with pytest.raises(ItsmAuthError) as caught:
        client(server, client_id="cid", client_secret="csecret-987", password=None, username=None).request("GET", "/a")

    assert "client_credentials" in str(caught.value) and "cid" in str(caught.value)
    assert "csecret-987" not in str(caught.value)


def test_api_key_and_bearer_headers(server):
    server.answers = [ok()]
    client(server, api_key="key-1", password=None).request("GET", "/a")
    client(server, token="tok-2", password=None).request("GET", "/a")

    assert server.seen[0]["headers"]["x-sn-apikey"] == "key-1"
    assert server.seen[1]["headers"]["Authorization"] == "Bearer tok-2"


def test_tls_settings_and_timeout_are_passed_on_every_call(server, monkeypatch):
    calls = []
    http = client(server, ca_path=CA_BUNDLE, timeout=4.0)
    real = http.session.request

    def spy(method, url, **kwargs):
        calls.append(kwargs)
        return real(method, url, **dict(kwargs, verify=False))

    monkeypatch.setattr(http.session, "request", spy)
    server.answers = [ok()]
    http.request("GET", "/a")
    http.request("POST", "/b", json_body={})

    assert [(c["verify"], c["timeout"]) for c in calls] == [(CA_BUNDLE, 4.0)] * 2
    assert client(server, validate_certs=False).verify is False


def test_connection_refused_is_retried_then_reported(monkeypatch):
    settings = ConnectionSettings(backend="servicenow", url="http://127.0.0.1:9", username="u", password=SECRET,
                                  retries=1, timeout=2.0)
    http = _http.HttpClient(settings, lambda m: None, sleep=lambda s: None)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("POST", "/t", json_body={})

    assert http.count == 2  # refused: never sent, so even a POST is safe to resend
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("options, option", [
    ({"url": None}, "url"), ({"url": "ftp://x"}, "url"), ({"password": None}, "username"),
    ({"client_id": "only-id"}, "client_secret")])
def test_settings_are_checked_before_any_request(options, option):
    values = dict(backend="servicenow", url="https://x.example", username="u", password="p")
    values.update(options)
    with pytest.raises(ItsmValidationError) as caught:
        _http.HttpClient(ConnectionSettings(**values), lambda m: None)
    assert caught.value.details["option"] == option


@pytest.mark.parametrize("backend, example", [("servicenow", "https://dev123.service-now.com"),
                                              ("jsm", "https://your-site.atlassian.net")])
def test_a_url_that_is_no_web_address_is_refused_with_an_example_of_the_backends_own(backend, example):
    with pytest.raises(ItsmValidationError) as caught:
        _http.HttpClient(ConnectionSettings(backend=backend, url="ftp://x", username="u", password="p"), lambda m: None)
    assert str(caught.value) == f"url: 'ftp://x' is not valid; expected an https:// address like {example}"


def test_missing_requests_library_is_reported_as_unavailable(monkeypatch):
    monkeypatch.setattr(_http, "requests", None)
    with pytest.raises(ItsmUnavailableError) as caught:
        _http.HttpClient(ConnectionSettings(url="https://x.example", username="u", password="p"), lambda m: None)
    assert "requests" in str(caught.value)


# -- the OAuth token request is retried like any other call ---------------------------------------

TOKEN = (200, {}, json.dumps({"access_token": "tok-retry-1", "expires_in": 1799}))


@pytest.mark.parametrize("token_fault", [failure(429, "Rate limit exceeded", headers={"Retry-After": "2"}),
                                         failure(503, "Service Unavailable"), HANG_UP],
                         ids=["429", "503", "reset"])
def test_a_transient_token_failure_is_retried_and_the_create_sent_once(server, token_fault):
    _http._TOKENS.clear()
    server.answers = [token_fault, TOKEN, (201, {}, '{"result": {"sys_id": "x"}}')]
    http = client(server, client_id="cid", client_secret="csecret-987")

    answer = http.request("POST", "/api/now/table/incident", json_body={"a": 1}, what="create incident")

    assert answer.status == 201
    assert [item["path"] for item in server.seen] == ["/oauth_token.do", "/oauth_token.do", "/api/now/table/incident"]
    assert http.retried == 1 and "OAuth token request" in http.warnings[0]
    _http._TOKENS.clear()


def test_a_lasting_token_outage_fails_as_transient_within_retries(server):
    _http._TOKENS.clear()
    server.answers = [failure(503, "Service Unavailable")]
    http = client(server, client_id="cid", client_secret="csecret-987", retries=2)

    with pytest.raises(ItsmTransientError) as caught:
        http.request("GET", "/a", what="read incident INC1")

    assert len(server.seen) == 3 and all(item["path"] == "/oauth_token.do" for item in server.seen)
    assert "read incident INC1 failed after 3 attempt(s)" in str(caught.value)
    assert "csecret-987" not in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize("status", [400, 401])
def test_a_token_refusal_is_an_auth_error_at_once(server, status):
    _http._TOKENS.clear()
    server.answers = [(status, {}, json.dumps({"error": "invalid_client", "error_description": "bad secret"}))]

    with pytest.raises(ItsmAuthError) as caught:
        client(server, client_id="cid", client_secret="csecret-987").request("GET", "/a")

    assert len(server.seen) == 1
    assert "check client_id" in str(caught.value)


def test_a_token_endpoint_that_is_not_there_is_not_blamed_on_the_credentials(server):
    _http._TOKENS.clear()
    server.answers = [failure(404, "Not found")]

    with pytest.raises(_http.ItsmHttpError) as caught:
        client(server, client_id="cid", client_secret="csecret-987").request("GET", "/a")

    assert caught.value.status == 404 and "OAuth enabled" in str(caught.value)
    assert not isinstance(caught.value, ItsmAuthError)


# -- TLS, redaction, proxy settings ----------------------------------------------------------------

def test_validate_certs_false_wins_over_ca_path(server, monkeypatch):
    calls = []
    http = client(server, ca_path="/etc/custom-ca.pem", validate_certs=False)
    real = http.session.request
    monkeypatch.setattr(http.session, "request", lambda method, url, **kwargs: calls.append(kwargs) or real(
        method, url, **kwargs))
    server.answers = [ok()]

    http.request("GET", "/a")

    assert calls[0]["verify"] is False


def test_a_short_password_is_masked_only_as_a_whole_word_and_the_user_name_stays(server):
    server.answers = [failure(401, "User Not Authenticated", "admin:admin rejected; see administrator, password=admin")]

    with pytest.raises(ItsmAuthError) as caught:
        client(server, username="admin", password="admin").request("GET", "/x")

    message = str(caught.value)
    assert "basic authentication as admin)" in message
    assert "********:******** rejected; see administrator, password=********" in message


def test_long_secrets_are_masked_anywhere_and_in_the_forms_they_travel_in(server):
    http = client(server, password="p@ss w0rd/long", proxy="http://proxyuser:pr0xy-pass@proxy.example:3128")
    basic = base64.b64encode(b"admin:p@ss w0rd/long").decode()
    text = f"xp@ss w0rd/longx p%40ss+w0rd%2Flong {basic} pr0xy-pass"

    assert http.redact(text) == "x********x ******** ******** ********"
    assert http.proxies == {"http": "http://proxyuser:pr0xy-pass@proxy.example:3128",
                            "https": "http://proxyuser:pr0xy-pass@proxy.example:3128"}


# -- transport set-up errors are the collection's own, naming the option (issue 12) -----------------

@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on loopback with a self-signed certificate (its own CA: cert.pem)."""
    import ssl

    from tests.simulators.servicenow.certs import write_certificate

    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    write_certificate(cert, key)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield types.SimpleNamespace(url=f"https://127.0.0.1:{httpd.server_address[1]}", cert=cert, key=key)
    httpd.shutdown()
    httpd.server_close()


def test_a_ca_path_that_does_not_exist_is_refused_before_any_request_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere" / "ca.pem")
    with pytest.raises(ItsmSettingsError) as caught:
        _http.HttpClient(ConnectionSettings(url="https://x.example", username="u", password="p", ca_path=missing),
                         lambda m: None)
    assert caught.value.details == {"option": "ca_path", "value": missing}
    assert str(caught.value).startswith(f"ca_path: {missing} does not exist; expected a PEM file")


@pytest.mark.parametrize("content", [b"not a pem\n", b"", b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"],
                         ids=["text", "empty", "broken-pem"])
def test_a_ca_path_that_is_no_pem_bundle_says_what_is_wrong_with_the_file(tls_server, tmp_path, content):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(content)
    with pytest.raises(ItsmSettingsError) as caught:
        _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p", ca_path=str(bundle)),
                         lambda m: None).request("GET", "/x")
    message = str(caught.value)
    assert message.startswith(f"ca_path: {bundle} is not a PEM certificate bundle (")
    assert "set ca_path" not in message and caught.value.details["option"] == "ca_path"


def test_a_private_key_is_no_ca_bundle_either(tls_server):
    with pytest.raises(ItsmSettingsError, match="is not a PEM certificate bundle"):
        _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p", ca_path=tls_server.key),
                         lambda m: None)


def test_a_ca_path_that_does_not_verify_the_instance_names_the_bundle_it_tried(tls_server):
    http = _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p", ca_path=CA_BUNDLE,
                                               retries=0), lambda m: None)
    with pytest.raises(ItsmSettingsError) as caught:
        http.request("GET", "/api/now/table/incident?sysparm_query=" + "q" * 400)  # a URL longer than a message keeps
    message = str(caught.value)
    assert f"does not verify against the CA bundle {CA_BUNDLE} ([SSL: CERTIFICATE_VERIFY_FAILED]" in message
    assert "set ca_path" not in message and "qqqq" not in message
    assert caught.value.details == {"option": "ca_path", "value": CA_BUNDLE}


def test_without_ca_path_an_unverified_certificate_says_to_set_it(tls_server, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    http = _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p", retries=0),
                            lambda m: None)
    with pytest.raises(ItsmSettingsError, match="against the system's CA store .*; set ca_path"):
        http.request("GET", "/x")


def test_the_right_ca_path_verifies_and_a_directory_is_taken_as_a_hashed_ca_directory(tls_server, tmp_path):
    http = _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p", ca_path=tls_server.cert),
                            lambda m: None)
    assert http.request("GET", "/x").status == 200
    directory = _http.HttpClient(ConnectionSettings(url=tls_server.url, username="u", password="p",
                                                    ca_path=str(tmp_path)), lambda m: None)
    assert directory.verify == str(tmp_path)


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_timeout_requests_cannot_use_is_refused_naming_it(server, timeout):
    with pytest.raises(ItsmSettingsError) as caught:
        client(server, timeout=timeout)
    assert caught.value.details == {"option": "timeout", "value": timeout}
    assert "greater than 0" in str(caught.value)


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "http://:3128"], ids=["socks-without-pysocks", "no-host"])
def test_a_proxy_requests_cannot_use_names_the_proxy_option(server, proxy):
    if proxy.startswith("socks"):
        try:
            import socks  # noqa: F401
            pytest.skip("PySocks is installed: requests can use a socks5 proxy")
        except ImportError:
            pass
    with pytest.raises(ItsmSettingsError) as caught:
        client(server, proxy=proxy, retries=0).request("GET", "/x")
    assert caught.value.details["option"] == "proxy" and str(caught.value).startswith(f"proxy: {proxy} cannot be used")


def test_a_password_outside_latin1_is_sent_as_utf8(server):
    server.answers = [ok()]
    client(server, username="admin", password="p\u00e4ss\u20ac-long-enough").request("GET", "/x")
    sent = server.seen[0]["headers"]["Authorization"].split()[1]
    assert base64.b64decode(sent).decode("utf-8") == "admin:p\u00e4ss\u20ac-long-enough"


def test_a_token_a_header_cannot_carry_names_the_token_option_without_quoting_it(server):
    with pytest.raises(ItsmSettingsError) as caught:
        client(server, username=None, password=None, token="abc\ndef-secret-token", retries=0).request("GET", "/x")
    assert caught.value.details == {"option": "token"}
    assert "def-secret-token" not in str(caught.value)


@pytest.mark.parametrize("error", library_errors(), ids=error_id)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_exception_the_transport_can_raise_becomes_the_collections_own(monkeypatch, error, method):
    http = client(types.SimpleNamespace(url="https://127.0.0.1:9"), retries=1, password=transport_errors.SECRET)

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(http.session, "request", broken)
    with pytest.raises(ItsmError) as caught:
        http.request(method, "/x", json_body={} if method == "POST" else None)
    assert transport_errors.SECRET not in str(caught.value)
