"""Keeping third-party chatter that no user can act on off the terminal, around the calls that make it.

Model conversion traces the transformer (torch.jit and transformers deprecation and tracer
warnings, a weight-loading progress bar) and TensorFlow Lite prints an INFO line from C++ when
an interpreter starts; none of it says anything a user could change.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Iterator


@contextlib.contextmanager
def quiet_model_load() -> Iterator[None]:
    """Silence Python warnings, transformers' log and its progress bars while a model loads or converts."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # only the torch path needs transformers
        hf_logging = None
    level = hf_logging.get_verbosity() if hf_logging else None
    bars = hf_logging.is_progress_bar_enabled() if hf_logging else False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hf_logging:
            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if hf_logging:
                hf_logging.set_verbosity(level)
                if bars:
                    hf_logging.enable_progress_bar()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment (C++ libraries write there directly).

    Only for short calls whose failures arrive as Python exceptions, never around long work.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stderr has no descriptor: nothing to hide
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
