"""Browser tests: Playwright (sync API) driving Debian's chromium, axe-core, screenshots, keyboard.

Fixtures (registered for tests/e2e in tests/e2e/conftest.py):
  browser  session   a headless chromium.Browser (Debian's chromium, never a downloaded one);
                     the tests that use it are skipped when chromium cannot be installed
  page     function  a fresh page (own context) in French (locale fr-FR, Europe/Paris),
                     desktop-sized (DESKTOP); closed after the test

Helpers:
  assert_accessible(page, context="...")   axe-core on the current page: fails listing every
                                           "serious"/"critical" violation (rule, impact, targets, help)
  screenshot(page, name, size=PHONE)       full-page PNG in docs/screenshots/<name>.png
  tab_to(page, "Envoyer")                  presses Tab until the focused element has that
                                           accessible name (or matches a re.compile(...));
                                           fails listing where focus went
  focused_name(page)                       the accessible name of the focused element

    def test_form_by_keyboard(stack, page):
        page.goto(f"{stack.base_url}/palmares")
        assert_accessible(page, context="liste des palmarès")
        tab_to(page, re.compile(r"^Palmarès 2301\b"))
        page.keyboard.press("Enter")
        page.wait_for_url("**/palmares/2301")

Eventlet: tests/conftest.py monkey-patches the pytest process (the integration tests
run nameko containers in it). Playwright's sync API runs an asyncio loop in a
greenlet of its own; on eventlet's green os/select/subprocess/threads every pipe read
switches to eventlet's hub, which re-parents that greenlet and the session hangs at
the first file write or at shutdown. So, in a patched process, the loop Playwright
creates uses the real epoll, os and subprocess, a pidfd child watcher (no watcher
thread) and runs its few executor jobs (file reads/writes) inline
(`_playwright_loop_policy`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
INSTALL_CHROMIUM = ROOT / "deploy" / "local" / "install-chromium.sh"

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
FAILING_IMPACTS = ("critical", "serious")
DEFAULT_TIMEOUT_MS = 15_000


# ---------------------------------------------------------------------------- chromium
@functools.cache
def _install_chromium() -> tuple[str | None, str]:
    """(path, "") or (None, reason); deploy/local/install-chromium.sh runs once per session."""
    try:
        result = subprocess.run([str(INSTALL_CHROMIUM)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{INSTALL_CHROMIUM.name} failed: {exc}"
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None, result.stderr.strip() or f"{INSTALL_CHROMIUM.name} exited with {result.returncode}"
    return lines[-1], ""


def chromium_path() -> str:
    """Debian's chromium binary (installed with apt-get when missing and possible);
    skips the calling test with the reason when it cannot be had."""
    path, reason = _install_chromium()
    if path is None:
        pytest.skip(f"headless Chromium cannot be installed here: {reason}")
    return path


def launch_args() -> list[str]:
    args = ["--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # chromium refuses to run as root with its sandbox
    return args


# ---------------------------------------------------------------------------- eventlet
class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each job at once in the caller: eventlet's green threads would never run
    while the loop waits in the real epoll. asyncio accepts only ThreadPoolExecutors."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def _fresh_module(name: str, **imports):
    """A private copy of the stdlib module `name` whose imports of the modules named in
    `imports` get those instead (sys.modules is restored afterwards)."""
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    saved = {key: sys.modules.get(key) for key in imports}
    sys.modules.update(imports)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


def _playwright_loop_policy() -> asyncio.AbstractEventLoopPolicy | None:
    """None when eventlet has not patched this process; else a policy whose loops
    stay off eventlet's hub (see the module's docstring)."""
    if "eventlet" not in sys.modules:
        return None
    from eventlet import patcher

    if not patcher.is_monkey_patched("os"):
        return None
    real_os, real_select, real_time = (patcher.original(name) for name in ("os", "select", "time"))
    real_selectors = _fresh_module("selectors", select=real_select)
    real_subprocess = _fresh_module(
        "subprocess", os=real_os, select=real_select, selectors=real_selectors, time=real_time
    )
    import asyncio.unix_events as unix_events

    # The driver's pipes and process: read, written and spawned without the hub.
    unix_events.os = real_os
    unix_events.subprocess = real_subprocess

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self):
            loop = asyncio.SelectorEventLoop(real_selectors.DefaultSelector())
            loop.set_default_executor(_InlineExecutor())
            self.get_child_watcher().attach_loop(loop)
            return loop

    policy = Policy()
    policy.set_child_watcher(asyncio.PidfdChildWatcher())
    return policy


def start_playwright():
    """sync_playwright().start(), on a loop that works in an eventlet-patched process."""
    from playwright.sync_api import sync_playwright

    policy = _playwright_loop_policy()
    if policy is None:
        return sync_playwright().start()
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    try:
        return sync_playwright().start()  # creates the loop and spawns the driver
    finally:
        asyncio.set_event_loop_policy(previous)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    playwright = start_playwright()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=launch_args())
    except BaseException:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", viewport=DESKTOP)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    refused = []  # what the Content-Security-Policy kept the browser from applying or running
    new_page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield new_page
    context.close()
    assert not refused, f"the pages' Content-Security-Policy refused: {refused}"


# ---------------------------------------------------------------------------- accessibility
def failing_violations(violations: list[dict]) -> list[dict]:
    """The axe violations a test fails on: impact serious or critical."""
    return [v for v in violations if v.get("impact") in FAILING_IMPACTS]


def describe_violations(violations: list[dict], where: str) -> str:
    """One readable block per violation: rule, impact, help, then each target and its summary."""
    lines = [f"{len(violations)} serious/critical accessibility violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v.get('help', '')}  [{v.get('helpUrl', '')}]")
        for node in v.get("nodes", []):
            target = " ".join(" >> ".join(t) if isinstance(t, list) else t for t in node.get("target", []))
            lines.append(f"    {target}: {first_reason(node)}".rstrip(": "))
    return "\n".join(lines)


def first_reason(node: dict) -> str:
    """The first reason of a node's failureSummary ("Fix any of the following:\n  <reason>\n...")."""
    reasons = [line.strip() for line in (node.get("failureSummary") or "").splitlines()]
    reasons = [r for r in reasons if r and not r.startswith("Fix ")]
    return reasons[0] if reasons else ""


