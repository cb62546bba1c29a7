"""A campaign generated with known proportions (the seeds' baromètre): of every
400 initiatives, 104 on access (26 %), 74 on communication (18.5 %), 60 on
culture (15 %), 48 on education (12 %), housing and sport 1 %, environment 2 %.
Larger communes tick more services. Shared by the unit tests, the end-to-end
test and the bench (tests/bench/bench_barometre.py)."""

import json
import random
from pathlib import Path

GRID = json.loads(
    (Path(__file__).resolve().parents[2] / "services/submissions/data/grid.json").read_text(encoding="utf-8")
)
PER_400 = {
    "acces": 104,
    "communication": 74,
    "culture": 60,
    "education": 48,
    "demarches": 24,
    "democratie": 20,
    "gouvernement_ouvert": 16,
    "solidarite": 16,
    "teletravail": 8,
    "accessibilite": 8,
    "cooperation": 4,
    "environnement": 8,
    "logement": 4,
    "sport": 4,
    "sante": 2,
}
EXPECTED_SHARES = {code: round(100 * n / 400, 1) for code, n in PER_400.items()}
REGIONS = ("Bretagne", "Occitanie", "Grand Est", "Normandie", "Île-de-France")
DEPARTMENTS = ("29", "31", "67", "14", "75")
POPULATIONS = (800, 2400, 6000, 15000, 45000, 160000)
SERVICES = [s["code"] for e in GRID["enjeux"] for s in e["services"]]


def applications(count, initiatives_per_app=4, seed=16, consent_every=3, first_number=0):
    """`count` applications as [{collectivite (sign-up data), services, initiatives}];
    count * initiatives_per_app a multiple of 400 gives the exact shares. Every
    `consent_every`-th initiative is published (consent ticked), the others not."""
    rng = random.Random(seed)
    total = count * initiatives_per_app
    # The shares are exact on multiples of 400 initiatives (otherwise only close).
    units = -(-total // 400)
    enjeux = [code for code, n in PER_400.items() for _ in range(n * units)]
    rng.shuffle(enjeux)
    out = []
    for index in range(count):
        population = POPULATIONS[index % len(POPULATIONS)]
        # Larger communes run more services (the seeds' baromètre).
        ticked = rng.sample(SERVICES, min(len(SERVICES), 4 + POPULATIONS.index(population) * 6))
        initiatives = []
        for j in range(initiatives_per_app):
            number = index * initiatives_per_app + j
            publish = number % consent_every == 0
            initiatives.append(
                {
                    "title": f"Médiathèque numérique {number}"
                    if publish
                    else f"Initiative réservée {number}",
                    "enjeu": enjeux[number],
                    "description": (
                        "Des ateliers numériques pour les écoles et les aînés."
                        if publish
                        else "Projet confidentiel nommé zorglub, jamais publié."
                    ),
                    "publish": publish,
                }
            )
        # A valid INSEE code of its region's department; numbers from `first_number` keep tests apart.
        department = DEPARTMENTS[index % len(REGIONS)]
        code = f"{department}{(first_number + index) % 1000:03d}"
        out.append(
            {
                "collectivite": {
                    "insee_code": code,
                    "name": f"Commune {code}",
                    "kind": "commune",
                    "population": population,
                    "region": REGIONS[index % len(REGIONS)],
                    "department": department,
                    "email": f"mairie@{code}.example.fr",
                },
                "services": ticked,
                "initiatives": initiatives,
            }
        )
    return out


def stored(generated, year, village_max_population=3500):
    """The same applications as the submissions service stores them, submitted."""
    docs = []
    for app in generated:
        col = app["collectivite"]
        category = "village" if col["population"] <= village_max_population else "ville"
        docs.append(
            {
                "_id": f"{year}:{col['insee_code']}",
                "campaign_year": year,
                "state": "submitted",
                "collectivite": dict(col, id=col["insee_code"], category=category),
                "services": app["services"],
                "initiatives": app["initiatives"],
            }
        )
    return docs
