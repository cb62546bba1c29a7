"""Schemathesis over GET /api/v1/openapi.json against the running stack, as
anonymous, collectivité, juror and organiser: every operation gets generated
requests (valid and invalid ones, with random and with real path ids); no
response may be a 5xx or differ from the spec (status code, content type,
headers, body schema). Bounded: MAX_EXAMPLES per operation, mode and role.

Campaign year 2390; INSEE codes 14x9x."""

import logging
import time
from datetime import timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import ok, open_campaign, poll

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

YEAR = 2390
MAX_EXAMPLES = 8
STATEFUL_EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def world(stack):
    """A campaign, a collectivité with a submitted application, a juror holding
    one of its review tasks, an email: real ids for the path parameters."""
    admin = stack.admin_token
    open_campaign(stack, YEAR, "Caen", closes_in=timedelta(days=2))
    campaign = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}"))
    enjeu = campaign["grid"]["enjeux"][0]
    signup = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=admin,
            json={
                "insee_code": "14190",
                "name": "Commune 14190",
                "kind": "commune",
                "population": 1200,
                "region": "Normandie",
                "department": "14",
                "email": "mairie-14190@fuzz.example.fr",
            },
        ),
        201,
    )
    application = ok(
        stack.http(
            "POST",
            "/api/v1/applications",
            token=signup["token"],
            json={
                "campaign_year": YEAR,
                "services": [enjeu["services"][0]["code"]],
                "initiatives": [{"title": "Wifi public", "enjeu": enjeu["code"], "description": "Bornes."}],
            },
        ),
        201,
    )
    juror = ok(
        stack.http(
            "POST",
            "/api/v1/jurors",
            token=admin,
            json={"name": "Juré Fuzz", "email": "jure-fuzz@fuzz.example.fr", "department": "61"},
        ),
        201,
    )
    # submitted, so that review tasks exist; the juror holds one
    ok(stack.http("POST", f"/api/v1/applications/{application['id']}/submit", token=signup["token"]))
    task = poll(
        lambda: stack.http(
            "POST", "/api/v1/review-tasks/claim", token=juror["token"], json={"campaign_year": YEAR}
        ),
        lambda response: response.status_code == 200,
    ).json()
    email_id = ok(stack.http("GET", "/api/v1/outbox", token=admin, params={"limit": 1}))[0]["id"]
    return {
        "tokens": {
            "anonymous": None,
            "collectivite": signup["token"],
            "juror": juror["token"],
            "organiser": admin,
        },
        "ids": {
            "year": YEAR,
            "application_id": application["id"],
            "collectivite_id": signup["id"],
            "task_id": task["id"],
            "email_id": email_id,
        },
    }


def run_operation(operation, base_url, token, mode, path_ids, failures, counter):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wanted = {param.name for param in operation.path_parameters}
    fixed = {name: value for name, value in path_ids.items() if name in wanted} if path_ids else None
    session = requests.Session()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def fuzz(case):
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        counter["requests"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, no stop and shrink
            failures.append(f"{case.method} {case.formatted_path} [{response.status_code}]: {exc}"[:1500])

    try:
        fuzz()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE  # nothing of this operation can be made invalid


def test_no_5xx_and_every_response_matches_the_spec(stack, world):
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    declared = {(m.upper(), p) for p, item in schema.raw_schema["paths"].items() for m in item}
    # schemathesis leaves out the operation serving the spec itself
    assert {(op.method.upper(), op.path) for op in operations} == declared - {("GET", "/api/v1/openapi.json")}
    assert len(operations) >= 37
    failures: list[str] = []
    counter = {"requests": 0}
    started = time.monotonic()
    for role in ("anonymous", "collectivite", "juror", "organiser"):
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for path_ids in (None, world["ids"]):
                    if path_ids and not operation.path_parameters:
                        continue
                    run_operation(
                        operation, stack.base_url, world["tokens"][role], mode, path_ids, failures, counter
                    )
    elapsed = time.monotonic() - started
    summary = f"schemathesis: {counter['requests']} requests, {len(operations)} operations, {elapsed:.0f} s"
    print(summary)
    log.warning(summary)
    assert counter["requests"] > 1000, summary
    assert not failures, f"{summary}; {len(failures)} failures:\n" + "\n".join(failures[:40])


def test_stateful_sequences_follow_the_links_without_5xx_or_mismatch(stack, world):
    """Sequences along the spec's links (a campaign created, then read, its
    applications, deliberation…; an application created, then patched, submitted,
    withdrawn), as organiser and as collectivité."""
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
    counter = {"requests": 0}
    for role in ("organiser", "collectivite"):
        headers = {"Authorization": f"Bearer {world['tokens'][role]}"}

        class Sequences(schema.as_state_machine()):
            auth = headers

            def get_call_kwargs(self, case):
                return {"headers": self.auth, "timeout": 30}

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                counter["requests"] += 1
                case.validate_response(response, checks=CHECKS)

        try:
            run_sequences(Sequences)
        except FlakyStrategyDefinition as exc:
            # Hypothesis replays an example to report it; against a live system
            # whose answers depend on timing (events still on their way) the
            # replay draws other rules and hypothesis reports only that. A
            # failure that replays is still raised; this one is logged.
            log.warning("stateful fuzz (%s): a sequence did not replay: %s", role, str(exc)[:300])
    summary = f"schemathesis (stateful): {counter['requests']} requests"
    print(summary)
    log.warning(summary)
    assert counter["requests"] > 50, summary


def run_sequences(Sequences):
    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            # no shrinking: against a live system a replay does not draw the
            # same data, and hypothesis would report that, not the failure
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nowhere",
        "/api/v1/campaigns/deux-mille/deliberation",  # <int:year> not a number: no route matched
        "/api/v1/campaigns/55003326113371101314119498727424/deliberation",  # past MongoDB's int64
        "/api/v1/campaigns/55003326113371101314119498727424",
    ],
)
def test_what_the_fuzz_found_gets_a_json_404_not_html_nor_500(stack, path):
    response = stack.http("GET", path, token=stack.admin_token)
    assert response.status_code == 404, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] in ("not_found", "campaign_not_found")
