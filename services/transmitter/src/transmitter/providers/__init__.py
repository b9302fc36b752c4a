"""Provider adapters, one interface per channel."""
