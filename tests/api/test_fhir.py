"""FHIR endpoints: OperationOutcome errors, conditional create and idempotency under
concurrency, Group bulk export with a verifiable manifest. (§7.2 F1, F4, F5, F7.)"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.world import PHARMACY_A, PHARMACY_B, World
from openvbc.store.tables import observation

FHIR = {"Content-Type": "application/fhir+json"}


def _bp(resource_id: str, member_key: str = "A1", value: float = 128) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": f"Patient/{member_key}"},
        "effectiveDateTime": "2026-03-01T10:00:00Z",
        "valueQuantity": {
            "value": value,
            "unit": "mm[Hg]",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        },
    }


def test_errors_are_operation_outcomes(client: TestClient, world: World) -> None:
    headers = {"X-API-Key": world.api_keys["pharm_a"], **FHIR}
    cases = [
        client.get("/fhir/Patient/A1"),  # 401
        client.get("/fhir/Patient/B1", headers=headers),  # 404
        client.get("/fhir/Patient?birthdate=yesterday", headers=headers),  # 400
        client.post("/fhir/Observation", content="{not json", headers=headers),  # 400
        client.post("/fhir/Observation", content=json.dumps({"resourceType": "Patient"}), headers=headers),
        client.post(
            "/fhir/Patient", content=json.dumps({"resourceType": "Patient", "id": "x"}), headers=headers
        ),
    ]
    assert [c.status_code for c in cases] == [401, 404, 400, 400, 400, 403]
    for answer in cases:
        body = answer.json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] in (
            "error",
            "fatal",
        )


def test_invalid_observation_is_rejected_with_its_field_and_nothing_stored(
    client: TestClient, world: World
) -> None:
    bad = _bp("bad-1")
    bad["effectiveDateTime"] = "not-a-date"
    answer = client.post(
        "/fhir/Observation", content=json.dumps(bad), headers={"X-API-Key": world.api_keys["pharm_a"], **FHIR}
    )
    assert answer.status_code == 400
    assert any("expression" in issue for issue in answer.json()["issue"])
    with world.engine.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).where(observation.c.observation_key.like("%bad-1"))
            ).scalar()
            == 0
        )


def test_create_then_repeat_gives_201_then_200(client: TestClient, world: World) -> None:
    headers = {"X-API-Key": world.api_keys["pharm_a"], **FHIR}
    first = client.post("/fhir/Observation", content=json.dumps(_bp("obs-new")), headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/fhir/Observation", content=json.dumps(_bp("obs-new")), headers=headers)
    assert again.status_code == 200
    conditional = client.post(
        "/fhir/Observation",
        content=json.dumps(_bp("obs-new")),
        headers={**headers, "If-None-Exist": "_id=obs-new"},
    )
    assert conditional.status_code == 200
    read = client.get("/fhir/Observation/obs-new", headers=headers).json()
    assert read["valueQuantity"]["value"] == 128 and read["subject"]["reference"] == "Patient/A1"


def test_foreign_subject_cannot_be_written(client: TestClient, world: World) -> None:
    answer = client.post(
        "/fhir/Observation",
        content=json.dumps(_bp("obs-b", member_key="B1")),
        headers={"X-API-Key": world.api_keys["pharm_a"], **FHIR},
    )
    assert answer.status_code == 404 and answer.json()["issue"][0]["expression"] == ["Observation.subject"]


def test_concurrent_identical_posts_create_one_resource(client: TestClient, world: World) -> None:
    headers = {"X-API-Key": world.api_keys["pharm_a"], **FHIR, "Idempotency-Key": "same-request"}
    body = json.dumps(_bp("obs-race"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: client.post("/fhir/Observation", content=body, headers=headers).status_code,
                range(16),
            )
        )
    assert sorted(statuses) == [200] * 15 + [201]
    with world.engine.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).where(observation.c.observation_key == "Observation/obs-race")
            ).scalar()
            == 1
        )
    different = client.post(
        "/fhir/Observation", content=json.dumps(_bp("obs-race", value=130)), headers=headers
    )
    assert different.status_code == 422


def test_group_export_kickoff_status_manifest_and_files(client: TestClient, world: World) -> None:
    headers = {"X-API-Key": world.api_keys["pharm_a"]}
    assert client.get(f"/fhir/Group/{PHARMACY_A}/$export", headers=headers).status_code == 400  # no Prefer
    kick = client.get(f"/fhir/Group/{PHARMACY_A}/$export", headers={**headers, "Prefer": "respond-async"})
    assert kick.status_code == 202
    status_url = kick.headers["Content-Location"]
    manifest = client.get(status_url, headers=headers)
    assert manifest.status_code == 200, manifest.text
    outputs = {item["type"]: item for item in manifest.json()["output"]}
    patients = client.get(outputs["Patient"]["url"], headers=headers)
    assert patients.headers["content-type"].startswith("application/fhir+ndjson")
    assert hashlib.sha256(patients.content).hexdigest() == outputs["Patient"]["extension"]["sha256"]
    ids = sorted(json.loads(line)["id"] for line in patients.text.splitlines())
    assert ids == ["A1", "A2"]
    observations = client.get(outputs["Observation"]["url"], headers=headers).text
    assert "B1" not in observations and outputs["Observation"]["count"] == 6
    other = {"X-API-Key": world.api_keys["pharm_b"]}
    assert client.get(status_url, headers=other).status_code == 404
    assert (
        client.get(
            f"/fhir/Group/{PHARMACY_B}/$export", headers={**headers, "Prefer": "respond-async"}
        ).status_code
        == 404
    )
