"""Cassette sets: recording, replay and drift."""
