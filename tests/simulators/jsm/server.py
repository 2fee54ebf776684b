"""HTTP transport: the ServiceNow simulator's threaded HTTP/1.1 server (TLS per connection, fault resets),
answering with Jira's server name."""

from __future__ import annotations

import ssl

from tests.simulators.servicenow.server import Handler, SimServer


class JiraHandler(Handler):
    server_version = "Jira"


class JsmServer(SimServer):
    def __init__(self, address: tuple[str, int], app, ssl_context: ssl.SSLContext | None,
                 verbose: bool = False) -> None:
        super().__init__(address, app, ssl_context, verbose)
        self.RequestHandlerClass = JiraHandler
