"""catalog service_layer."""
