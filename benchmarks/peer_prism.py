"""A real external peer: Stoplight Prism serving `specs/openapi.yaml` statelessly, and the suite
run against it with environment credentials (Prism checks that a key is present, not which).

Run: `nox -s peer-prism` (installs Prism with npm into .nox/). Prints the verdict and the
requirements that failed; the reports land in reports-prism/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conformance.contract._resources import spec_path
from conformance.mock.server import bind

CREDENTIALS = {
    "HUSKY_API_KEY": "prism-key-a",
    "HUSKY_API_KEY_LIMITED": "prism-key-a-limited",
    "HUSKY_API_KEY_B": "prism-key-b",
    "HUSKY_WEBHOOK_TOKEN": "prism-token-a",
    "HUSKY_WEBHOOK_TOKEN_B": "prism-token-b",
}


def _free_port() -> int:
    with bind("127.0.0.1", 0) as sock:
        return int(sock.getsockname()[1])


def _wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"Prism did not listen on 127.0.0.1:{port} within {seconds:.0f} s")


def main(prism: str) -> int:
    port, reports = _free_port(), Path("reports-prism")
    server = subprocess.Popen(
        [prism, "mock", "-h", "127.0.0.1", "-p", str(port), str(spec_path())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        command = [sys.executable, "-m", "conformance.cli", "run", "--target-url", f"http://127.0.0.1:{port}"]
        done = subprocess.run([*command, "--report-dir", str(reports)], env=os.environ | CREDENTIALS, check=False)
    finally:
        server.terminate()
        server.wait(timeout=10)
    report = json.loads((reports / "report.json").read_text())
    print(f"Prism: verdict {report['verdict']} (exit {done.returncode}), {report['requests']} requests")
    for status in ("fail", "not_exercised"):
        ids = [f"{r['id']} ({r['level']})" for r in report["requirements"] if r["status"] == status]
        print(f"{status}: {', '.join(ids) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
