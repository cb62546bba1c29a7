"""labelctl against the whole system: the CSV import report and the demo campaigns.

Campaign years of this module: 2961-2969. INSEE codes: 48900-48949 (fictitious
Lozère codes) for the import; the demo uses the seed articles' real codes and
one campaign per seed year: 2961 (2016), 2962 (2017), 2964 (2019).
"""

import json
import os
import subprocess
import sys
import time
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_YEAR = 2961
# test_pipes.py signs Agen (47001) up on the same stack: the demo leaves it to that test.
OWNED_ELSEWHERE = ("47001",)


def labelctl(stack, *args, timeout=120, extra_env=None):
    env = dict(os.environ, LABEL_API_URL=stack.base_url, LABEL_TOKEN=stack.admin_token, PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "labelctl.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_csv(path):
    lines = ["COM;LIBELLE;DEP;REG;PTOT;EMAIL"]
    for i in range(40):
        lines.append(f"489{i:02d};Commune d'essai {i};48;76;{150 + 37 * i};mairie-489{i:02d}@cli.example.fr")
    # Four bad rows of different kinds, at known lines of the file (header = line 1).
    lines.insert(5, "48A01;Code faux;48;76;1200;mairie-bad1@cli.example.fr")  # line 6
    lines.insert(12, "48941;Sans courriel;48;76;1200;")  # line 13
    lines.insert(20, "48942;Population folle;48;76;beaucoup;mairie-bad3@cli.example.fr")  # line 21
    lines.insert(33, "48943;Région inconnue;48;99;800;mairie-bad4@cli.example.fr")  # line 34
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_import_reports_bad_rows_by_line_and_imports_the_good_ones(stack, tmp_path):
    csv_path = tmp_path / "communes.csv"
    write_csv(csv_path)

    first = labelctl(stack, "import", "--no-progress", str(csv_path))
    assert first.returncode == 4, first.stdout + first.stderr  # finished, with rejected rows
    out = first.stdout
    assert "importées : 40" in out
    assert "déjà connues (ignorées) : 0" in out
    assert "rejetées : 4" in out
    assert "ligne 6 : COM : code INSEE invalide « 48A01 »" in out
    assert "ligne 13 : EMAIL : adresse manquante" in out
    assert "ligne 21 : PTOT : population invalide « beaucoup »" in out
    assert "ligne 34 : REG : code région inconnu « 99 »" in out

    # They were stored: importing again finds all 40 known (409) and still rejects the 4.
    again = labelctl(stack, "import", "--no-progress", str(csv_path))
    assert "importées : 0" in again.stdout and "déjà connues (ignorées) : 40" in again.stdout, again.stdout


def test_import_stops_on_a_bad_token_with_a_french_error(stack, tmp_path):
    csv_path = tmp_path / "communes.csv"
    csv_path.write_text("COM,LIBELLE\n48944,X\n", encoding="utf-8")
    result = labelctl(stack, "import", str(csv_path))
    assert result.returncode == 2
    assert "colonnes manquantes dans l'en-tête : DEP, REG, PTOT, EMAIL" in result.stderr
    refused = labelctl(
        stack,
        "campaign",
        "create",
        "--year",
        "2969",
        "--close-at",
        "+1d",
        "--ceremony-at",
        "+2d",
        extra_env={"LABEL_TOKEN": "pas-un-jeton"},
    )
    assert refused.returncode == 1
    assert "Erreur 401" in refused.stderr


def test_demo_plays_a_whole_campaign_to_a_released_palmares_and_emails(stack, tmp_path):
    result = labelctl(
        stack,
        "demo",
        "--year",
        str(DEMO_YEAR),
        "--generated",
        "2",
        "--jurors",
        "8",
        "--close-in",
        "90",
        "--ceremony-in",
        "90",
        "--timeout",
        "150",
        "--seed",
        "7",
        *[arg for code in OWNED_ELSEWHERE for arg in ("--exclude", code)],
        "--state-dir",
        str(tmp_path),
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # One campaign per seed year, kept apart: 2016 → 2961, 2017 → 2962, 2019 → 2964.
    years = {2016: DEMO_YEAR, 2017: DEMO_YEAR + 1, 2019: DEMO_YEAR + 3}
    for year in years.values():
        assert f"/palmares/{year}" in result.stdout, result.stdout
    assert "var/mail" in result.stdout
    assert "niveau inventé" in result.stdout and "est inventé par la démo" in result.stdout

    seeds = json.loads((ROOT / "labelctl/data/demo_collectivites.json").read_text("utf-8"))["collectivites"]
    seeds = [c for c in seeds if c["insee_code"] not in OWNED_ELSEWHERE]
    for seed_year, year in years.items():
        palmares = stack.http("GET", f"/api/v1/campaigns/{year}/palmares").json()  # public: released
        labelled = {entry["collectivite"]["insee_code"]: entry for entry in palmares["labelled"]}
        expected = {
            c["insee_code"]: campaign
            for c in seeds
            for campaign in c["campaigns"]
            if campaign["year"] == seed_year
        }
        missing = sorted(set(expected) - set(labelled))
        assert not missing, (year, missing)
        seeded = {code for code in labelled if code in {c["insee_code"] for c in seeds}}
        assert seeded == set(expected), (year, seeded - set(expected))  # no seed year mixed into another
        for code, campaign in expected.items():
            if campaign["arobases_reported"]:  # the level the article reports
                assert labelled[code]["arobases"] == campaign["arobases"], (year, code)
    besancon = stack.http("GET", f"/api/v1/campaigns/{DEMO_YEAR + 1}/palmares").json()
    [entry] = [e for e in besancon["labelled"] if e["collectivite"]["insee_code"] == "25056"]
    assert entry["arobases"] == 5 and entry["previous_arobases"] is not None  # 2016's label, read in 2017
    # The organisers took the jurors' names out of their comments before the release.
    result_2017 = stack.http(
        "GET", f"/api/v1/applications/{entry['application_id']}/result", token=stack.admin_token
    ).json()
    comments = result_2017["feedback"]["comments"]
    assert comments and not any("Évaluation de" in text for text in comments), comments

    # Each seed collectivité's result email ("Label 2962 : Besançon obtient 5 arobases") is captured.
    addresses = {c["email"] for c in seeds}

    def results_captured():
        return {
            parseaddr(str(m.get("To", "")))[1]
            for m in stack.mail.messages()
            if any(str(m.get("Subject", "")).startswith(f"Label {year} :") for year in years.values())
            and "obtient" in str(m.get("Subject"))
        }

    deadline = time.monotonic() + 60
    while addresses - results_captured() and time.monotonic() < deadline:
        time.sleep(1)
    assert not addresses - results_captured()
