"""The strategy service: cluster strategies with KPIs, their review schedules and the agenda of each review."""
