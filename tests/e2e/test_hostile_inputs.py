"""Hostile inputs against the public API and a few forms, end to end: operator
and dotted keys, huge and nested bodies, control characters, wrong types,
overlong strings, foreign ids, expired, revoked and forged tokens, another
role's token, bad paths and query strings. Each gets the status of the table
(printed, and written to the run's directory), none gets a 5xx, and none
changes what the services store (counts and hashes of every collection,
before and after). This module's campaign year: 2801; INSEE codes 09001-09009."""

import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from bson import json_util

from services.common import tokens
from tests.support.api import ok, open_campaign, wait_until

pytestmark = pytest.mark.e2e

YEAR = 2801
SERVICE = "acces-wifi-public-gratuit"
# Counters by design: a refused sign-up still counts against its sender's rate limit.
NOT_STATE = {("gateway", "rate_slots")}
QUIET_SECONDS = 6  # > OUTBOX_SWEEP_SECONDS (5)


def commune(insee, **over):
    body = {
        "insee_code": insee,
        "name": f"Commune {insee}",
        "kind": "commune",
        "population": 900,
        "region": "Occitanie",
        "department": "09",
        "email": f"mairie-{insee}@ariege.hostile.example.fr",
    }
    body.update(over)
    return body


def application(**over):
    body = {
        "campaign_year": YEAR,
        "services": [SERVICE],
        "initiatives": [{"title": "Wifi", "enjeu": "acces", "description": "Bornes wifi."}],
    }
    body.update(over)
    return body


@pytest.fixture(scope="module")
def world(stack):
    admin = stack.admin_token
    moment = datetime.now(UTC)
    open_campaign(stack, YEAR, "Foix", closes_in=timedelta(days=30), ceremony_in=timedelta(days=60))
    a = ok(stack.http("POST", "/api/v1/collectivites", token=admin, json=commune("09001")), 201)
    b = ok(stack.http("POST", "/api/v1/collectivites", token=admin, json=commune("09002")), 201)
    c = ok(stack.http("POST", "/api/v1/collectivites", token=admin, json=commune("09003")), 201)
    ok(stack.http("POST", "/api/v1/tokens/revoke", json={"token": c["token"]}))
    juror = ok(
        stack.http(
            "POST",
            "/api/v1/jurors",
            token=admin,
            json={"name": "Juré Hostile", "email": "jure@hostile.example.fr", "department": "75"},
        ),
        201,
    )
    app_a = ok(stack.http("POST", "/api/v1/applications", token=a["token"], json=application()), 201)
    app_b = ok(stack.http("POST", "/api/v1/applications", token=b["token"], json=application()), 201)
    secret = stack.env["LABEL_SECRET_KEY"]
    expired = tokens.issue(secret, "collectivite", a["id"], moment - timedelta(days=100), timedelta(days=90))
    return {
        "admin": admin,
        "a": a["token"],
        "b": b["token"],
        "revoked": c["token"],
        "juror": juror["token"],
        "expired": expired,
        "other_secret": tokens.issue("x" * 40, "organiser", "admin", moment, timedelta(days=1)),
        "app_a": app_a["id"],
        "app_b": app_b["id"],
        "b_id": b["id"],
    }


def deep(levels):
    return "[" * levels + "]" * levels


