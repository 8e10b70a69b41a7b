"""The `sentinel` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class CliError(Exception):
    """An error the user can fix; printed as one line."""


def _emit(args, payload, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, default=str))
    else:
        print(text)


def _app():
    from bootstrap import get_app

    return get_app()


# ---- health -------------------------------------------------------------------------------------

def cmd_health(args) -> int:
    from services.health import run_checks

    checks = run_checks(_app())
    ok = all(c.ok for c in checks)
    if args.json:
        print(json.dumps({"ok": ok, "components": [c.as_dict() for c in checks]}))
    else:
        width = max(len(c.component) for c in checks)
        for c in checks:
            print(f"{'OK  ' if c.ok else 'FAIL'}  {c.component:<{width}}  {c.detail}")
    if not ok:
        failed = next(c for c in checks if not c.ok)
        print(f"sentinel: {failed.component} is not healthy: {failed.detail}", file=sys.stderr)
    return 0 if ok else 1


# ---- serve --------------------------------------------------------------------------------------

def cmd_serve(args) -> int:
    from settings import get_settings

    settings = get_settings()
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.admin_password:
        raise CliError(f"Refusing to serve on {args.host} without a password: set SENTINEL_ADMIN_PASSWORD, "
                       "or serve on 127.0.0.1.")
    app = _app()
    _ = app.db  # start (or join) the database and migrate before the children need it
    app.store.check()
    env = {**os.environ, "SENTINEL_SERVE_HOST": args.host}
    children: list[subprocess.Popen] = []
    if not args.no_worker and settings.runner == "local":
        children.append(subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "worker"], env=env))
    children.append(subprocess.Popen([
        sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
        "--server.address", args.host, "--server.port", str(args.port), "--server.headless", "true",
        "--server.maxUploadSize", str(settings.max_upload_mb), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ], env=env))
    print(f"Sentinel is serving on http://{args.host}:{args.port}"
          + ("" if settings.admin_password else "  (no SENTINEL_ADMIN_PASSWORD: bound to this machine only)"),
          flush=True)

    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = 0
    try:
        while not stop:
            for child in children:
                if child.poll() is not None:
                    print(f"sentinel: a service exited with code {child.returncode}; stopping", file=sys.stderr)
                    code, stop = 1, True
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
    return code


# ---- parser -------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sentinel", description="Understand CCTV video of unmanned stores.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("health", help="check every component")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_health)

    s = sub.add_parser("serve", help="run the whole app: database, store, worker and UI")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--no-worker", action="store_true", help="do not start a local worker")
    s.set_defaults(func=cmd_serve)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return p


# other modules add their sub-commands here (kept apart so this file stays a router)
_EXTRA_COMMANDS: list = []


def _load_extra_commands() -> None:
    from cli_commands import register_all

    register_all(_EXTRA_COMMANDS)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    _load_extra_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    # a plain SIGTERM would end the process without its exit hooks, leaving the embedded database up
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every failure becomes one clear line (and JSON with --json)
        message = _one_line(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": message}))
        print(f"sentinel: {message}", file=sys.stderr)
        if args.verbose:
            logging.exception("details")
        return 1


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _one_line(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return _bad_settings(exc)
    if _database_down(exc):
        from settings import get_settings

        if get_settings().database_url:
            return (f"the database is not reachable ({_first_line(exc)}); start the PostgreSQL server that "
                    "DATABASE_URL names, or unset DATABASE_URL to use the embedded one.")
        return (f"the embedded database stopped ({_first_line(exc)}); run the command again to start it, "
                "and `sentinel health` to check it.")
    return _first_line(exc)


def _bad_settings(exc) -> str:
    """'SENTINEL_ANALYSIS_FPS: Input should be a valid number...' per bad setting; never the values (secrets)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(p) for p in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(message if message.startswith(name) else f"{name}: {message}")
    return "; ".join(parts) + "."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database_down(exc: BaseException) -> bool:
    """A connection to PostgreSQL failed or timed out (not a wrong query): the server is down or gone."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "DatabaseUnavailable" in names:
        return False  # already says what to do
    return bool(names & {"PoolTimeout", "OperationalError"}) and not names & {"QueryCanceled"}


if __name__ == "__main__":
    sys.exit(main())
