"""The notifications service: a contact directory projection and crash-safe email deliveries."""
