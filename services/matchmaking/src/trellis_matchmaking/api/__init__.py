"""Matchmaking's HTTP routes, one module per resource."""
