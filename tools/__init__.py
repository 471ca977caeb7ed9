"""Developer tools: the local stack (`make run`), the demo client, tokens."""
