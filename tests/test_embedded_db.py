"""The embedded PostgreSQL stops with the last process that uses it, however that process ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, free_port, run_cli

JOIN = ("import sys, time; sys.path.insert(0, {root!r}); from db.embedded import start_embedded; "
        "start_embedded(__import__('pathlib').Path({pg!r})); print('up', flush=True); time.sleep({hold})")


def _postmaster(pg_dir: Path) -> psutil.Process | None:
    try:
        return psutil.Process(int((pg_dir / "postmaster.pid").read_text().splitlines()[0]))
    except (FileNotFoundError, IndexError, ValueError, psutil.NoSuchProcess):
        return None


def _wait_gone(proc: psutil.Process | None, within_s: float = 30.0) -> bool:
    deadline = time.monotonic() + within_s
    while proc is not None and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _join(pg_dir: Path, hold: float) -> subprocess.Popen:
    """A process that starts (or joins) the server and holds it for `hold` seconds."""
    child = subprocess.Popen([sys.executable, "-c", JOIN.format(root=str(ROOT), pg=str(pg_dir), hold=hold)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    if line != "up":
        child.wait(30)
        pytest.fail(f"the child did not start the server:\n{child.stderr.read()[-3000:]}")
    return child


@pytest.fixture()
def pg_dir(tmp_path):
    path = tmp_path / "pg"
    yield path
    for proc in psutil.process_iter(["name", "cmdline"]):  # never leave a server behind, whatever failed
        if "postgres" in (proc.info["name"] or "") and str(path) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def test_a_killed_process_does_not_keep_the_server_up(pg_dir):
    first = _join(pg_dir, hold=600)
    server = _postmaster(pg_dir)
    assert server is not None and server.is_running()
    first.send_signal(signal.SIGKILL)  # no exit hook runs: its pid stays on pgserver's list
    first.wait(10)
    assert first.pid in json.loads((pg_dir / ".handle_pids.json").read_text())

    second = _join(pg_dir, hold=0.5)  # joins the same server and strikes the dead pid off
    assert second.wait(60) == 0
    assert _postmaster(pg_dir) is None or _wait_gone(server), "the last live user stops the server"
    assert json.loads((pg_dir / ".handle_pids.json").read_text()) == []


def test_a_stale_postmaster_pid_of_another_process_is_cleared(pg_dir):
    _join(pg_dir, hold=0).wait(60)  # create the cluster, then stop it
    assert _postmaster(pg_dir) is None
    (pg_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{pg_dir}\n")  # a pid that is alive but no postgres
    child = _join(pg_dir, hold=0)
    assert child.wait(60) == 0
    assert _postmaster(pg_dir) is None, "started over the stale file, and stopped again"


def test_sigterm_of_sentinel_api_stops_the_embedded_database(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    sentinel = ROOT / ".venv" / "bin" / "sentinel"
    proc = subprocess.Popen([str(sentinel), "api", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "sentinel api did not come up"
                time.sleep(0.5)
        server = _postmaster(data / "pg")
        assert server is not None and server.is_running()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert _wait_gone(server), "uvicorn re-raised SIGTERM; the database must still stop"
    finally:
        if proc.poll() is None:
            proc.kill()
        server = _postmaster(data / "pg")
        if server is not None:
            server.kill()


def test_the_cli_says_the_database_is_not_running_and_what_to_do():
    started = time.monotonic()
    result = run_cli("videos", env={"DATABASE_URL": f"postgresql://127.0.0.1:{free_port()}/sentinel"})
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("sentinel: The database is not running"), line
    assert "DATABASE_URL" in line and "AssertionError" not in line
    assert time.monotonic() - started < 30
