"""The contract as data: requirements, the call model, the OpenAPI spec and the bundled files."""
