"""The shared core below gpu_jobs and rag: vocabulary, clock, phrasing and the model runtime."""