def assert_accessible(page, context: str = "") -> None:
    """axe-core (bundled with axe-playwright-python) on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    failing = failing_violations(results.response["violations"])
    if failing:
        where = f"{context} ({page.url})" if context else page.url
        pytest.fail(describe_violations(failing, where), pytrace=False)


# ---------------------------------------------------------------------------- screenshots
def screenshot(page, name: str, size: dict | None = None) -> Path:
    """A full-page PNG of the page in docs/screenshots/<name>.png, at `size` (PHONE, DESKTOP,
    or {"width":, "height":}) when given; the path."""
    if size is not None:
        page.set_viewport_size(size)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------------------- keyboard
_FOCUSED_NAME = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  axe.setup(document);
  try { return axe.commons.text.accessibleText(el).trim(); } finally { axe.teardown(); }
}"""


def focused_name(page) -> str | None:
    """Accessible name (axe-core's computation) of the focused element; None when nothing is."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        from axe_playwright_python.base import AXE_SCRIPT

        page.evaluate(AXE_SCRIPT)
    return page.evaluate(_FOCUSED_NAME)


def name_matches(actual: str, wanted: str | re.Pattern) -> bool:
    return bool(wanted.search(actual)) if isinstance(wanted, re.Pattern) else actual == wanted


def tab_to(page, name: str | re.Pattern, max_tabs: int = 40) -> str:
    """Press Tab (at most `max_tabs` times) until the focused element's accessible name is
    `name` (or matches it, a compiled pattern, with .search); that name."""
    visited = []
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        current = focused_name(page)
        if current is not None and name_matches(current, name):
            return current
        visited.append(current)
    wanted = name.pattern if isinstance(name, re.Pattern) else name
    pytest.fail(
        f"{wanted!r} not reached by keyboard after {max_tabs} Tab presses on {page.url}; "
        f"focus went through: {visited}",
        pytrace=False,
    )
