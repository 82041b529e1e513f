"""Pure matchmaking logic: eligibility and explained scores (no I/O)."""
