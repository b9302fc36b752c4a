"""HTTP routes of the api service."""
