"""dispatcher adapters."""
