"""Argument parsing of the data commands, in process (no database needed)."""

from __future__ import annotations

import argparse

import pytest

from cli_commands import data


@pytest.fixture()
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sentinel")
    data.register(p.add_subparsers(dest="command", required=True))
    return p


@pytest.mark.parametrize("given, seconds", [("6", 6.0), ("0:10", 10.0), ("1:02.5", 62.5), ("1:00:05", 3605.0)])
def test_events_window_takes_seconds_and_player_times(parser, given, seconds):
    args = parser.parse_args(["events", "--from", given, "--to", given])
    assert args.t_from == seconds and args.t_to == seconds


@pytest.mark.parametrize("given, says", [("1:75", "below 60"), ("soon", "not a time"), ("-3", "negative")])
def test_events_window_rejects_a_bad_time_with_its_reason(parser, capsys, given, says):
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["events", f"--from={given}"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "argument --from" in err and says in err and repr(given) in err
