"""The strategy service: cluster strategy review schedules and the agenda of each review."""
