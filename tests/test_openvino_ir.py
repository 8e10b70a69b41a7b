"""The OpenVINO IR cache shared by the SSD detector and the MiniLM embedder."""

from __future__ import annotations

import numpy as np
import openvino as ov
import pytest

from core.runtime.openvino_ir import cached_ir


def _tiny_model() -> ov.Model:
    from openvino import opset13 as ops

    x = ops.parameter([1, 4], ov.Type.f32, name="x")
    return ov.Model([ops.relu(x)], [x], "tiny")


def test_converts_once_then_reads_the_cache(tmp_path) -> None:
    calls: list[int] = []

    def convert() -> ov.Model:
        calls.append(1)
        return _tiny_model()

    first = cached_ir(tmp_path / "models", "tiny", convert)
    again = cached_ir(tmp_path / "models", "tiny", convert)
    assert first == again and len(calls) == 1
    assert first.name.startswith("tiny-") and first.with_suffix(".bin").exists()
    result = ov.Core().compile_model(str(first), "CPU")({0: np.array([[-1.0, 2.0, -3.0, 4.0]], np.float32)})[0]
    assert result.tolist() == [[0.0, 2.0, 0.0, 4.0]]  # the cached pair is a working model


def test_a_failed_conversion_leaves_nothing_behind(tmp_path) -> None:
    def broken() -> ov.Model:
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        cached_ir(tmp_path, "tiny", broken)
    assert list(tmp_path.iterdir()) == []
    assert cached_ir(tmp_path, "tiny", _tiny_model).exists()  # the next start converts cleanly
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".bin", ".xml"]  # no staging folder left
