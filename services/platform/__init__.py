"""The wider platform's inputs (customers, stakeholders, usage, entitlements): schema and demo seed.

trainvite only reads these tables; a real deployment points the personalizer at the platform's own.
"""
