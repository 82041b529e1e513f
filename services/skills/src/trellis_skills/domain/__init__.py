"""Pure skills logic: taxonomy look-ups and gap maths (no I/O)."""
