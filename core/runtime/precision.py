"""Numeric precision of the CPU models (MiniLM embeddings, ultralytics YOLO and YOLO-pose).

CPUs with native bfloat16 (Intel AMX or AVX512-BF16) run torch matmuls and convolutions about
twice as fast under bfloat16 autocast, with weights kept in float32. Elsewhere bfloat16 is
emulated and slower, so `auto` picks it only where the hardware has it. GPU work is unaffected.

Example:
    >>> with cpu_autocast(resolve("auto")):
    ...     vectors = model.encode(texts)
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import ContextManager, Literal

Precision = Literal["auto", "fp32", "bf16"]


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16)."""
    flags = _cpuinfo_flags()
    if flags is not None:  # Linux says so without importing torch (about 470 MB of memory)
        return bool(flags & {"amx_tile", "avx512_bf16"})
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private torch probes: absent means no
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def _cpuinfo_flags(path: str = "/proc/cpuinfo") -> set[str] | None:
    """The first CPU's feature flags as the kernel lists them (features it cannot run are left out); None off Linux."""
    try:
        with open(path, encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        return None
    return None


def resolve(precision: str) -> Literal["fp32", "bf16"]:
    """'fp32' or 'bf16' for a SENTINEL_PRECISION value ('auto' asks the CPU)."""
    if precision == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}: use auto, fp32 or bf16")
    return precision  # type: ignore[return-value]


def cpu_autocast(precision: str) -> ContextManager:
    """A context running torch's CPU ops in bfloat16 when `precision` resolves to bf16 (thread-local)."""
    if resolve(precision) != "bf16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)
