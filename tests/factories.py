"""Moved to tests/helpers.py; this name stays only for the modules that still import it (test_jobs.py,
test_job_queue.py), and goes when they import from tests.helpers."""

from tests.helpers import TINY_JOB, tiny_job_scene, tiny_job_split, toy_scene, wait_until

__all__ = ["TINY_JOB", "tiny_job_scene", "tiny_job_split", "toy_scene", "wait_until"]
