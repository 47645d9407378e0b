"""The package's public surface is small and explicit; this pins it."""

import conformance
import conformance.mock


def test_package_exports() -> None:
    assert sorted(conformance.__all__) == [
        "CONTRACT_VERSION",
        "HuskyMock",
        "MockConfig",
        "MockOrg",
        "MockServer",
        "__version__",
        "create_app",
    ]
    assert all(hasattr(conformance, name) for name in conformance.__all__)


def test_mock_exports() -> None:
    assert sorted(conformance.mock.__all__) == ["MockConfig", "MockServer", "Store", "create_app"]
