"""accelsim: a SimPy discrete-event simulator for Vision-Transformer accelerators.

Never imports torch at import time: a saved operator graph simulates without it.
"""

__version__ = "0.1.0"
