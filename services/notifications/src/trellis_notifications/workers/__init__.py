"""Notifications' workers: the sender (claim, send over SMTP, confirm) and the weekly digest."""
