"""Sign-in links and sessions (services/gateway/accounts.py) over in-memory
collections: a link opens one session, once, for 30 minutes; a forged one is
refused; a session ends for good on sign-out; CSRF tokens are bound."""

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.accounts import (
    Account,
    LinkRefused,
    SignIn,
    csrf_ok,
    csrf_token,
    digest,
    safe_next,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECRET = "unit-test-secret-0123456789"
TOWN = Account("collectivite", "39300", "Espace de la collectivité (code 39300)")


class Links:
    def __init__(self):
        self.docs, self.used = {}, set()

    def add(self, link):
        assert link["_id"] not in self.docs
        self.docs[link["_id"]] = dict(link)

    def get(self, link_id):
        return self.docs.get(link_id)

    def use(self, link):
        if link["_id"] in self.used:
            return False
        self.used.add(link["_id"])
        return True


class Sessions:
    def __init__(self):
        self.docs = {}

    def add(self, session):
        self.docs[session["_id"]] = dict(session)

    def get(self, session_id):
        return self.docs.get(session_id)

    def end(self, session_id):
        self.docs.pop(session_id, None)


@pytest.fixture
def stores():
    return Links(), Sessions()


def at(stores, moment):
    return SignIn(*stores, SECRET, moment)


def test_a_link_opens_one_session_once(stores):
    token = at(stores, T0).new_link(TOWN, "mairie@champagnole.fr")
    session_token, session = at(stores, T0 + timedelta(minutes=5)).follow(token)
    assert (session["role"], session["subject"], session["email"]) == (
        "collectivite",
        "39300",
        "mairie@champagnole.fr",
    )
    assert at(stores, T0 + timedelta(minutes=6)).session(session_token)["subject"] == "39300"
    with pytest.raises(LinkRefused) as refused:
        at(stores, T0 + timedelta(minutes=6)).follow(token)
    assert refused.value.code == "link_used" and "déjà servi" in refused.value.message
    assert len(stores[1].docs) == 1


def test_a_link_expires_after_thirty_minutes(stores):
    token = at(stores, T0).new_link(TOWN, "mairie@champagnole.fr")
    assert at(stores, T0 + timedelta(minutes=29, seconds=59)).check(token)["subject"] == "39300"
    with pytest.raises(LinkRefused) as refused:
        at(stores, T0 + timedelta(minutes=30)).follow(token)
    assert refused.value.code == "link_expired" and "30 minutes" in refused.value.message
    assert stores[0].used == set() and stores[1].docs == {}


@pytest.mark.parametrize("forged", ["", "abc", "abc.def", "x" * 40])
def test_a_forged_or_mangled_link_is_refused(stores, forged):
    token = at(stores, T0).new_link(TOWN, "mairie@champagnole.fr")
    with pytest.raises(LinkRefused) as refused:
        at(stores, T0).follow(forged)
    assert refused.value.code == "link_invalid"
    # Signed by another key: refused too.
    with pytest.raises(LinkRefused):
        SignIn(*stores, "another-secret-0123456789", T0).follow(token)


def test_nothing_stored_is_a_usable_secret(stores):
    token = at(stores, T0).new_link(TOWN, "mairie@champagnole.fr")
    session_token, _ = at(stores, T0).follow(token)
    stored = repr(stores[0].docs) + repr(stores[1].docs)
    assert token.split(".")[0] not in stored and session_token not in stored
    assert digest(session_token) in stores[1].docs


def test_sign_out_ends_the_session_and_sessions_expire(stores):
    first, _ = at(stores, T0).follow(at(stores, T0).new_link(TOWN, "a@b.fr"))
    second, _ = at(stores, T0).follow(at(stores, T0).new_link(TOWN, "a@b.fr"))
    at(stores, T0).end(first)
    assert at(stores, T0).session(first) is None
    assert at(stores, T0).session(second) is not None
    assert at(stores, T0 + timedelta(hours=12)).session(second) is None
    assert at(stores, T0).session(None) is None and at(stores, T0).session("unknown") is None


def test_csrf_tokens_are_bound_to_the_cookie_and_the_session():
    token = csrf_token(SECRET, "cookie-1", None)
    assert csrf_ok(SECRET, "cookie-1", None, token)
    assert not csrf_ok(SECRET, "cookie-2", None, token)
    assert not csrf_ok(SECRET, "cookie-1", "session", token)
    assert not csrf_ok(SECRET, "cookie-1", None, None)
    assert not csrf_ok(SECRET, None, None, token)
    assert csrf_ok(SECRET, "cookie-1", "session", csrf_token(SECRET, "cookie-1", "session"))


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("/jure", "/jure"),
        ("/collectivite/candidature/2027?x=1", "/collectivite/candidature/2027?x=1"),
        ("//evil.example", "/home"),
        ("https://evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        (None, "/home"),
    ],
)
def test_after_sign_in_only_paths_of_this_site(wanted, expected):
    assert safe_next(wanted, "/home") == expected


