"""personalizer api."""
