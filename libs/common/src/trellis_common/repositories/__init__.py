"""The common library's SQL, one module per table family: the statements of the messaging runtime (outbox and
relay, inbox, parked events, name projections, wake-ups, audit log, erasure, schedule fires) and the scope
filter every service's repository applies. The runtime modules call these functions and build no statement
themselves; the tables shared by every service are defined in ``trellis_common.db``."""
