"""The OpenAPI spec covers every @api route, with its roles, and is a valid 3.1 document."""

import schemathesis

from services.gateway import openapi
from services.gateway.app import GatewayService  # noqa: F401  (declares every route)
from services.gateway.http import ROUTES, Route


def spec():
    return openapi.build_spec()


def test_every_api_route_has_an_operation_and_no_operation_is_stale():
    names = {route.name for route in openapi.api_routes()}
    assert len(names) >= 38
    assert names == set(openapi.OPERATIONS)


def test_every_route_is_in_the_spec_with_its_roles():
    paths = spec()["paths"]
    for route in openapi.api_routes():
        path, _ = openapi._path(route)
        operation = paths[path][route.method.lower()]
        assert operation["operationId"] == route.name
        if route.public:
            assert {} in operation["security"]
        else:
            assert operation["security"] == [{"bearerAuth": []}]
            assert set(operation["x-roles"]) == set(route.roles or ("organiser", "collectivite", "juror"))
            assert "403" in operation["responses"] and "401" in operation["responses"]
            assert ", ".join(operation["x-roles"]) in operation["description"]


def test_errors_have_the_api_error_format():
    document = spec()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "fields"}
    create = document["paths"]["/api/v1/campaigns"]["post"]
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_request_bodies_come_from_the_services_marshmallow_schemas():
    document = spec()
    body = document["paths"]["/api/v1/collectivites"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/CollectiviteInput"}
    schema = document["components"]["schemas"]["CollectiviteInput"]
    assert schema["additionalProperties"] is False
    assert {"name", "kind", "population", "email"} <= set(schema["required"])


def test_lists_are_paginated():
    operation = spec()["paths"]["/api/v1/outbox"]["get"]
    params = {param["name"]: param for param in operation["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200 and "cursor" in params
    assert "X-Next-Cursor" in operation["responses"]["200"]["headers"]


def test_the_document_is_valid_openapi_3_1():
    document = spec()
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())


def test_html_pages_are_not_api_operations():
    pages = [route for route in ROUTES if not route.path.startswith("/api/")]
    assert pages and all(openapi._path(p)[0] not in spec()["paths"] for p in pages)


def test_a_route_not_yet_described_still_gets_its_path_and_roles(monkeypatch):
    # GET /api/v1/openapi.json must not fail because a new route lacks its OPERATIONS entry
    extra = Route("POST", "/api/v1/things/<thing_id>/poke", ("organiser",), False, "poke_thing")
    monkeypatch.setattr("services.gateway.openapi.ROUTES", [*ROUTES, extra])
    operation = spec()["paths"]["/api/v1/things/{thing_id}/poke"]["post"]
    assert operation["x-roles"] == ["organiser"] and "404" in operation["responses"]
