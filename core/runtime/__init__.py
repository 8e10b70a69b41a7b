"""The model runtime: precision, OpenVINO conversion, the embedder and video decoding."""
