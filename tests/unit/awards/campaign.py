"""A generated campaign of 300 applications whose palmarès is known by hand.

The labelled ones follow the 2019 palmarès (seeds): 167 villes, 53 villages,
13 territoires grouping 287 communes (the article says 234 collectivités, but
its own categories add up to 233: we keep the categories); regions
Île-de-France 52, Auvergne-Rhône-Alpes 25, Hauts-de-France 22, Grand Est 21,
Nouvelle-Aquitaine 20, the 93 others spread over 7 regions; arobases 5@ 30,
4@ 25 (2016 figures), 3@ 70, 2@ 60, 1@ 48.

Raw inputs mix what the statistics must see through: the final level of 35
applications comes from an organiser decision departing from the proposal;
12 come from a decision with no proposal at all; 47 applications are
withdrawn (with proposals that would otherwise count) and 20 are pending.
"""

CATEGORIES = {"ville": 167, "village": 53, "territoire": 13}
REGIONS = {
    "Île-de-France": 52,
    "Auvergne-Rhône-Alpes": 25,
    "Hauts-de-France": 22,
    "Grand Est": 21,
    "Nouvelle-Aquitaine": 20,
    "Occitanie": 19,
    "Provence-Alpes-Côte d'Azur": 18,
    "Bretagne": 17,
    "Pays de la Loire": 16,
    "Normandie": 13,
    "Bourgogne-Franche-Comté": 6,
    "Centre-Val de Loire": 4,
}
AROBASES = {5: 30, 4: 25, 3: 70, 2: 60, 1: 48}
LABELLED = 233
WITHDRAWN = 47
PENDING = 20
TERRITOIRES_COMMUNES = 287
FIRST_TERRITOIRE = LABELLED - CATEGORIES["territoire"]  # 12 territoires of 22 communes, one of 23


def _expand(counts):
    return [key for key, count in counts.items() for _ in range(count)]


def _collectivite(index, category, region):
    insee = f"{10000 + index:05d}"
    members = []
    if category == "territoire":
        members = [f"T{index:03d}-{n:02d}" for n in range(23 if index == FIRST_TERRITOIRE else 22)]
    return {
        "id": f"col-{index:04d}",
        "insee_code": insee,
        "name": f"Commune {index:04d}",
        "kind": "epci" if category == "territoire" else "commune",
        "category": category,
        "department": f"{index % 95 + 1:02d}",
        "region": region,
        "population": 1000 + index,
        "email": None if index % 50 == 7 else f"mairie{index}@example.fr",
        "member_communes": members,
    }


def generate(year=2019):
    """(applications, proposals, decisions, withdrawn ids, previous {insee: arobases})."""
    categories = _expand(CATEGORIES)
    regions = _expand(REGIONS)
    levels = _expand(AROBASES)
    applications, proposals, decisions, withdrawn, previous = [], {}, {}, set(), {}
    # Permutations (7 and 11 are prime to 233) keep each marginal exact while
    # mixing the combinations.
    for i in range(LABELLED):
        category = categories[i]
        region = regions[(i * 7) % LABELLED]
        level = levels[(i * 11) % LABELLED]
        app_id = f"app-{year}-{i:04d}"
        applications.append(
            {"_id": app_id, "campaign_year": year, "collectivite": _collectivite(i, category, region)}
        )
        if i % 20 == 3:  # organiser decision only, no proposal
            decisions[app_id] = {"arobases": level, "mentions": ["telework"]}
        elif i % 6 == 1:  # organiser departs from the proposal
            proposals[app_id] = {"arobases": 5 if level < 5 else 1, "mentions": []}
            decisions[app_id] = {"arobases": level, "mentions": ["opengov"], "reason": "ajusté"}
        else:
            proposals[app_id] = {"arobases": level, "mentions": ["accessibility"] if i % 9 == 0 else []}
        # progression against the previous campaign, by level: every 5@ gained
        # (was 4@), every 4@ kept, the first ten 3@ lost (were 5@), others new.
        if level == 5:
            previous[f"{10000 + i:05d}"] = 4
        elif level == 4:
            previous[f"{10000 + i:05d}"] = 4
        elif level == 3 and sum(1 for v in previous.values() if v == 5) < 10:
            previous[f"{10000 + i:05d}"] = 5
    for j in range(WITHDRAWN):
        i = LABELLED + j
        app_id = f"app-{year}-{i:04d}"
        applications.append(
            {"_id": app_id, "campaign_year": year, "collectivite": _collectivite(i, "ville", "Île-de-France")}
        )
        proposals[app_id] = {"arobases": 5, "mentions": []}
        withdrawn.add(app_id)
        previous[f"{10000 + i:05d}"] = 3  # labelled last time, withdrawn now: not in the palmarès
    for k in range(PENDING):
        i = LABELLED + WITHDRAWN + k
        applications.append(
            {
                "_id": f"app-{year}-{i:04d}",
                "campaign_year": year,
                "collectivite": _collectivite(i, "village", "Bretagne"),
            }
        )
    return applications, proposals, decisions, withdrawn, previous
