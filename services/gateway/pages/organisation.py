"""The organisers' landing page (/organisation): where an organiser's sign-in
link leads. The console itself (campaigns, jurors, deliberation, release,
outbox) is built on it; until then organisers act through the API and labelctl."""

from services.gateway.web import page, render

ORGANISER = ("organiser",)


class OrganiserPages:
    @page("GET", "/organisation", roles=ORGANISER)
    def organiser_home(self, request, visitor):
        return render("organisation.html", visitor, campaigns=self.submissions.list_campaigns())
