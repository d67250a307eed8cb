"""`python -m datasources.his.simulator --port 8282`: the HIS simulator on a port.

Point the BFF at it with HIS_FHIR_BASE_URL=http://127.0.0.1:8282/fhir. Faults are set with
`curl -X PUT localhost:8282/_simulator/faults -d '{"latency": 0.05}'` (see app.py for the list).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from datasources.his.simulator import create_simulator


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the HIS simulator (FHIR R4).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    parser.add_argument("--timezone", default=os.environ.get("TIMEZONE") or "Asia/Shanghai")
    parser.add_argument(
        "--faults", type=json.loads, default={}, help="initial faults as JSON, e.g. '{\"latency\": 0.05}'"
    )
    args = parser.parse_args(argv)
    simulator = create_simulator(clock=lambda: datetime.now(UTC), zone=ZoneInfo(args.timezone))
    simulator.faults.update(args.faults)
    print(f"HIS simulator (FHIR R4) at http://{args.host}:{args.port}/fhir", flush=True)
    uvicorn.run(simulator.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
