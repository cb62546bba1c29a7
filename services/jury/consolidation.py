"""What a review is and how reviews become the jury's proposal (pure rules):
the median of the arobases, the mentions of a majority, a disagreement when
two proposals are DISAGREEMENT_GAP or more apart (then one extra review), the
spread of the scores per enjeu ("non applicable" left out)."""

from collections.abc import Collection, Iterable, Mapping, Sequence

from services.common.errors import ValidationFailed
from services.common.types import Doc

DISAGREEMENT_GAP = 2  # two proposals this many @ apart (or more) disagree


def median_arobases(values: Sequence[int]) -> int:
    """Median of the proposed arobases. Rounding rule: with an even number of
    reviews the median falls between the two middle values; we take the LOWER
    one (prudence: the label never gets more @ than half the jurors proposed;
    organisers may raise it at deliberation)."""
    if not values:
        raise ValueError("no proposal to consolidate")
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def majority_mentions(
    mention_lists: Sequence[Iterable[str]], allowed: Collection[str] | None = None
) -> list[str]:
    """Mentions proposed by a strict majority of reviews (more than half; a tie
    is not a majority), in a stable order (most proposed first, then code)."""
    total = len(mention_lists)
    counts: dict[str, int] = {}
    for mentions in mention_lists:
        for code in set(mentions):
            counts[code] = counts.get(code, 0) + 1
    kept = [
        code for code, count in counts.items() if count * 2 > total and (allowed is None or code in allowed)
    ]
    return sorted(kept, key=lambda code: (-counts[code], code))


def has_disagreement(values: Sequence[int]) -> bool:
    return bool(values) and max(values) - min(values) >= DISAGREEMENT_GAP


def score_spread(
    score_maps: Sequence[Mapping[str, int | None]], enjeux: Iterable[str] | None = None
) -> dict[str, dict[str, int]]:
    """Per enjeu: min, max and spread (max - min) of the scores given; a
    "non applicable" score (None) is left out."""
    codes = list(enjeux) if enjeux else sorted({code for scores in score_maps for code in scores})
    spread = {}
    for code in codes:
        values = [score for scores in score_maps if (score := scores.get(code)) is not None]
        if values:
            spread[code] = {"min": min(values), "max": max(values), "spread": max(values) - min(values)}
    return spread


def consolidate(
    reviews: Sequence[Doc], enjeux: Iterable[str] | None = None, mentions: Collection[str] | None = None
) -> Doc:
    """reviews: [{arobases, mentions, scores}] → {proposal, disagreement, spread}."""
    arobases = [review["arobases"] for review in reviews]
    return {
        "proposal": {
            "arobases": median_arobases(arobases),
            "mentions": majority_mentions([review["mentions"] for review in reviews], mentions),
        },
        "disagreement": has_disagreement(arobases),
        "spread": score_spread([review["scores"] for review in reviews], enjeux),
    }


def next_step(
    reviews: Sequence[Doc],
    enjeux: Iterable[str] | None,
    mentions: Collection[str] | None,
    extra_review_opened: bool,
) -> tuple[str, Doc]:
    """What to do when every expected review is in: ("extra_review", result)
    when proposals disagree and no extra review was opened yet (the proposal
    waits for it), else ("propose", result)."""
    result = consolidate(reviews, enjeux, mentions)
    if result["disagreement"] and not extra_review_opened:
        return "extra_review", result
    return "propose", result


def review_ref(task: Doc) -> Doc:
    review = task["review"]
    return {
        "review_id": task["_id"],
        "juror_id": review["juror_id"],
        "arobases": review["arobases"],
        "mentions": review["mentions"],
        "scores": review["scores"],
        "comment": review.get("comment", ""),
    }


def check_review(data: Doc, enjeux: Collection[str], mentions: Collection[str]) -> None:
    """Campaign-dependent checks the schema cannot make; raises ValidationFailed."""
    errors = {}
    unknown = sorted(set(data["scores"]) - set(enjeux))
    missing = sorted(set(enjeux) - set(data["scores"]))
    for code in unknown:
        errors[f"scores.{code}"] = ["Enjeu inconnu pour cette campagne."]
    if missing:
        errors["scores"] = [f"Note manquante pour les enjeux : {', '.join(missing)}."]
    for code in data["mentions"]:
        if code not in mentions:
            errors.setdefault("mentions", []).append(f"Mention inconnue pour cette campagne : {code}.")
    if len(set(data["mentions"])) != len(data["mentions"]):
        errors.setdefault("mentions", []).append("Une mention est proposée deux fois.")
    if errors:
        raise ValidationFailed(errors)
