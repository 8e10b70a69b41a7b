"""Handing freed heap back to the system after a scan, so a long-lived worker's memory does not creep."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def release_freed_memory() -> bool:
    """Collect garbage and ask glibc to return free arena pages (malloc_trim); False where there is none.

    Frames decoded on the decode thread are freed into that thread's arena, which glibc keeps: after
    a chunk of a long video that is some 40-110 MB the next chunk or the stitch would not reuse.
    """
    gc.collect()
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is None:  # musl, macOS: nothing to trim
        return False
    trim(0)
    return True
