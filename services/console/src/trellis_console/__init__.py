"""The manager console: server-rendered pages over the services' REST APIs, called with the person's own token."""
