"""The pure parts of tests/support/browser.py: which axe violations fail a test, how
they read in the pytest output, how tab_to matches an accessible name."""

import re

from tests.support.browser import describe_violations, failing_violations, first_reason, name_matches


def violation(rule, impact, *targets):
    return {
        "id": rule,
        "impact": impact,
        "help": f"help of {rule}",
        "helpUrl": f"https://dequeuniversity.com/rules/axe/4.12/{rule}",
        "nodes": [
            {
                "target": target,
                "failureSummary": f"Fix any of the following:\n  reason for {target}\n  another reason",
            }
            for target in targets
        ],
    }


def test_only_serious_and_critical_violations_fail():
    violations = [
        violation("region", "moderate", ["div"]),
        violation("color-contrast", "serious", ["p"]),
        violation("heading-order", "minor", ["h3"]),
        violation("label", "critical", ["input"]),
        violation("experimental", None, ["b"]),
    ]
    assert [v["id"] for v in failing_violations(violations)] == ["color-contrast", "label"]


def test_every_violation_and_target_is_listed_with_its_first_reason():
    text = describe_violations(
        [
            violation("color-contrast", "serious", [".muted"], ["#chart-region", "svg > text"]),
            violation("label", "critical", [["iframe", "input#email"]]),
        ],
        "palmarès 2301 (http://x/palmares/2301)",
    )
    assert text.splitlines() == [
        "2 serious/critical accessibility violation(s) on palmarès 2301 (http://x/palmares/2301):",
        "- color-contrast (serious): help of color-contrast  "
        "[https://dequeuniversity.com/rules/axe/4.12/color-contrast]",
        "    .muted: reason for ['.muted']",
        "    #chart-region svg > text: reason for ['#chart-region', 'svg > text']",
        "- label (critical): help of label  [https://dequeuniversity.com/rules/axe/4.12/label]",
        "    iframe >> input#email: reason for [['iframe', 'input#email']]",
    ]


def test_first_reason_without_summary_is_empty():
    assert first_reason({"failureSummary": None}) == ""
    assert first_reason({"failureSummary": "Fix all of the following:\n  Element is hidden"}) == (
        "Element is hidden"
    )


def test_name_matches_exact_text_or_pattern():
    assert name_matches("Envoyer", "Envoyer")
    assert not name_matches("Envoyer la candidature", "Envoyer")
    assert name_matches("Palmarès 2301 — 4 collectivités", re.compile(r"^Palmarès 2301\b"))
    assert not name_matches("Palmarès 23012", re.compile(r"^Palmarès 2301\b"))
