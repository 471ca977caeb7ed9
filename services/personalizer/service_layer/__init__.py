"""personalizer service_layer."""