# (label, method, path, token key or None, body: dict/list → JSON, str/bytes → raw, expected status)
CASES = [
    # -- sign-up (anonymous): operator keys, dotted keys, wrong types, control characters, sizes
    ("$where at the top", "POST", "/api/v1/collectivites", None, {"$where": "1", **commune("09004")}, 422),
    ("$gt as insee_code", "POST", "/api/v1/collectivites", None, commune({"$gt": ""}), 422),
    ("$ne as name", "POST", "/api/v1/collectivites", None, commune("09004", name={"$ne": None}), 422),
    (
        "$regex as region",
        "POST",
        "/api/v1/collectivites",
        None,
        commune("09004", region={"$regex": ".*"}),
        422,
    ),
    ("dotted key", "POST", "/api/v1/collectivites", None, {"a.b": 1, **commune("09004")}, 422),
    ("NUL in the email", "POST", "/api/v1/collectivites", None, commune("09004", email="a\x00@b.fr"), 422),
    (
        "CRLF header in the email",
        "POST",
        "/api/v1/collectivites",
        None,
        commune("09004", email="a@b.fr\r\nBcc: x@y.fr"),
        422,
    ),
    (
        "population as words",
        "POST",
        "/api/v1/collectivites",
        None,
        commune("09004", population="beaucoup"),
        422,
    ),
    ("negative population", "POST", "/api/v1/collectivites", None, commune("09004", population=-5), 422),
    ("population 10**30", "POST", "/api/v1/collectivites", None, commune("09004", population=10**30), 422),
    ("population true", "POST", "/api/v1/collectivites", None, commune("09004", population=True), 422),
    ("unknown kind", "POST", "/api/v1/collectivites", None, commune("09004", kind="metropole"), 422),
    (
        "name of 100 000 characters",
        "POST",
        "/api/v1/collectivites",
        None,
        commune("09004", name="x" * 100_000),
        422,
    ),
    ("path in the insee_code", "POST", "/api/v1/collectivites", None, commune("../../etc"), 422),
    ("email as a list", "POST", "/api/v1/collectivites", None, commune("09004", email=["a@b.fr"]), 422),
    ("a JSON array", "POST", "/api/v1/collectivites", None, [commune("09004")], 422),
    ("JSON null", "POST", "/api/v1/collectivites", None, "null", 422),
    ("malformed JSON", "POST", "/api/v1/collectivites", None, '{"insee_code": ', 400),
    ("not UTF-8", "POST", "/api/v1/collectivites", None, b"\xff\xfe{}", 400),
    ("nested 10 000 deep", "POST", "/api/v1/collectivites", None, deep(10_000), 400),
    (
        "2 MB body",
        "POST",
        "/api/v1/collectivites",
        None,
        json.dumps(commune("09004", name="x" * 2_000_000)),
        413,
    ),
    ("an existing code again", "POST", "/api/v1/collectivites", None, commune("09001"), 409),
    # -- tokens
    ("expired token", "GET", "/api/v1/collectivites/09001", "expired", None, 401),
    ("revoked token", "GET", "/api/v1/collectivites/09003", "revoked", None, 401),
    ("forged token", "GET", "/api/v1/collectivites/09001", "forged", None, 401),
    ("token of another secret", "GET", "/api/v1/outbox", "other_secret", None, 401),
    ("personal-token prefix, unknown", "GET", "/api/v1/outbox", "lvi_fake", None, 401),
    ("no token on juror creation", "POST", "/api/v1/jurors", None, {"name": "X", "email": "x@y.fr"}, 401),
    ("revoke: operator as token", "POST", "/api/v1/tokens/revoke", None, {"token": {"$ne": ""}}, 422),
    ("revoke: overlong token", "POST", "/api/v1/tokens/revoke", None, {"token": "x" * 5000}, 422),
    # -- another role's token, foreign ids
    ("juror creates an application", "POST", "/api/v1/applications", "juror", application(), 403),
    ("collectivité creates a campaign", "POST", "/api/v1/campaigns", "a", {"year": 2802}, 403),
    ("collectivité reads the outbox", "GET", "/api/v1/outbox", "a", None, 403),
    (
        "collectivité revokes an account",
        "POST",
        "/api/v1/accounts/revoke",
        "a",
        {"role": "collectivite", "subject": "09002"},
        403,
    ),
    ("juror reads the deliberation", "GET", f"/api/v1/campaigns/{YEAR}/deliberation", "juror", None, 403),
    ("juror releases the palmarès", "POST", f"/api/v1/campaigns/{YEAR}/release", "juror", None, 403),
    ("A reads B's collectivité", "GET", "/api/v1/collectivites/09002", "a", None, 404),
    ("A reads B's application", "GET", "/api/v1/applications/{app_b}", "a", None, 404),
    ("A edits B's application", "PATCH", "/api/v1/applications/{app_b}", "a", {"services": []}, 404),
    ("A submits B's application", "POST", "/api/v1/applications/{app_b}/submit", "a", None, 404),
    ("A withdraws B's application", "POST", "/api/v1/applications/{app_b}/withdraw", "a", None, 404),
    # -- A's own application: operators, fields it may not set, wrong types
    ("$set in a patch", "PATCH", "/api/v1/applications/{app_a}", "a", {"$set": {"state": "submitted"}}, 422),
    ("$in as services", "PATCH", "/api/v1/applications/{app_a}", "a", {"services": {"$in": ["x"]}}, 422),
    ("state in a patch", "PATCH", "/api/v1/applications/{app_a}", "a", {"state": "submitted"}, 422),
    (
        "collectivite_id in a patch",
        "PATCH",
        "/api/v1/applications/{app_a}",
        "a",
        {"collectivite_id": "09002"},
        422,
    ),
    (
        "overlong description",
        "PATCH",
        "/api/v1/applications/{app_a}",
        "a",
        {"initiatives": [{"title": "t", "enjeu": "acces", "description": "x" * 200_000}]},
        422,
    ),
    ("$gt as campaign_year", "POST", "/api/v1/applications", "a", application(campaign_year={"$gt": 0}), 422),
    (
        "text as campaign_year",
        "POST",
        "/api/v1/applications",
        "a",
        application(campaign_year="2801; drop"),
        422,
    ),
    # -- paths and query strings
    ("operator in an id", "GET", "/api/v1/applications/%7B%22%24gt%22%3A%22%22%7D", "admin", None, 404),
    ("dots in an id", "GET", "/api/v1/applications/..%2F..%2Fetc", "admin", None, 404),
    ("a year of letters", "GET", "/api/v1/campaigns/abc", None, None, 404),
    (
        "a decision on no application",
        "PUT",
        "/api/v1/applications/nope/decision",
        "admin",
        {"arobases": 3, "mentions": []},
        404,
    ),
    (
        "claim with an operator year",
        "POST",
        "/api/v1/review-tasks/claim",
        "juror",
        {"campaign_year": {"$gt": 0}},
        422,
    ),
    (
        "review of a foreign task",
        "POST",
        "/api/v1/review-tasks/nope/review",
        "juror",
        {"scores": {}, "arobases": 3, "mentions": [], "comment": ""},
        404,
    ),
    ("bad outbox state", "GET", "/api/v1/outbox?state=%24ne", "admin", None, 422),
    ("bad dead-letter limit", "GET", "/api/v1/dead-letters?limit=abc", "admin", None, 400),
    ("forged outbox cursor", "GET", "/api/v1/outbox?cursor=%7B%22%24gt%22%3A%22%22%7D", "admin", None, 400),
    ("page size above the maximum", "GET", "/api/v1/outbox?limit=100000", "admin", None, 400),
    (
        "reassign: operator as email",
        "POST",
        "/api/v1/collectivites/09002/reassign",
        "admin",
        {"email": {"$ne": ""}},
        422,
    ),
    (
        "reassign: no such code",
        "POST",
        "/api/v1/collectivites/09999/reassign",
        "admin",
        {"email": "a@b.fr"},
        404,
    ),
    (
        "reassign by a juror",
        "POST",
        "/api/v1/collectivites/09002/reassign",
        "juror",
        {"email": "a@b.fr"},
        403,
    ),
    ("resend of no email", "POST", "/api/v1/outbox/nope/resend", "admin", None, 404),
]


