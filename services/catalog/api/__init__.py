"""catalog api."""
