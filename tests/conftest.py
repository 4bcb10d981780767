import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hypothesis import settings

# Under CI (``CI`` set, as CI services and ``.ci/run`` callers do) hypothesis draws the same
# examples every run, so a CI verdict does not depend on luck; locally it explores new ones
# (and replays the failures it found from its example database).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
