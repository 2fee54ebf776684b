"""HTTP transport: the ServiceNow simulator's threaded HTTP/1.1 server (TLS per connection, fault resets),
answering with Jira's server name."""

from __future__ import annotations

import ssl

from tests.simulators.servicenow.server import Handler, SimServer


class JiraHandler(Handler):
    """Jira's server name, and the ``Date`` the site's clock gave the request (Simulator.handle), so a client that
    dates a write by the answer (the jsm backend's create and edit) reads the time the issue was stamped with."""

    server_version = "Jira"
    _answer_date: str | None = None

    def _send(self, response, head: bool) -> None:
        self._answer_date = response.header("Date")
        response.headers = [(name, value) for name, value in response.headers if name.lower() != "date"]
        super()._send(response, head)

    def date_time_string(self, timestamp=None) -> str:
        return self._answer_date or super().date_time_string(timestamp)


class JsmServer(SimServer):
    def __init__(self, address: tuple[str, int], app, ssl_context: ssl.SSLContext | None,
                 verbose: bool = False) -> None:
        super().__init__(address, app, ssl_context, verbose)
        self.RequestHandlerClass = JiraHandler
