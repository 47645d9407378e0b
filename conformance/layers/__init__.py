"""The checks: the registry, response-wide rules, targeted properties, schema layer, lifecycle."""
