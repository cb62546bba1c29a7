"""Sign-in by email link, for every role; a mixin of GatewayService.

An address gets a link per space it opens (a collectivité, the jury, the
organisers' console); an unknown address gets nothing, and the page says the
same either way, so it tells no one which addresses are known.
"""

import secrets
from urllib.parse import urlencode

from services.gateway.accounts import ROLE_HOMES, Account, LinkRefused, safe_next
from services.gateway.forms import email_from_form
from services.gateway.web import SESSION_COOKIE, page, redirect, render, set_cookie

LINK_PATH = "/connexion/lien"


def refused_link_page(visitor, refused):
    """The sign-in page again, saying why the link opened nothing (410: used or expired)."""
    status = 400 if refused.code == "link_invalid" else 410
    return render("connexion.html", visitor, status=status, email="", errors={}, refused=refused.message)


class SignInPages:
    def accounts_of(self, email):
        """Every space this address may open."""
        team = self.team()
        found = []
        organiser = team.organiser(email)
        if organiser is not None:
            found.append(Account("organiser", organiser["_id"], "Espace des organisateurs"))
        for col in self.submissions.collectivites_by_email(email):
            found.append(Account("collectivite", col["id"], f"Espace de la collectivité (code {col['id']})"))
        for juror in self.jury.jurors_by_email(email):
            found.append(Account("juror", juror["id"], "Espace juré"))
        return [account for account in found if not team.is_revoked(account.role, account.subject)]

    def send_sign_in_links(self, email, accounts, purpose="sign_in", suite=""):
        """One link per space; `suite`: the page to open once signed in."""
        base = str(self.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        sign_in = self.sign_in()
        links = [
            {
                "label": account.label,
                "url": f"{base}{LINK_PATH}?"
                + urlencode(
                    {"jeton": sign_in.new_link(account, email)} | ({"suite": suite} if suite else {})
                ),
            }
            for account in accounts
        ]
        self.notifications.send_sign_in(
            {
                "request_id": secrets.token_hex(16),
                "recipient": email,
                "purpose": purpose,
                "links": links,
                "minutes": 30,
            }
        )

    @page("GET", "/")
    def home_page(self, request, visitor):
        return render("accueil.html", visitor)

    @page("GET", "/connexion")
    def sign_in_page(self, request, visitor):
        return render(
            "connexion.html", visitor, email="", errors={}, suite=safe_next(request.args.get("suite"), "")
        )

    @page("POST", "/connexion")
    def request_sign_in(self, request, visitor):
        email, errors = email_from_form(request.form)
        suite = safe_next(request.form.get("suite"), "")
        if errors:
            return render("connexion.html", visitor, status=422, email=email, errors=errors, suite=suite)
        self.rate_limit(request, email)  # known address or not: the same limit, nothing told
        accounts = self.accounts_of(email)
        if accounts:
            self.send_sign_in_links(email, accounts, suite=suite)
        return render("connexion_envoyee.html", visitor, email=email)

    @page("GET", LINK_PATH)
    def sign_in_link_page(self, request, visitor):
        token = request.args.get("jeton", "")
        try:
            self.sign_in().check(token)
        except LinkRefused as refused:
            return refused_link_page(visitor, refused)
        # A click, not the GET, uses the link: mail scanners that fetch links spend nothing.
        return render(
            "connexion_lien.html", visitor, token=token, suite=safe_next(request.args.get("suite"), "")
        )

    @page("POST", LINK_PATH)
    def use_sign_in_link(self, request, visitor):
        try:
            link = self.sign_in().check(request.form.get("jeton", ""))
            # A link sent to a collectivité's address, followed: that address is confirmed.
            if link["role"] == "collectivite":
                self.submissions.confirm_collectivite(link["subject"], link["email"])
            session_token, session = self.sign_in().follow(request.form.get("jeton", ""))
        except LinkRefused as refused:
            return refused_link_page(visitor, refused)
        home = ROLE_HOMES[session["role"]]
        response = redirect(safe_next(request.form.get("suite"), home), "signed_in")
        set_cookie(response, self.config, SESSION_COOKIE, session_token)
        return response

    @page("POST", "/deconnexion")
    def sign_out(self, request, visitor):
        self.sign_in().end(request.cookies.get(SESSION_COOKIE))
        response = redirect("/connexion", "signed_out")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
