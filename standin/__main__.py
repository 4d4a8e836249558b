"""`python -m standin [--port N] [--data-dir DIR]`: run the Supabase stand-in.

Prints one JSON line {"url", "anon_key", "service_role_key", "jwt_secret", "db_url"} once it serves;
SIGINT/SIGTERM stop everything and remove the cluster unless --data-dir was given (then it is kept and
reused next time).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from standin.server import run_loop, start_cluster_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standin",
                                     description="A local Supabase stand-in (PostgreSQL + Auth + PostgREST subset).")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    parser.add_argument("--data-dir", default=None, help="keep the PostgreSQL cluster here (kept on exit)")
    args = parser.parse_args(argv)
    standin = None

    def on_signal(signum, frame):
        # uvicorn handles signals while it serves and re-raises them here afterwards.
        if standin is None or standin._server is None or not standin._server.started:
            raise KeyboardInterrupt
        standin.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cluster = None
    try:
        cluster, standin = start_cluster_stack(args.data_dir, args.port)
        run_loop(standin.serve(on_ready=lambda: print(json.dumps(standin.info.as_dict()), flush=True)))
    except KeyboardInterrupt:
        pass
    finally:
        if cluster is not None:
            cluster.stop()  # removes the cluster directory unless --data-dir was given
    return 0


if __name__ == "__main__":
    sys.exit(main())
