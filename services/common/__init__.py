"""The runtime every trainvite service uses: settings, logging, database, messaging, gRPC, auth."""
