"""NATS JetStream: the event topology, publishing, and durable pull consumers."""
