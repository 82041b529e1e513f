"""Surveys' HTTP routes and pages, one module per resource."""
