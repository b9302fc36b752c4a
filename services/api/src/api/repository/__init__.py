"""SQL of the api service, one module per resource. Records never leave these modules."""
