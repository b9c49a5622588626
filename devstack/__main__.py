"""``python -m devstack`` (what ``make run`` runs): the whole system on 127.0.0.1.

``python -m devstack token member <id>`` / ``token staff <role>`` print a token for the local stage.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.stack import ROOT, LocalStack, local_environment, port_free


def _token(args: argparse.Namespace) -> None:
    os.environ.update({k: v for k, v in local_environment("http://127.0.0.1:4566").items()
                       if k not in os.environ})
    from devstack.credentials import staff_token
    if args.kind == "member":
        from chalicelib.shared.credentials import mint_token
        print(mint_token("member", args.subject, 120, program_id=args.program))
    else:
        print(staff_token(args.subject, merchant_id=args.merchant, program_id=args.program))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="command")
    token = sub.add_parser("token", help="print a local token")
    token.add_argument("kind", choices=["member", "staff"])
    token.add_argument("subject", help="member id, or staff role")
    token.add_argument("--program", default="default", help="the program (tenant) the token acts in")
    token.add_argument("--merchant", default=None, help="staff below HQ: their merchant")
    args = parser.parse_args(argv)
    if args.command == "token":
        _token(args)
        return 0

    data = Path(os.environ.get("LOCAL_DATA_DIR", ROOT / ".local" / "data"))
    ports = {"PORT": int(os.environ.get("PORT", 8000)), "EMULATOR_PORT": int(os.environ.get("EMULATOR_PORT", 4566))}
    for variable, port in ports.items():
        if not port_free(port):
            print(f"port {port} on 127.0.0.1 is in use (another `make run`?); stop that, or choose another port: "
                  f"{variable}=<port> make run", file=sys.stderr, flush=True)
            return 2
    stack = LocalStack(api_port=ports["PORT"], emulator_port=ports["EMULATOR_PORT"], data_dir=data)
    stopping = threading.Event()
    faulthandler.register(signal.SIGUSR1, all_threads=True)   # kill -USR1 <pid>: every thread's stack
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stack.start()
    c = stack.credentials
    print(f"""
Loyalty platform, local stage
  API            {stack.api_url}   (OpenAPI: {stack.api_url}/openapi.json)
  AWS emulator   {stack.emulator_url}   (moto, patched: devstack/emulator.py)
  tables         {', '.join(stack.table_names.values())}
  stream pumps   {len(stack.pumps)}   scheduler jobs: {len(stack.scheduler.jobs) if stack.scheduler else 0}
  data           {data}   (make reset wipes it)
  credentials    {c.get('path')}
Ctrl-C stops everything.
""", flush=True)
    stopping.wait()
    print("stopping...", flush=True)
    stack.stop()
    print("stopped; data saved.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
