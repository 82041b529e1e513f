"""Notifications' HTTP routes, one module per resource."""
