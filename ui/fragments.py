"""Which kind of rerun this is: the live widgets redraw differently on a fragment's own tick."""

from __future__ import annotations


def fragment_rerun() -> bool:
    """True while only fragments rerun (a run_every tick or a widget inside one), not the whole app."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)
