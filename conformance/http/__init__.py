"""Talking to a target: the client and its exchanges, limits on what it reads, redaction."""
