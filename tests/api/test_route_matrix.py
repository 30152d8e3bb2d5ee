"""Object-level authorisation, generated: every route × every caller × own / other / missing.

The route list comes from the application itself; a route without a row in ROUTES fails the
test, so a new endpoint cannot ship without saying how it is scoped. A leak is any answer
to a tenant-scoped caller that contains a foreign member's name or id, or that tells a
foreign object from a missing one (different status: an existence oracle).
(reliability-plan.md §7.3 S1, S2, S4; OWASP API1/API5.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi.testclient import TestClient

from api.world import MEMBERS, PASSWORD, PEOPLE, PHARMACY_A, PHARMACY_B, PRACTICE_C, PRACTICE_D, TWINS, World
from openvbc.domain.npi import make_npi
from openvbc.services.access import MEMBER_READ, PERMISSIONS, ROLE_ORG_KIND

TENANT_OF_ORG = {PHARMACY_A: "A", PRACTICE_C: "A", PHARMACY_B: "B", PRACTICE_D: "B"}
OWN_MEMBER = {"A": "A1", "B": "B1"}
OTHER_MEMBER = {"A": "B1", "B": "A1"}
MISSING = "NOPE404"
PHARMACIST = make_npi("400000001")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None  # None = anonymous
    org_npi: str | None
    headers: dict[str, str]

    @property
    def tenant(self) -> str | None:
        return TENANT_OF_ORG.get(self.org_npi or "")

    @property
    def reads_members(self) -> bool:
        return self.role is not None and MEMBER_READ in PERMISSIONS[self.role]

    def foreign_markers(self) -> list[str]:
        """Member names and keys this caller must never receive."""
        if self.role is None or (ROLE_ORG_KIND[self.role] == "plan" and self.reads_members):
            return [] if self.role else [m for k, v in MEMBERS.items() for m in (v[0], v[1])]
        out = []
        for _key, (first, last, pharmacy, practice, _pcp) in MEMBERS.items():
            mine = self.org_npi in (pharmacy, practice) and self.reads_members
            if not mine:
                out += [first, last]
        return out


# kind: how the object in the path is chosen. "member": member key; "group": organisation NPI;
# "none": no object (lists, public, admin). "job": an export job id.
@dataclass(frozen=True)
class Route:
    kind: str
    build: Callable[[str], tuple[str, dict[str, Any]]]  # object -> (url, request kwargs)


def _get(url: str) -> Callable[[str], tuple[str, dict[str, Any]]]:
    return lambda obj: (url.format(obj=obj), {})


def _observation(obj: str) -> tuple[str, dict[str, Any]]:
    body = {
        "resourceType": "Observation",
        "id": f"matrix-{obj}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": f"Patient/{obj}"},
        "effectiveDateTime": "2026-03-01T10:00:00Z",
        "valueQuantity": {
            "value": 128,
            "unit": "mm[Hg]",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        },
    }
    return "/fhir/Observation", {
        "content": json.dumps(body),
        "headers": {"Content-Type": "application/fhir+json"},
    }


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/openapi.json"): Route("public", _get("/api/openapi.json")),
    ("GET", "/api/docs"): Route("public", _get("/api/docs")),
    ("GET", "/docs/oauth2-redirect"): Route("public", _get("/docs/oauth2-redirect")),
    ("POST", "/auth/token"): Route(
        "public",
        lambda o: (
            "/auth/token",
            {
                "data": {
                    "grant_type": "client_credentials",
                    "client_assertion_type": "x",
                    "client_assertion": "y",
                }
            },
        ),
    ),
    ("GET", "/.well-known/smart-configuration"): Route("public", _get("/.well-known/smart-configuration")),
    ("GET", "/fhir/.well-known/smart-configuration"): Route(
        "public", _get("/fhir/.well-known/smart-configuration")
    ),
    ("GET", "/fhir/metadata"): Route("public", _get("/fhir/metadata")),
    ("GET", "/api/me"): Route("none", _get("/api/me")),
    ("GET", "/api/members"): Route("none", _get("/api/members?limit=500")),
    ("GET", "/api/members/{member_key}"): Route("member", _get("/api/members/{obj}")),
    ("GET", "/api/members/{member_key}/{fact}"): Route("member", _get("/api/members/{obj}/observations")),
    ("POST", "/api/uploads"): Route(
        "none",
        lambda o: (
            "/api/uploads?dry_run=true",
            {"files": {"files": ("members.csv", b"member_key\n", "text/csv")}},
        ),
    ),
    ("GET", "/api/users"): Route("none", _get("/api/users")),
    ("POST", "/api/users"): Route(
        "none",
        lambda o: (
            "/api/users",
            {
                "json": {
                    "username": "matrix_user",
                    "display_name": "M",
                    "role": "plan_analyst",
                    "password": PASSWORD,
                }
            },
        ),
    ),
    ("PUT", "/api/users/{username}/role"): Route(
        "none",
        lambda o: ("/api/users/reg_c/role", {"json": {"role": "registry_user", "org_npi": PRACTICE_C}}),
    ),
    ("GET", "/api/audit/events"): Route("none", _get("/api/audit/events?limit=10000")),
    ("GET", "/api/audit/verify"): Route("none", _get("/api/audit/verify")),
    ("GET", "/fhir/Patient/{resource_id}"): Route("member", _get("/fhir/Patient/{obj}")),
    ("GET", "/fhir/Patient"): Route("none", _get("/fhir/Patient?_count=500")),
    ("POST", "/fhir/Patient"): Route(
        "none", lambda o: ("/fhir/Patient", {"json": {"resourceType": "Patient"}})
    ),
    ("GET", "/fhir/Observation/{resource_id}"): Route("member", _get("/fhir/Observation/{obj}-8480-6")),
    ("GET", "/fhir/Observation"): Route("member", _get("/fhir/Observation?patient=Patient/{obj}")),
    ("POST", "/fhir/Observation"): Route("member", _observation),
    ("GET", "/fhir/Group/{resource_id}"): Route("group", _get("/fhir/Group/{obj}")),
    ("GET", "/fhir/Group/{group_id}/$export"): Route(
        "group", lambda o: (f"/fhir/Group/{o}/$export", {"headers": {"Prefer": "respond-async"}})
    ),
    ("POST", "/fhir/Group/{group_id}/$export"): Route(
        "group", lambda o: (f"/fhir/Group/{o}/$export", {"headers": {"Prefer": "respond-async"}})
    ),
    ("GET", "/fhir/$export-status/{job_id}"): Route("job", _get("/fhir/$export-status/{obj}")),
    ("DELETE", "/fhir/$export-status/{job_id}"): Route("job", _get("/fhir/$export-status/{obj}")),
    ("GET", "/fhir/$export-file/{job_id}/{file_name}"): Route(
        "job", _get("/fhir/$export-file/{obj}/Patient.ndjson")
    ),
    # program year, MTM, CCM, analytics (REST)
    ("GET", "/api/program/status"): Route("none", _get("/api/program/status")),
    ("GET", "/api/pharmacies/{npi}/worklist"): Route("group", _get("/api/pharmacies/{obj}/worklist")),
    ("GET", "/api/pharmacies/{npi}/statement"): Route("group", _get("/api/pharmacies/{obj}/statement")),
    ("POST", "/api/mtm-encounters"): Route("member", lambda o: ("/api/mtm-encounters", {"json": _mtm(o)})),
    ("POST", "/api/ccm/timer/start"): Route(
        "member", lambda o: ("/api/ccm/timer/start", {"json": {"member_key": o}})
    ),
    ("POST", "/api/ccm/timer/stop"): Route("none", _get("/api/ccm/timer/stop")),
    ("GET", "/api/ccm/months/{month}"): Route("none", _get("/api/ccm/months/2026-03")),
    ("POST", "/api/analytics/what-if"): Route(
        "none", lambda o: ("/api/analytics/what-if", {"json": {"targets": {"bp_control": 50}}})
    ),
    ("GET", "/api/analytics/roi"): Route("none", _get("/api/analytics/roi")),
    # FHIR measure operations and care plans
    ("GET", "/fhir/Measure/{measure_id}/$evaluate-measure"): Route(
        "member", _get("/fhir/Measure/CMS165/$evaluate-measure?subject=Patient/{obj}")
    ),
    ("GET", "/fhir/Measure/$care-gaps"): Route(
        "member", _get("/fhir/Measure/$care-gaps?subject=Patient/{obj}")
    ),
    ("GET", "/fhir/MeasureReport/{resource_id}"): Route("member", _get("/fhir/MeasureReport/CMS165.{obj}")),
    ("GET", "/fhir/MeasureReport"): Route("member", _get("/fhir/MeasureReport?patient=Patient/{obj}")),
    ("GET", "/fhir/CarePlan/{resource_id}"): Route("member", _get("/fhir/CarePlan/{obj}")),
    ("GET", "/fhir/CarePlan/{resource_id}/$document"): Route(
        "member", _get("/fhir/CarePlan/{obj}/$document")
    ),
    # pages (session cookie callers)
    ("GET", "/"): Route("page", _get("/")),
    ("GET", "/login"): Route("public", _get("/login")),
    ("POST", "/login"): Route(
        "public", lambda o: ("/login", {"data": {"username": "x", "password": "y", "login_csrf": "z"}})
    ),
    ("POST", "/logout"): Route("page-skip", _get("/logout")),
    ("GET", "/members"): Route("page", _get("/members")),
    ("GET", "/members/{member_key}"): Route("page-member", _get("/members/{obj}")),
    ("GET", "/pharmacy"): Route("page", _get("/pharmacy")),
    ("GET", "/care-manager"): Route("page", _get("/care-manager")),
    ("GET", "/analyst"): Route("page", _get("/analyst")),
    ("GET", "/uploads"): Route("page", _get("/uploads")),
    ("POST", "/uploads"): Route("page-skip", _get("/uploads")),
    ("GET", "/audit"): Route("page", _get("/audit")),
    ("POST", "/pharmacy/outreach"): Route(
        "page-skip", _get("/pharmacy/outreach")
    ),  # tested in test_program_pages
    ("GET", "/mtm/new"): Route("page-member", _get("/mtm/new?member={obj}")),
    ("POST", "/mtm/new"): Route("page-skip", _get("/mtm/new")),  # tested in test_program_pages
    ("POST", "/care-manager/timer"): Route("page-skip", _get("/care-manager/timer")),  # test_program_pages
    ("GET", "/members/{member_key}/careplan.{fmt}"): Route(
        "page-member", _get("/members/{obj}/careplan.fhir")
    ),
    ("GET", "/analyst/statements/{npi}"): Route("page", _get(f"/analyst/statements/{PHARMACY_A}")),
    ("GET", "/analyst/what-if"): Route("page", _get("/analyst/what-if?target_bp_control=50")),
}


def _mtm(member_key: str) -> dict[str, Any]:
    """An MTM encounter document for the matrix (a new key per member; repeats are refused)."""
    return {
        "mtm_key": f"matrix-{member_key}",
        "member_key": member_key,
        "pharmacist_npi": PHARMACIST,
        "kind": "TMR",
        "minutes": 20,
        "service_date": "2026-03-10",
    }


def app_routes(client: TestClient) -> set[tuple[str, str]]:
    found = set()
    for context in fastapi.routing.iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        for method in getattr(context, "methods", None) or ():
            if method != "HEAD":
                found.add((method, context.path))
    return found


def api_callers(world: World) -> list[Caller]:
    people = list(PEOPLE.items()) + list(TWINS.items())
    callers = [Caller(name, role, npi, {"X-API-Key": world.api_keys[name]}) for role, (name, npi) in people]
    callers.append(Caller("anonymous", None, None, {}))
    callers.append(Caller("expired-token", None, None, {"Authorization": "Bearer not-a-live-token"}))
    return callers


def page_callers(client: TestClient) -> list[tuple[Caller, dict[str, str]]]:
    out = []
    for role, (name, npi) in list(PEOPLE.items()) + list(TWINS.items()):
        if role == "plan_admin":
            continue  # needs a TOTP code; covered in test_auth
        cookies = sign_in_cookies(client, name)
        out.append((Caller(name, role, npi, {}), cookies))
    out.append((Caller("anonymous", None, None, {}), {}))
    return out


def sign_in_cookies(client: TestClient, username: str, code: str = "") -> dict[str, str]:
    client.cookies.clear()
    form = client.get("/login")
    token = form.text.split('name="login_csrf" value="')[1].split('"')[0]
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "login_csrf": token, "code": code},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    cookies = {"openvbc_session": answer.cookies["openvbc_session"]}
    client.cookies.clear()
    return cookies


def objects_for(kind: str, caller: Caller, world: World, client: TestClient) -> dict[str, str]:
    tenant = caller.tenant or "A"
    if kind in ("member", "page-member"):
        return {"own": OWN_MEMBER[tenant], "other": OTHER_MEMBER[tenant], "missing": MISSING}
    if kind == "group":
        own = caller.org_npi or PHARMACY_A
        other = {
            PHARMACY_A: PHARMACY_B,
            PHARMACY_B: PHARMACY_A,
            PRACTICE_C: PRACTICE_D,
            PRACTICE_D: PRACTICE_C,
        }.get(own, PHARMACY_B)
        return {"own": own, "other": other, "missing": "1999999999"}
    if kind == "job":
        return {
            "own": world.jobs.get(caller.name, "00000000-0000-0000-0000-000000000000"),
            "other": world.jobs["pharm_b" if caller.name != "pharm_b" else "pharm_a"],
            "missing": "00000000-0000-0000-0000-000000000000",
        }
    return {"only": ""}


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    unlisted = sorted(app_routes(client) - set(ROUTES))
    assert unlisted == [], f"routes without an authorisation row: {unlisted}"


def test_no_leaks_across_routes_roles_and_objects(client: TestClient, world: World) -> None:
    # Export jobs owned by two tenants, for the job rows of the matrix.
    world.jobs = {}
    for name, npi in (("pharm_a", PHARMACY_A), ("pharm_b", PHARMACY_B)):
        kick = client.get(
            f"/fhir/Group/{npi}/$export",
            headers={"X-API-Key": world.api_keys[name], "Prefer": "respond-async"},
        )
        assert kick.status_code == 202, kick.text
        world.jobs[name] = kick.headers["Content-Location"].rsplit("/", 1)[1]
    # Each tenant documents one MTM encounter, so its members have a care plan to read.
    for name, key in (("pharm_a", "A1"), ("pharm_b", "B1")):
        made = client.post(
            "/api/mtm-encounters",
            json={**_mtm(key), "mtm_key": f"seed-{key}"},
            headers={"X-API-Key": world.api_keys[name]},
        )
        assert made.status_code == 201, made.text
    # The program year is computed in the background; the measure routes need it.
    assert client.app.state.program_views.wait(timeout=300) is not None  # type: ignore[attr-defined]
    leaks: list[str] = []
    cases = 0
    for (method, _path), route in sorted(ROUTES.items(), key=lambda item: item[0]):
        if route.kind.startswith("page"):
            continue
        for caller in api_callers(world):
            answers: dict[str, tuple[int, str]] = {}
            for label, obj in objects_for(route.kind, caller, world, client).items():
                url, kwargs = route.build(obj)
                headers = {**kwargs.pop("headers", {}), **caller.headers}
                response = client.request(method, url, headers=headers, **kwargs)
                cases += 1
                answers[label] = (response.status_code, response.text)
                leaks += _scan(caller, method, url, response.status_code, response.text)
            if "other" in answers and answers["other"][0] != answers["missing"][0] and not _sees_all(caller):
                leaks.append(
                    f"{caller.name} {method} {_path}: other={answers['other'][0]} "
                    f"missing={answers['missing'][0]} (existence oracle)"
                )
            refused_own = answers.get("own", (200, ""))[0] != 200
            if refused_own and route.kind == "member" and caller.reads_members and method == "GET":
                leaks.append(f"{caller.name} {method} {_path}: own object refused ({answers['own'][0]})")
    for caller, cookies in page_callers(client):
        for (method, _path), route in ROUTES.items():
            if not route.kind.startswith("page") or route.kind == "page-skip":
                continue
            statuses = {}
            for label, obj in objects_for(route.kind, caller, world, client).items():
                url, _ = route.build(obj)
                client.cookies.clear()
                response = client.request(method, url, cookies=cookies, follow_redirects=False)
                cases += 1
                statuses[label] = response.status_code
                leaks += _scan(caller, method, url, response.status_code, response.text)
                if response.status_code == 200:
                    assert response.headers["cache-control"] == "no-store"
            if "other" in statuses and statuses["other"] != statuses["missing"] and not _sees_all(caller):
                leaks.append(
                    f"page {caller.name} {url}: other={statuses['other']} missing={statuses['missing']}"
                )
    client.cookies.clear()
    print(json.dumps({"figure": "route_matrix", "cases": cases, "routes": len(ROUTES), "leaks": len(leaks)}))
    assert leaks == []
    assert cases > 500


def _sees_all(caller: Caller) -> bool:
    return caller.role is not None and ROLE_ORG_KIND[caller.role] == "plan" and caller.reads_members


def _scan(caller: Caller, method: str, url: str, status: int, body: str) -> list[str]:
    found = [marker for marker in caller.foreign_markers() if marker in body]
    if (
        caller.role is None
        and 200 <= status < 300
        and not url.startswith(
            (
                "/fhir/metadata",
                "/.well-known",
                "/fhir/.well-known",
                "/api/openapi",
                "/api/docs",
                "/docs",
                "/login",
            )
        )
    ):
        found.append(f"anonymous got {status}")
    return [f"{caller.name} {method} {url}: {status} carries {', '.join(found)}"] if found else []
