"""Command line: ``python -m tests.simulators.servicenow --port PORT --state-dir DIR``."""

from __future__ import annotations

import argparse

from tests.simulators._serving import serve

from .app import Simulator
from .server import SimServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.simulators.servicenow",
                                     description="Local ServiceNow REST simulator (test infrastructure).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--state-dir", required=True, help="directory for the SQLite data and cert.pem")
    parser.add_argument("--plain-http", action="store_true", help="serve HTTP instead of HTTPS")
    parser.add_argument("--seed-cmdb", type=int, default=0, metavar="N", help="seed N cmdb_ci_server rows")
    parser.add_argument("--faults", default="", metavar="SPEC", help="fault rules (see faults.py)")
    parser.add_argument("--token-ttl", type=int, default=1799, help="OAuth access token lifetime (s)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = Simulator(args.state_dir, args.seed_cmdb, args.faults, args.token_ttl)
    return serve(app, SimServer, "ServiceNow", args.state_dir, args.port, args.plain_http, args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
