"""`python -m scheduler` runs the scheduler."""

from scheduler.main import run

run()
