"""The `mirari` command line: the parser, the list of command modules, and running one command headless.

The launcher (mirari/main.py) parses with `build_parser` and hands a command to `run_command`; only
the window and `--self-test` need desktop/. The supabase client and the sync engine are imported only
by the command that needs them, so `mirari --version` and the headless commands start fast and never
load a GUI toolkit.
"""

from __future__ import annotations

import argparse
import sys


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # ~80 ms: only when the version is asked

    try:
        return version("mirari-desktop")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked (argparse's own action wants the string up front)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"mirari {app_version()}")
        parser.exit()


COMMAND_MODULES = (
    "agent.cli.sync",  # account, sync, status, config, parked
    "agent.connections.cli",
    "agent.chat.cli",
    "agent.chat.threads_cli",  # threads list|show|switch|fork|set|rename|delete|export
    "agent.memory.cli",
    "agent.skills.cli",
    "agent.mirror.cli",  # mirror run|list|show|apply|undo|delete
    "agent.dream.cli",  # dream run / list / show / accept / reject
    "agent.observatory.cli",  # stats
    "agent.tasks.cli",  # tasks list|add|move|edit|delete
    "agent.templates.cli",  # templates publish|list|browse|install|export|import|delete
    "agent.tools.cli",  # tools add|list|enable|disable|remove|call (MCP servers)
    "agent.mcp_server.cli",  # mcp serve|token|config (the memory as an MCP server)
    "agent.imports.cli",  # import chatgpt|claude FILE
    "agent.attachments.cli",  # attachments list|get
    "agent.knowledge.cli",  # knowledge add|list|search|reindex|remove
    "agent.backup.cli",  # backup create|list|verify|restore, export
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mirari", description="MIRARI Desktop — grow your own LLM agent.")
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    parser.add_argument("--data-dir", help="where MIRARI keeps its databases (default: the OS user data dir; "
                                           "env MIRARI_DATA_DIR)")
    parser.add_argument("--self-test", action="store_true",
                        help="open a fresh database in a temp dir, build the window offscreen, report, exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Headless commands register themselves; each module owns its own arguments and imports nothing
    # heavy at module level. A new command adds its module here.
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def configure_headless_logging(args) -> None:
    """Headless commands log warnings through the same redacting handlers as the window (tokens and
    keys masked), to stderr and the private log file; their results go to stdout."""
    import logging
    import os

    from agent.logging_setup import configure_logging, default_log_dir
    from local_schema.paths import DATA_DIR_ENV, resolve_data_dir

    chosen = args.data_dir or os.environ.get(DATA_DIR_ENV)
    configure_logging(default_log_dir(resolve_data_dir(args.data_dir) if chosen else None), level=logging.WARNING)


def utf8_output() -> None:
    """Results written to a pipe or a file are UTF-8 on every OS. Windows encodes a redirected stream in
    its ANSI code page (cp1252, ...), which has no ✶ or 日本: `mirari tasks list > out.txt` would stop
    half-way with an error. A console (and every Linux or macOS terminal) already takes UTF-8; the
    windowed Windows program has no streams at all."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if stream is not None and encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")


def run_command(args) -> int:
    """Run the parsed command `args.command` headless, its warnings logged like the window's."""
    from agent.logging_setup import remove_logging

    configure_headless_logging(args)
    try:
        return args.handler(args)
    finally:
        remove_logging()