def snapshot(stack):
    """{(service, collection): (count, hash of its documents)} of every service's database."""
    state = {}
    for service in ("submissions", "jury", "awards", "notifications", "gateway"):
        db = stack.mongo(service)
        for name in sorted(db.list_collection_names()):
            if (service, name) in NOT_STATE:
                continue
            docs = sorted(json_util.dumps(doc, sort_keys=True) for doc in db[name].find({}))
            state[(service, name)] = (len(docs), hashlib.sha256("\n".join(docs).encode()).hexdigest())
    return state


def send(stack, world, method, path, token_key, body):
    token = None
    if token_key == "forged":
        token = "eyJyIjoib3JnYW5pc2VyIn0.forged"
    elif token_key == "lvi_fake":
        token = "lvi_" + "x" * 43
    elif token_key:
        token = world[token_key]
    path = path.format(**world)
    kw = {}
    if isinstance(body, (dict, list)):
        kw["json"] = body
    elif body is not None:
        kw["data"] = body.encode() if isinstance(body, str) else body
        kw["headers"] = {"Content-Type": "application/json"}
    return stack.http(method, "/" + path.lstrip("/"), token=token, **kw)


def stable_snapshot(stack):
    """Wait for the services to be quiet (earlier tests' emails sent, events
    handled): the same state over longer than the sender's and the sweep's periods."""
    found = []

    def quiet():
        first = snapshot(stack)
        time.sleep(QUIET_SECONDS)
        found[:] = [snapshot(stack)]
        return first == found[0]

    wait_until(quiet, timeout=120, interval=0.5, what="quiet databases")
    return found[0]


