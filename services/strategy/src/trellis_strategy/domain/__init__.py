"""Pure strategy logic (no I/O): review cadence maths and the review agenda."""
