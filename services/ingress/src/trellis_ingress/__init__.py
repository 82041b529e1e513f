"""Trellis HTTP ingress: CloudEvents over HTTP, validated against the catalogue, published through the outbox."""
