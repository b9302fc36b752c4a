"""`python -m delivery_receipts` serves the webhooks and applies receipts."""

from delivery_receipts.main import run

run()
