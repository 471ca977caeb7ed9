"""personalizer."""
