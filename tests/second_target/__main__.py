"""`python -m second_target [--port 8081] [--fixtures-token T] [--rate-limit 60]` (from `tests/`)."""

from __future__ import annotations

import argparse
import contextlib
import os

from .app import TargetConfig
from .server import LOOPBACK, SecondTarget


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m second_target", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--fixtures-token",
        default=os.environ.get("HUSKY_FIXTURES_TOKEN"),
        help="serve the fixtures API with this token (default: $HUSKY_FIXTURES_TOKEN; none: no fixtures API)",
    )
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N", help="N requests a minute per key")
    parser.add_argument("--first-id", type=int, default=1001, help="the number of the first call id")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    config = TargetConfig(args.fixtures_token, args.rate_limit, args.first_id)
    target = SecondTarget(config, host=args.host, port=args.port, verbose=args.verbose)
    fixtures = "with" if config.fixtures_token else "without"
    print(f"second target on {target.url} ({fixtures} the fixtures API); Ctrl-C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        target.serve_forever()


if __name__ == "__main__":
    main()
