"""REST API of the strategy service, one module of routes per part: ``clusters`` (a cluster's strategies, its
default review schedule and the actions proposed for its reviews), ``calendar_feed`` (its review calendar),
``strategies`` (a strategy, its schedule and its reviews) and ``kpis`` (its objectives, KPIs, measurements and
progress chart); ``shared`` holds what they have in common.

Reads need a reader of the cluster, changes a manager; a cluster, strategy, objective or KPI outside the caller's
scope answers 404 like one that does not exist.
"""
