"""What the API decides, one module per resource."""
