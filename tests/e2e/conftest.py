"""End-to-end fixtures: `stack`, every service as a real process (tests/support/stack.py);
`browser` and `page`, headless chromium driven by Playwright (tests/support/browser.py).

The stack starts once per test session; tests isolate themselves with distinct
campaign years / INSEE codes / e-mail addresses rather than a fresh stack.
"""

import pytest

from tests.support.browser import browser, page  # noqa: F401  (fixtures)
from tests.support.stack import Stack


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(amqp_base_uri, rabbit_api_uri, mongodb_uri):
    from urllib.parse import urlsplit

    api = urlsplit(rabbit_api_uri)
    s = Stack(amqp_base_uri, mongodb_uri, rabbit_api=f"{api.scheme}://{api.hostname}:{api.port or 15672}")
    s.start_all()
    yield s
    s.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        s = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if s is not None:
            report.sections.append(("service logs (tails)", s.log_tails(40)))
