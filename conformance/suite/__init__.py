"""The suite's tests, collected by `husky-conformance run` (or `pytest --pyargs conformance.suite`)."""
