"""The jury's feedback to a collectivité, released with its result: its
scores per enjeu against the average of its category, the mentions jurors
proposed for it, and the jurors' comments an organiser approved (or edited)
during the deliberation. Pure functions over plain dicts.

A comment's moderation is a list of entries {state, text, by, at}; the last
entry made by a given instant is its state then (the release reads it as of
its own instant, so a retry computes the same feedback). Never a juror's id,
name or address leaves here: only the scores and the approved texts.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.common.types import Doc

PENDING, APPROVED, EDITED, HIDDEN = "pending", "approved", "edited", "hidden"
MODERATION_STATES = (APPROVED, EDITED, HIDDEN)  # what an organiser may set
# Bounds of the comments released: a palmarès chunk (500 lines) and an award_decided
# batch carry them, so 500 × 5 × 2,000 characters stays well under 16 MB.
MAX_COMMENT_CHARS = 2000
MAX_COMMENTS = 5


def application_scores(reviews: Sequence[Doc]) -> dict[str, float]:
    """Per enjeu, the mean of the jurors' scores; "non applicable" (None)
    is left out, and an enjeu no juror scored is absent."""
    totals: dict[str, list[int]] = {}
    for review in reviews:
        for code, score in (review.get("scores") or {}).items():
            if score is not None:
                totals.setdefault(code, []).append(score)
    return {code: sum(values) / len(values) for code, values in totals.items()}


def category_averages(applications: Iterable[tuple[str, Sequence[Doc]]]) -> dict[str, dict[str, float]]:
    """[(category, reviews)] → {category: {enjeu: average}}: the mean, over
    the category's applications that have a score for the enjeu, of each
    application's own mean (every application weighs the same, however many
    jurors reviewed it)."""
    sums: dict[str, dict[str, list[float]]] = {}
    for category, reviews in applications:
        for code, score in application_scores(reviews).items():
            sums.setdefault(category, {}).setdefault(code, []).append(score)
    return {
        category: {code: sum(values) / len(values) for code, values in by_enjeu.items()}
        for category, by_enjeu in sums.items()
    }


def moderation_as_of(entries: Sequence[Doc] | None, as_of: Any = None) -> Doc | None:
    """The last moderation entry made by `as_of` (all of them without it), None if none."""
    kept = [e for e in entries or () if as_of is None or e["at"] <= as_of]
    return kept[-1] if kept else None


def comment_state(review: Doc, entry: Doc | None) -> Doc:
    """{state, text}: the text the collectivité would read (None unless approved or edited)."""
    if entry is None:
        return {"state": PENDING, "text": None}
    if entry["state"] == APPROVED:
        return {"state": APPROVED, "text": review.get("comment", "")}
    if entry["state"] == EDITED:
        return {"state": EDITED, "text": entry["text"]}
    return {"state": HIDDEN, "text": None}


def released_comments(
    reviews: Sequence[Doc], moderation: Mapping[str, Sequence[Doc]], as_of: Any = None
) -> list[str]:
    """The comments a collectivité reads: approved or edited, not empty, in
    the reviews' order, bounded."""
    texts = []
    for review in reviews:
        if not (review.get("comment") or "").strip():
            continue
        state = comment_state(review, moderation_as_of(moderation.get(review["review_id"]), as_of))
        text = (state["text"] or "").strip()
        if text:
            texts.append(text[:MAX_COMMENT_CHARS])
    return texts[:MAX_COMMENTS]


def proposed_mentions(reviews: Sequence[Doc], labels: Mapping[str, str]) -> list[Doc]:
    """Every mention at least one juror proposed (most proposed first, then by code)."""
    counts: dict[str, int] = {}
    for review in reviews:
        for code in set(review.get("mentions") or ()):
            counts[code] = counts.get(code, 0) + 1
    ordered = sorted(counts, key=lambda code: (-counts[code], code))
    return [{"code": code, "label": labels.get(code, code)} for code in ordered]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def feedback(
    category: str,
    reviews: Sequence[Doc],
    averages: Mapping[str, Mapping[str, float]],
    enjeux: Sequence[Doc],
    mention_labels: Mapping[str, str],
    moderation: Mapping[str, Sequence[Doc]],
    as_of: Any = None,
) -> Doc:
    """One collectivité's feedback: `enjeux` [{code, label}] in the grid's order
    (when the campaign did not give them: the enjeux scored, by code)."""
    own = application_scores(reviews)
    of_category = averages.get(category, {})
    grid = list(enjeux) or [{"code": code, "label": code} for code in sorted(set(own) | set(of_category))]
    return {
        "category": category,
        "scores": [
            {
                "enjeu": e["code"],
                "label": e["label"],
                "score": _rounded(own.get(e["code"])),
                "category_average": _rounded(of_category.get(e["code"])),
            }
            for e in grid
        ],
        "proposed_mentions": proposed_mentions(reviews, mention_labels),
        "comments": released_comments(reviews, moderation, as_of),
    }


def comments_for_moderation(reviews: Sequence[Doc], moderation: Mapping[str, Sequence[Doc]]) -> list[Doc]:
    """What the organisers moderate: each non-empty comment, numbered by
    review (never the juror), its current state and the text released."""
    rows = []
    for number, review in enumerate(reviews, start=1):
        comment = (review.get("comment") or "").strip()
        if not comment:
            continue
        entry = moderation_as_of(moderation.get(review["review_id"]))
        state = comment_state(review, entry)
        rows.append(
            {
                "review_id": review["review_id"],
                "number": number,
                "comment": comment,
                "state": state["state"],
                "text": state["text"],
                "moderated_by": entry["by"] if entry else None,
            }
        )
    return rows
