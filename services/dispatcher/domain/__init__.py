"""dispatcher domain."""
