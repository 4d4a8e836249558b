"""`mirari`: no arguments opens the window; a command runs headless (agent/cli); `--self-test` checks a build.

Only the window and the self-test import desktop/ (and with it Qt), so `mirari --version` and every
headless command start without a GUI toolkit.
"""

from __future__ import annotations

import sys

from agent.cli.main import build_parser, run_command, utf8_output


def main(argv: list[str] | None = None) -> int:
    utf8_output()
    from local_schema.paths import private_umask

    with private_umask():  # every file the app writes is 0600 (README), whoever writes it
        return _run(build_parser().parse_args(argv))


def _run(args) -> int:
    if args.self_test:
        from desktop.self_test import run_self_test

        return run_self_test()
    if args.command:
        return run_command(args)
    from desktop.app import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