def test_hostile_inputs_get_their_status_and_change_nothing(stack, world):
    assert len(CASES) >= 40
    before = stable_snapshot(stack)
    rows, wrong = [], []
    for label, method, path, token_key, body, expected in CASES:
        response = send(stack, world, method, path, token_key, body)
        code = ""
        if "json" in response.headers.get("Content-Type", ""):
            code = (
                (response.json().get("error") or {}).get("code", "")
                if isinstance(response.json(), dict)
                else ""
            )
        rows.append((label, f"{method} {path}", expected, response.status_code, code))
        if response.status_code != expected:
            wrong.append((label, expected, response.status_code, response.text[:300]))

    # Two forms: a sign-in request with a header injection, a sign-up without its CSRF token.
    session = requests.Session()
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', session.get(stack.base_url + "/connexion").text
    ).group(1)
    forms = [
        (
            "form: CRLF in the email",
            "/connexion",
            {"email": "a@b.fr\r\nBcc: x@y.fr", "csrf_token": csrf},
            422,
        ),
        ("form: sign-up without CSRF", "/collectivite/inscription", commune("09005"), 403),
    ]
    for label, path, data, expected in forms:
        response = session.post(stack.base_url + path, data=data, allow_redirects=False)
        rows.append((label, f"POST {path}", expected, response.status_code, "page"))
        if response.status_code != expected:
            wrong.append((label, expected, response.status_code, response.text[:300]))

    table = [f"{'input':<36} {'request':<52} {'want':>4} {'got':>4}  code"]
    table += [
        f"{label:<36} {request[:52]:<52} {want:>4} {got:>4}  {code}"
        for label, request, want, got, code in rows
    ]
    text = "\n".join(table)
    print("\n" + text)
    (stack.run_dir / "hostile_inputs.txt").write_text(text + "\n")

    assert not [row for row in rows if row[3] >= 500], text
    assert not wrong, "\n".join(map(str, wrong))
    after = stable_snapshot(stack)
    changed = {
        key: (before.get(key), after.get(key))
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    }
    assert not changed, changed


def test_no_token_is_stored_logged_or_mailed(stack, world):
    """A bearer token is shown once, in the response that issues it: no
    database (ledger, outbox, dead letters), log or email holds it."""
    secrets_shown = [world[key] for key in ("a", "b", "revoked", "juror")]
    # The signature part alone would do to recognise a copy.
    needles = secrets_shown + [token.rsplit(".", 1)[-1] for token in secrets_shown]
    for service in ("submissions", "jury", "awards", "notifications", "gateway"):
        db = stack.mongo(service)
        for name in db.list_collection_names():
            text = "\n".join(json_util.dumps(doc) for doc in db[name].find({}))
            assert not [n for n in needles if n in text], (service, name)
        assert not [n for n in needles if n in stack.log(service)], service
    for message in stack.mail.messages():
        assert not [n for n in needles if n in message.as_string()], message["Subject"]
    dead = stack.http("GET", "/api/v1/dead-letters", token=world["admin"])
    assert dead.status_code == 200 and not [n for n in needles if n in dead.text]
