"""Every read and write of the matchmaking tables, and their translation to the domain's types, by sub-domain:

- ``registry``: partners and their offers (visibility, the skill index, the offers a round locks);
- ``seats``: the matches that hold a seat in a period, as matching and pooling read them;
- ``gaps``: members' latest assessments (``member_needs``) and their gaps, waiting for a seat or holding one;
- ``proposals``: what a round writes: proposals made, refreshed and released, and the match runs announced;
- ``outcomes``: matches and match runs as the API shows them, and the outcomes recorded on them.

Matches, members' needs and match runs belong to a cluster: every function reading or changing them for a
caller takes the caller's ``Scope`` and filters by it, so a row of another cluster is simply not found. Partners
(and their offers) are shared platform-wide or belong to a cluster; ``registry`` finds for a caller's ``Scope``
only those it may read.
"""
