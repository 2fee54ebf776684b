"""Command line: ``python -m tests.simulators.jsm --port PORT --state-dir DIR [--flavour cloud|datacenter]``."""

from __future__ import annotations

import argparse
import sys

from tests.simulators._serving import serve

from .app import FLAVOURS, Simulator
from .seed import CHANGE_WORKFLOWS
from .server import JsmServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.simulators.jsm",
                                     description="Local Jira Service Management simulator (test infrastructure).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--state-dir", required=True, help="directory for the SQLite data and cert.pem")
    parser.add_argument("--flavour", choices=FLAVOURS, default="cloud", help="Cloud or Data Center behaviour")
    parser.add_argument("--plain-http", action="store_true", help="serve HTTP instead of HTTPS")
    parser.add_argument("--seed-assets", type=int, default=0, metavar="N", help="seed N Assets server objects")
    parser.add_argument("--index-lag", type=float, default=None, metavar="SECONDS",
                        help="Cloud search lag behind creation (default 2; 0 = consistent)")
    parser.add_argument("--change-workflow", choices=CHANGE_WORKFLOWS, default="standard",
                        help="the standard ITSM change workflow, or a customised one (seed.CUSTOM_CHANGE_WORKFLOW)")
    parser.add_argument("--faults", default="", metavar="SPEC", help="fault rules (see limits.py)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        app = Simulator(args.state_dir, args.flavour, args.seed_assets, args.faults, args.index_lag,
                        args.change_workflow)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(app, JsmServer, "JSM", args.state_dir, args.port, args.plain_http, args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
