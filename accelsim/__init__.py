"""accelsim: a SimPy discrete-event simulator for Vision-Transformer accelerators.

Never imports torch at import time: a saved operator graph simulates without it.
"""

__version__ = "0.1.0"


def simulate(*args, **kwargs):
    """Simulate a workload on an architecture; see ``accelsim.api.simulate``."""
    from .api import simulate as _simulate

    return _simulate(*args, **kwargs)
