"""docs/mails/ cannot rot: every email template has a sample, rendered by the
real logic, and the committed samples are what `make mails` writes today."""

from pathlib import Path

from tests.support.mail_samples import render_samples

TEMPLATES = Path(__file__).resolve().parents[3] / "services" / "notifications" / "templates"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "mails"


def test_every_template_has_a_rendered_sample(tmp_path):
    written = render_samples(tmp_path)
    templates = {p.stem for p in TEMPLATES.glob("*.txt")} - {"base"}
    sampled = {p.stem.rsplit("_", 1)[0] if p.stem[-1].isdigit() else p.stem for p in written}
    assert templates <= sampled, templates - sampled
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "{{" not in text and "Undefined" not in text
        if path.suffix == ".txt":
            assert "Objet : " in text and ("Bonjour" in text or "Madame, Monsieur," in text)


def test_the_committed_samples_are_up_to_date(tmp_path):
    fresh = {p.name: p.read_text(encoding="utf-8") for p in render_samples(tmp_path)}
    committed = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.*")}
    assert committed == fresh, "docs/mails/ is stale: run `make mails` and commit it"
