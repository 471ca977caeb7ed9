"""The catalog's domain: sessions and their rules, free of I/O."""
