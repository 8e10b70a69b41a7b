"""Plain JSON types from what the analysis holds: numpy scalars and arrays, tuples, non-string keys."""

from __future__ import annotations

from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays as Python numbers and lists, tuples as lists, keys as text.

    Example:
        >>> jsonable({1: (np.float32(0.5), np.arange(2))})
        {'1': [0.5, [0, 1]]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
