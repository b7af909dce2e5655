"""pytest set-up of the mixgeo Python tests: import the package from python/
of this repository even when PYTHONPATH is not set (tests/e2e_python.sh sets
it, together with MIXGEO_LIB)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)
