from __future__ import annotations

import sys
from pathlib import Path

# The app runs from its own directory in the image; tests import it the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
