"""What the suite holds on a target: tenants, seeders, its calls, safety, the ledger and clean-up."""
