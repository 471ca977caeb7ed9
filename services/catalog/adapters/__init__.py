"""catalog adapters."""
