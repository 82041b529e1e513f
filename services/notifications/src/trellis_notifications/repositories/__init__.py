"""All of the notifications service's SQL, by sub-domain; nothing else in the service builds or runs a statement.

- ``contacts``: the contact directory projected from surveys.member.changed, and who an email goes to;
- ``preferences``: people's choices (categories, match delivery, review redirects) and unsubscribing;
- ``suppressions``: the platform-wide list of addresses that bounced hard;
- ``deliveries``: the delivery log: emails queued, parked and released, the API's reads, failed ones resent;
- ``send_queue``: the sender's claims on due deliveries and the outcomes it records under them;
- ``digests``: match runs waiting for a contact's weekly digest;
- ``privacy``: what erasing a contact or a member deletes, cancels and blanks, and what a contact's export reads.

Every function works inside the caller's transaction. Functions touching a cluster's rows take the ``Scope``
of who is asking: a request's (only its clusters) or ``Scope.everything()`` for the service's own work (event
handlers, workers), and filter in SQL, so a row of another cluster is never loaded and is "not found" exactly
like an id that does not exist. Preferences carry no cluster column: they belong to their contact's cluster.
Deliveries without a cluster (``cluster_id`` NULL) belong to the platform: only platform-wide scopes see them
(``Scope.clause`` never matches NULL).
"""
