"""workloads: operator graphs (OpGraph) traced from PyTorch models, saved and loaded as JSON.

Importing this package never imports torch; only tracing does.
"""

from .errors import WorkloadError

__all__ = ["WorkloadError"]
