"""OpenVINO IR files converted once from a packaged model and kept in the model cache.

Both OpenVINO adapters (the SSD detector in `gpu_jobs` and the MiniLM embedder in `rag`)
convert their checkpoint on first use; this is the one place that names, stages and
publishes the converted pair, so a crash mid-write never leaves a half-written model.

Example:
    >>> xml = cached_ir(cache_dir, "embedder-minilm-1a2b3c", lambda: ov.convert_model(model))
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cached_ir(cache_dir: Path, stem: str, convert: Callable[[], Any]) -> Path:
    """`<cache_dir>/<stem>-<openvino version>.xml`, written from `convert()` (an `ov.Model`) if absent.

    The OpenVINO version is part of the name: a new release converts again rather than reading
    IR it may not understand.
    """
    import openvino as ov

    version = re.sub(r"[^0-9A-Za-z]+", "_", ov.__version__)  # e.g. '2026.4.1-22982-.../2026/4'
    xml = cache_dir / f"{stem}-{version}.xml"
    if xml.exists():
        return xml
    log.info("converting %s to OpenVINO IR in %s (once)", stem, cache_dir)
    model = convert()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        staged = Path(tmp) / "model.xml"
        ov.save_model(model, staged, compress_to_fp16=False)
        os.replace(Path(tmp) / "model.bin", xml.with_suffix(".bin"))
        os.replace(staged, xml)  # the .xml last: its presence means the pair is complete
    return xml
