"""Imported first by the parity scripts run as tests: without numpy or
python3-torch it prints why and exits 77, which ctest reports as a skip."""
import sys

try:
    import numpy  # noqa: F401
    import torch  # noqa: F401
except ImportError as e:
    print("SKIP: python3-torch not installed" if "torch" in str(e)
          else f"SKIP: {e} (python3-numpy / python3-torch needed)")
    sys.exit(77)
