"""dispatcher api."""
