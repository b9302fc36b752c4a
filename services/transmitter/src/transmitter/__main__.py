"""`python -m transmitter` runs the transmitter."""

from transmitter.main import run

run()
