"""Every statement the surveys service runs on its tables, one module per sub-domain.

``directory`` (clusters, members, contacts), ``templates`` (built-in and cluster templates), ``campaigns``
(launching, progress, results), ``invitations`` (a contact's link, draft and reminders), ``responses`` (completed
answers) and ``privacy`` (erasure and export of a contact's data). Functions take the session first; those that
read or change a cluster's objects on a caller's behalf take its ``Scope`` and filter by it, so another
cluster's row is simply not found. Routes, the reminder job and the answering form call these; none builds SQL.
"""
