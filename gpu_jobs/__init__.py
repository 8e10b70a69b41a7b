"""Ingest, job queue and runners, and the video analysis pipeline."""
