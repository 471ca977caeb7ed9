"""personalizer adapters."""
