"""Command line: ``python -m tests.simulators.jsm --port PORT --state-dir DIR [--flavour cloud|datacenter]``."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import threading

from tests.simulators.servicenow.certs import write_certificate

from .app import FLAVOURS, Simulator
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
    parser.add_argument("--faults", default="", metavar="SPEC", help="fault rules (see limits.py)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        app = Simulator(args.state_dir, args.flavour, args.seed_assets, args.faults, args.index_lag)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    context = None
    if not args.plain_http:
        cert, key = os.path.join(args.state_dir, "cert.pem"), os.path.join(args.state_dir, "key.pem")
        write_certificate(cert, key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    server = JsmServer(("127.0.0.1", args.port), app, context, args.verbose)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    worker.start()
    scheme = "http" if args.plain_http else "https"
    print(f"JSM simulator ready at {scheme}://127.0.0.1:{server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
