"""Load benchmark of the web API on loopback (reliability-plan.md §7.5 L1).

1. Builds a SQLite store with N members (default 1,000,000) spread over 200 pharmacies, each
   member with an attribution row, two fills and a BP reading (synthetic, generated here).
2. Starts the service in a separate process: uvicorn, 2 workers (``openvbc.api.asgi``).
3. Runs the load generator in another process: C concurrent users (default 50) for D seconds,
   each request a pharmacy caller's worklist page of attributed members
   (``/api/members?limit=50&offset=...``) or one member's chart data
   (``/api/members/{key}`` and ``/api/members/{key}/fills``), every read audited.
4. Prints one JSON line per audit mode (``--modes per-request,group``, measured one after the
   other over the same store): requests, errors, requests per second, p50/p95/p99 latency (ms).
   ``per-request`` commits each read's audit record in its own transaction (one fsync each);
   ``group`` hands them to the group-commit writer (services.audit.AuditGroupWriter).

Usage: ``python bench/web_load_bench.py --members 1000000 --users 50 --seconds 30``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

PHARMACIES = 200


def build_store(path: Path, members: int) -> dict[str, str]:
    """Create and fill the store; returns API keys per pharmacy caller."""
    from openvbc.domain.npi import make_npi
    from openvbc.services import identity
    from openvbc.store.database import open_engine
    from openvbc.store.migrate import upgrade_schema
    from openvbc.store.tables import attribution_snapshot, fill, member, observation, provider

    engine = open_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    npis = [make_npi(f"1{n:08d}") for n in range(PHARMACIES)]
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        connection.execute(
            provider.insert(),
            [{"npi": npi, "kind": "pharmacy", "name": f"Pharmacy {n}"} for n, npi in enumerate(npis)],
        )
        batch = 50_000
        for start in range(0, members, batch):
            ids = range(start + 1, min(members, start + batch) + 1)
            connection.execute(
                member.insert(),
                [
                    {
                        "member_id": i,
                        "member_key": f"M{i:08d}",
                        "first_name": "Test",
                        "last_name": f"Member{i}",
                        "birth_date": date(1940 + i % 50, 1 + i % 12, 1 + i % 28),
                        "sex": "FM"[i % 2],
                        "line_of_business": "medicare",
                    }
                    for i in ids
                ],
            )
            connection.execute(
                attribution_snapshot.insert(),
                [
                    {
                        "program_id": "bench",
                        "program_year": 2026,
                        "as_of": date(2026, 2, 28),
                        "member_id": i,
                        "provider_kind": "pharmacy",
                        "method": "plurality_fills",
                        "provider_npi": npis[i % PHARMACIES],
                        "share": 1.0,
                        "reason": "bench",
                        "rule_version": "bench",
                    }
                    for i in ids
                ],
            )
            connection.execute(
                fill.insert(),
                [
                    {
                        "fill_key": f"F{i}-{k}",
                        "member_id": i,
                        "ndc11": "00093505698",
                        "fill_date": date(2026, 1 + k, 5),
                        "days_supply": 30,
                        "quantity": 30,
                        "pharmacy_npi": npis[i % PHARMACIES],
                    }
                    for i in ids
                    for k in (0, 1)
                ],
            )
            connection.execute(
                observation.insert(),
                [
                    {
                        "observation_key": f"O{i}",
                        "member_id": i,
                        "code_system": "loinc",
                        "code": "8480-6",
                        "value_num": 120 + i % 40,
                        "unit": "mm[Hg]",
                        "effective_at": datetime(2026, 2, 1),
                        "source": "ehr",
                    }
                    for i in ids
                ],
            )
    keys = {}
    with engine.begin() as connection:
        for n, npi in enumerate(npis[:10]):
            keys[npi] = identity.create_api_key(
                connection,
                client_id=f"bench-{n}",
                name="bench",
                role="pharmacy_staff",
                org_npi=npi,
                by=None,
                now=datetime(2026, 3, 1),
            )
    engine.dispose()
    return keys


def run_load(base: str, keys: dict[str, str], members: int, users: int, seconds: float) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    npis = list(keys)

    def user(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                npi = rng.choice(npis)
                index = npis.index(npi)
                # a member attributed to this pharmacy: ids congruent to its index modulo PHARMACIES
                member_id = index + PHARMACIES * rng.randrange(max(1, members // PHARMACIES))
                member_id = member_id or PHARMACIES
                choice = rng.random()
                if choice < 0.3:
                    url = f"/api/members?limit=50&offset={rng.randrange(0, 200)}"
                elif choice < 0.65:
                    url = f"/api/members/M{member_id:08d}"
                else:
                    url = f"/api/members/M{member_id:08d}/fills"
                began = time.perf_counter()
                response = client.get(url, headers={"X-API-Key": keys[npi]})
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors[0] += response.status_code != 200

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(quantiles[49], 1),
        "p95_ms": round(quantiles[94], 1),
        "p99_ms": round(quantiles[98], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--modes",
        default="per-request,group",
        help="audit modes to measure one after the other over the same store: per-request, group",
    )
    parser.add_argument("--load-only", nargs=2, metavar=("BASE", "KEYS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        keys = json.loads(Path(args.load_only[1]).read_text())
        sys.stdout.write(
            json.dumps(run_load(args.load_only[0], keys, args.members, args.users, args.seconds)) + "\n"
        )
        return
    folder = Path(tempfile.mkdtemp(prefix="openvbc-web-bench-"))
    began = time.monotonic()
    keys = build_store(folder / "openvbc.db", args.members)
    build_seconds = time.monotonic() - began
    (folder / "keys.json").write_text(json.dumps(keys))
    results = []
    for mode in args.modes.split(","):
        result = measure(folder, args, group_commit=mode == "group")
        result.update(
            figure="web_load",
            audit=mode,
            members=args.members,
            users=args.users,
            workers=args.workers,
            store="sqlite",
            build_seconds=round(build_seconds, 1),
        )
        results.append(result)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def measure(folder: Path, args: argparse.Namespace, *, group_commit: bool) -> dict[str, Any]:
    """Serve the store in its own process and load it from another; one audit mode."""
    env = {
        **os.environ,
        "OPENVBC_DATABASE_URL": f"sqlite:///{folder / 'openvbc.db'}",
        "OPENVBC_AUDIT_GROUP_COMMIT": "1" if group_commit else "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "openvbc.api.asgi:build_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=folder,
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        import httpx

        for _ in range(100):
            try:
                httpx.get(base + "/fhir/metadata", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        # The load generator is its own process, so it does not share the server's GIL.
        load = subprocess.run(
            [
                sys.executable,
                __file__,
                "--members",
                str(args.members),
                "--users",
                str(args.users),
                "--seconds",
                str(args.seconds),
                "--load-only",
                base,
                str(folder / "keys.json"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, Any] = json.loads(load.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


if __name__ == "__main__":
    main()
