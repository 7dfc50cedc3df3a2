"""Where the files that ship with the package lie: every weights file, whichever room loads it."""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
