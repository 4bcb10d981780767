"""The one error type of the workloads package: a workload that cannot be loaded or traced."""

from __future__ import annotations


class WorkloadError(ValueError):
    """A workload spec, graph file or model is unusable; the message is one line with the cause."""
