"""`python -m preparer` runs the preparer."""

from preparer.main import run

run()
