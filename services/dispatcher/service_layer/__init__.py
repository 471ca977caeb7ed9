"""dispatcher service_layer."""
