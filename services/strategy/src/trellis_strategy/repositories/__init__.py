"""Reading and writing the strategy tables (SQLAlchemy Core; PostgreSQL and SQLite alike), one module per part of
the service: ``strategies``, their review ``schedules``, objectives and ``kpis`` (with their measurements), the
``reviews`` recorded, the proposed ``actions`` on review agendas, the loop's ``activity`` (match runs and gap
assessments received) and the ``calendar_feeds``; ``shared`` holds what they all use.

Every function on a cluster's rows takes the caller's ``Scope`` and filters by it: a row of another cluster is
simply not found, and a write naming another cluster raises ``OutOfScope``. Objectives and KPIs carry no cluster
id of their own; they are kept through their strategy (measurements through their KPI's strategy).
"""
