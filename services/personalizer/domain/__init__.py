"""personalizer domain."""
