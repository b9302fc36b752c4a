"""`python -m api` serves the API."""

from api.main import run

run()