class Tokens:
    def __init__(self):
        self.docs = {}

    def add(self, doc):
        self.docs[doc["_id"]] = dict(doc)

    def get(self, token_hash):
        return self.docs.get(token_hash)

    def of(self, subject, limit=100):
        return [d for d in self.docs.values() if d["subject"] == subject][:limit]

    def revoke(self, subject, token_id, at):
        for doc in self.docs.values():
            if doc["subject"] == subject and doc["id"] == token_id:
                doc["revoked_at"] = at
                return True
        return False


def team_at(tokens, moment):
    from services.gateway.accounts import Team

    return Team(None, None, None, moment, tokens)


def test_personal_tokens_expire_can_be_revoked_one_by_one_and_are_not_stored_in_clear():
    tokens = Tokens()
    first, doc = team_at(tokens, T0).issue_token("florence@asso.fr", "labelctl", 30)
    second, _ = team_at(tokens, T0).issue_token("florence@asso.fr", "tableur", 1)
    assert first.startswith("lvi_") and first not in repr(tokens.docs)
    assert team_at(tokens, T0 + timedelta(days=29)).principal_of(first) == ("organiser", "florence@asso.fr")
    assert team_at(tokens, T0 + timedelta(days=30)).principal_of(first) is None  # expired
    assert team_at(tokens, T0 + timedelta(hours=23)).principal_of(second) is not None
    assert not team_at(tokens, T0).revoke_token("karim@asso.fr", doc["id"])  # not theirs
    assert team_at(tokens, T0).revoke_token("florence@asso.fr", doc["id"])
    assert team_at(tokens, T0).principal_of(first) is None
    assert team_at(tokens, T0 + timedelta(hours=23)).principal_of(second) is not None
    assert team_at(tokens, T0).principal_of("lvi_forged") is None


@pytest.mark.parametrize(
    ("method", "path", "organisers_exist", "local", "allowed"),
    [
        ("POST", "/api/v1/organisers", False, False, True),
        ("POST", "/api/v1/organisers", True, False, False),
        ("POST", "/api/v1/campaigns/<int:year>/release", False, False, False),
        ("GET", "/api/v1/outbox", True, False, False),
        ("POST", "/api/v1/campaigns/<int:year>/release", True, True, True),
    ],
)
def test_the_bootstrap_token_only_creates_the_first_organiser_outside_local_mode(
    method, path, organisers_exist, local, allowed
):
    from services.gateway.accounts import bootstrap_allows

    assert bootstrap_allows(method, path, organisers_exist, local) is allowed


def test_a_list_page_reads_the_revoked_accounts_of_its_role_at_once():
    from services.gateway.accounts import Team
    from services.gateway.repository import Organisers, Revocations
    from tests.unit.fakes import memory_database

    db = memory_database()
    revocations = Revocations(db)
    for role, subject in (("juror", "j1"), ("juror", "j3"), ("collectivite", "j2"), ("organiser", "o2")):
        revocations.revoke(role, subject, "florence@asso.fr", T0)
    team = Team(Organisers(db), revocations, None, T0, None)
    assert team.revoked("juror") == {"j1", "j3"}
    for email in ("o1@asso.fr", "o2"):
        Organisers(db).add({"_id": email, "name": email, "email": email})
    assert {o["_id"]: o["revoked"] for o in team.members()} == {"o1@asso.fr": False, "o2": True}
