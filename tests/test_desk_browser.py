"""The desk in real headless Chromium (Playwright driving Debian's chromium), served by uvicorn on a free
port over a real vault, with the real bot polling the Telegram Bot API emulator (issue 5, point 7).

What a standards officer does, done as they would do it: enrol a second factor and sign in with password
and TOTP, unlock their key, triage the queue (deadlines shown, overdue and due-soon highlighted), open and
acknowledge a case, message the reporter (the bot pushes it; the emulated reporter reads and answers; the
answer is in the case after a reload), close it with an outcome the reporter is told; and an auditor's
dashboard and audit log. Pages must work under their own CSP: any console error (a CSP violation
included) fails a test. Sessions end by the vault's clock, and the browser is sent back to sign in.

Screenshots of the main screens are taken on every run. With CANDOUR_UPDATE_SCREENSHOTS=1 they are
written to docs/screenshots/ (linked from docs/desk.md); otherwise to the test's temporary folder, so a
plain run leaves the work tree alone.

Chromium is CANDOUR_CHROMIUM or /usr/bin/chromium. Without it these tests skip, saying why; with
CANDOUR_REQUIRE_CHROMIUM set (as .ci/run does) they fail instead.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlmodel import col, select

from bot.catalogue import Catalogue
from candour.app import desk_config
from candour.settings import Settings
from desk import server
from desk.app import build_app
from desk.labels import Labels
from policies.loader import load_policy, starter_policy_text
from storage import audit_view, cases, casework, crypto, desk_accounts, outbox
from storage.clock import ManualClock
from storage.models import OutboxEntry
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD, until_listening

ROOT = Path(__file__).resolve().parents[1]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1180, "height": 820}
REPORTER_CHAT = 5_100_000_017
QUESTION = "Thank you. Which briefing room was it, and who else was present?"
ANSWER = "Room 2B at Northgate; PC Lee and two others were there."
OUTCOME = "The sergeant has been served a misconduct notice and moved off your team."
EN = Catalogue().for_language("en")
LABELS = Labels()
STARTER = Labels.from_policy(load_policy(starter_policy_text()))


def _ids(names: list[str], table: dict[str, str]) -> list[str]:
    """The ids behind names the page showed; fails on a name that is not one of the policy's."""
    by_name = {name: key for key, name in table.items()}
    unknown = [n for n in names if n not in by_name]
    assert not unknown, f"the page shows names the policy does not give: {unknown}"
    return [by_name[n] for n in names]


# --- chromium, the browser, the live desk ----------------------------------------------------------


def find_chromium() -> str | None:
    """Debian's chromium (or CANDOUR_CHROMIUM): never a browser Playwright downloaded itself."""
    for candidate in (os.environ.get("CANDOUR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    found = find_chromium()
    if found is None:
        reason = "no chromium at /usr/bin/chromium (apt-get install chromium, or set CANDOUR_CHROMIUM)"
        if os.environ.get("CANDOUR_REQUIRE_CHROMIUM"):
            pytest.fail(f"CANDOUR_REQUIRE_CHROMIUM is set but {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture
async def browser(chromium_executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_executable, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def engine_name() -> str:
    # SQLite unless a test asks for more: the browser flow is the same over both engines, and slow enough.
    return "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def desk_url(vault: Vault, settings: Settings) -> AsyncIterator[str]:
    """The desk served by uvicorn on this test's event loop, the way `candour run` serves it."""
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        server.serve(build_app(vault, desk_config(settings)), host="127.0.0.1", port=port, stop=stop)
    )
    await until_listening(port)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await task


@dataclass
class Tab:
    """One officer's browser context and page, recording every console error and uncaught page error."""

    page: Page
    base: str
    problems: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        # A refused action's page (400, 401, 409) is logged as a failed load: answers are checked below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def on_response(self, response: Any) -> None:
        # What a page pulls in (style, images) must load; only documents may carry an error status.
        kind = response.request.resource_type
        if response.status >= 400 and kind != "document" and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{kind} {response.url.removeprefix(self.base)}: {response.status}")

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    def path(self) -> str:
        return self.page.url.removeprefix(self.base)

    async def submit(self, form: str, button: str) -> None:
        """Press a form's button and wait for the page it leads to."""
        async with self.page.expect_navigation():
            await self.page.locator(form).get_by_role("button", name=button).click()

    async def flash(self) -> str:
        return (await self.page.locator("p.flash").inner_text()).strip()


@pytest.fixture
async def open_tab(browser: Browser, desk_url: str) -> AsyncIterator[Callable[[], Awaitable[Tab]]]:
    contexts = []

    async def make() -> Tab:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = Tab(page=await context.new_page(), base=desk_url)
        tab.page.on("console", tab.on_console)
        tab.page.on("pageerror", lambda e: tab.problems.append(str(e)))
        tab.page.on("response", tab.on_response)
        return tab

    yield make
    for context in contexts:
        await context.close()


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    if os.environ.get("CANDOUR_UPDATE_SCREENSHOTS"):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path / "screenshots"


async def shoot(tab: Tab, folder: Path, name: str, *, full_page: bool = True) -> Path:
    """A screenshot, shrunk to a 64-colour palette (small enough to keep in the repository)."""
    raw = await tab.page.screenshot(full_page=full_page, animations="disabled")
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    assert image.width == VIEWPORT["width"] and image.height >= 200, image.size
    assert len(image.getcolors(maxcolors=1_000_000) or ()) > 8, f"{name}: the page rendered blank"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


# --- what the officer and reporter do --------------------------------------------------------------


async def give_password(vault: Vault, login: str) -> str | None:
    """A desk password; returns the one-time enrolment code an operator would hand over."""
    return await desk_accounts.set_password(vault, login=login, password=PASSWORD)


async def sign_in(tab: Tab, login: str, code: str = "") -> None:
    await tab.goto("/login")
    await tab.page.get_by_label("Login", exact=True).fill(login)
    await tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    await tab.page.get_by_label("Code from your authenticator app").fill(code)
    await tab.submit("main form", "Sign in")


async def enrol_in_browser(tab: Tab, clock: ManualClock, enrolment: str) -> bytes:
    """On the enrolment page: read the key as a person types it into an app, and confirm a code."""
    assert tab.path() == "/account/totp"
    qr_width = await tab.page.locator("img.qr").evaluate("img => img.naturalWidth")
    assert qr_width > 100, "the QR code did not render"
    typed = (await tab.page.locator("code.secret").inner_text()).strip()
    secret = base64.b32decode(typed + "=" * (-len(typed) % 8))
    await tab.page.get_by_label("Code", exact=True).fill(crypto.totp_code(secret, at=clock.now().timestamp()))
    await tab.page.get_by_label("Enrolment code from your operator").fill(enrolment)
    await tab.submit("main form", "Confirm")
    return secret


async def enrolled_without_browser(vault: Vault, clock: ManualClock, login: str) -> bytes:
    """A desk password and a second factor, set up as an operator and the officer would have earlier."""
    enrolment = await give_password(vault, login)
    assert enrolment is not None
    signed = await desk_accounts.sign_in(
        vault,
        login=login,
        password=PASSWORD,
        code=None,
        rule=desk_accounts.LockoutRule(5, timedelta(minutes=1)),
    )
    secret = desk_accounts.new_totp_secret()
    await desk_accounts.enrol_totp(
        vault,
        officer_id=signed.officer_id,
        secret=secret,
        code=crypto.totp_code(secret, at=clock.now().timestamp()),
        enrolment_code=enrolment,
    )
    clock.advance(timedelta(seconds=30))
    return secret


def a_png() -> bytes:
    picture = Image.new("RGB", (120, 80), (200, 40, 40))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


async def reporter_messages(vault: Vault, case_id: str) -> list[OutboxEntry]:
    async with vault.db.reading() as session:
        rows = await session.exec(
            select(OutboxEntry)
            .where(OutboxEntry.case_id == case_id, OutboxEntry.kind == outbox.REPORTER_MESSAGE)
            .order_by(col(OutboxEntry.id))
        )
        return list(rows.all())


async def pushed_notice(world: BotWorld, vault: Vault, case_id: str, number: int) -> tuple[int, str]:
    """Wait until the bot has pushed the case's `number`-th message as a notice; (notice id, Read data)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        entries = await reporter_messages(vault, case_id)
        if len(entries) >= number and entries[number - 1].status == "notified":
            break
        if loop.time() > deadline:
            raise TimeoutError(f"message {number} was not pushed: {[e.status for e in entries]}")
        await asyncio.sleep(0.02)
    read = f"x|read|{entries[number - 1].id}"
    [notice] = [m for m in world.emu.bot_messages(REPORTER_CHAT) if read in _buttons(m)]
    assert notice["text"] == EN("push.notice"), "the lock screen must show a discreet notice only"
    return notice["message_id"], read


def _buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


async def reporter_reads(world: BotWorld, vault: Vault, case_id: str, number: int) -> str:
    """The reporter taps Read on the `number`-th pushed message; the text it then shows."""
    notice_id, read = await pushed_notice(world, vault, case_id, number)
    world.emu.press_button(world.emu.users[REPORTER_CHAT], notice_id, read)
    await world.settle()
    [shown] = [m for m in world.emu.bot_messages(REPORTER_CHAT) if m["message_id"] == notice_id]
    return str(shown["text"])


def row_of(tab: Tab, reference: str) -> Any:
    return tab.page.locator("table.queue tbody tr", has=tab.page.get_by_role("link", name=reference))


# --- the officer's day -----------------------------------------------------------------------------


@pytest.mark.parametrize("engine_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_officer_signs_in_triages_messages_the_reporter_and_closes_a_case(
    engine_name: str,
    world: BotWorld,
    vault: Vault,
    settings: Settings,
    clock: ManualClock,
    make_officer,
    open_tab,
    screens: Path,
) -> None:
    await make_officer(
        "carol", queues=("psd-conduct",), unit="professional-standards", display_name="Carol Reed"
    )
    # Three cases: one past its acknowledgement deadline, one due soon, and the reporter's, just in.
    overdue = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("harassment",), narrative="Comments at every shift.")
    )
    clock.advance(timedelta(days=2))
    due_soon = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("misogyny",), narrative="Women kept off the rota.")
    )
    clock.advance(timedelta(days=6))
    world.user(REPORTER_CHAT, first_name="Test")
    mine = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="My sergeant mocks my accent in every briefing.",
            when="ongoing",
            ongoing=True,
            subjects=(cases.Person(name="Sgt Harris", role="sergeant", unit="north-bcu"),),
            evidence=(
                cases.Evidence(
                    filename="rota.png", media_type="image/png", content=a_png(), metadata_kept=False
                ),
            ),
        ),
        contact=str(REPORTER_CHAT),
    )

    # The operator gives carol her desk password and hands her the enrolment code (valid 72 hours).
    enrolment = await give_password(vault, "carol")
    assert enrolment is not None
    tab = await open_tab()
    # First sign-in: the password alone leads to enrolment and nowhere else.
    await tab.goto("/queue")
    assert tab.path() == "/login"
    await shoot(tab, screens, "login")
    await sign_in(tab, "carol")
    assert tab.path() == "/account/totp"
    await tab.goto("/queue")
    assert tab.path() == "/account/totp", "an officer with no second factor reached the queue"
    secret = await enrol_in_browser(tab, clock, enrolment)
    assert tab.path() == "/unlock" and await tab.flash() == "Second factor enrolled."
    cookies = {c["name"]: c for c in await tab.page.context.cookies()}
    session_cookie = cookies["__Host-candour_session"]
    assert session_cookie["httpOnly"] and session_cookie["secure"] and session_cookie["sameSite"] == "Strict"
    await tab.submit("header form", "Sign out")
    assert tab.path() == "/login"

    # Sign in again, now with password and code: a wrong code is refused, the right one lets the officer in.
    clock.advance(timedelta(seconds=30))
    code = crypto.totp_code(secret, at=clock.now().timestamp())
    await sign_in(tab, "carol", code=f"{(int(code) + 500_000) % 1_000_000:06d}")
    await expect(tab.page.locator("p.error")).to_have_text(desk_accounts.REFUSED)
    await sign_in(tab, "carol", code=code)
    assert tab.path() == "/unlock"

    # Unlock: a wrong passphrase is refused; the right one opens the key and shows the queue.
    await tab.page.get_by_label("Key passphrase").fill("not my passphrase")
    await tab.submit("main form", "Unlock")
    await expect(tab.page.locator("p.error")).to_have_text("wrong passphrase")
    await tab.goto("/unlock")
    await tab.page.get_by_label("Key passphrase").fill(PASSPHRASE)
    await tab.submit("main form", "Unlock")
    assert tab.path() == "/queue" and await tab.flash() == "Key unlocked for this session."
    await expect(tab.page.locator("header .who")).to_contain_text("key unlocked")

    # Triage: by default urgent and overdue first, then newest first; each with its deadlines, the late
    # ones highlighted (none of these is urgent: the overdue one leads).
    links = tab.page.locator("table.queue tbody tr td:first-child a")
    assert await links.all_inner_texts() == [overdue.reference, mine.reference, due_soon.reference]
    await expect(tab.page.get_by_label("Sort")).to_have_value("urgent-first")
    await expect(tab.page.get_by_label("Sort").locator("option:checked")).to_have_text(
        "Urgent and overdue first"
    )
    ack_cells = {
        ref: row_of(tab, ref).locator("td.deadline").first
        for ref in (mine.reference, due_soon.reference, overdue.reference)
    }
    await expect(ack_cells[overdue.reference]).to_have_class("deadline overdue")
    await expect(ack_cells[overdue.reference].locator(".tag")).to_have_text("overdue")
    await expect(ack_cells[due_soon.reference]).to_have_class("deadline due-soon")
    await expect(ack_cells[mine.reference]).to_have_class("deadline open")
    await expect(ack_cells[mine.reference]).to_have_text("2026-01-20")
    await expect(row_of(tab, mine.reference).locator("td").nth(5)).to_have_text("2026-04-13")
    await expect(row_of(tab, mine.reference)).to_contain_text("Received")
    await expect(row_of(tab, mine.reference)).to_contain_text(LABELS.flag("ongoing"))
    await shoot(tab, screens, "queue")

    # Open the reporter's case: the decrypted report, and its image inline.
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name=mine.reference).click()
    assert tab.path() == f"/cases/{mine.reference}"
    await expect(tab.page.locator("p.narrative")).to_have_text(
        "My sergeant mocks my accent in every briefing."
    )
    image = tab.page.locator("img.evidence")
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 120

    # Acknowledge.
    await tab.page.get_by_label("New status").select_option("acknowledged")
    await tab.submit("form[action$='/status']", "Change status")
    assert await tab.flash() == "Status is now acknowledged."
    await expect(tab.page.locator("h1 .status")).to_have_text("Acknowledged")

    # Message the reporter; the bot pushes it, the reporter reads it and answers in the chat.
    await tab.page.locator("form[action$='/messages'] textarea").fill(QUESTION)
    await tab.submit("form[action$='/messages']", "Send through the bot")
    assert await tab.flash() == "Message queued: the bot will deliver it to the reporter."
    await expect(tab.page.locator("li.kind-officer-message")).to_contain_text(QUESTION)

    acknowledged = await reporter_reads(world, vault, mine.case_id, 1)
    assert acknowledged == EN("push.message", text=casework.REPORTER_NOTICES["acknowledged"])
    asked = await reporter_reads(world, vault, mine.case_id, 2)
    assert asked == EN("push.message", text=QUESTION)
    reporter = world.emu.users[REPORTER_CHAT]
    await world.tap(reporter, "Reply")
    await world.say(reporter, ANSWER)
    assert world.last(REPORTER_CHAT) == EN("status.reply.sent")

    # The answer is in the case after a reload, from the reporter; the queue flags the new message.
    await tab.page.reload()
    answer = tab.page.locator("li.kind-reporter-message")
    await expect(answer).to_contain_text(ANSWER)
    # Said once, in words: "Message from the reporter", not "reporter message reporter".
    await expect(answer.locator(".what")).to_have_text("Message from the reporter")
    await expect(answer.locator(".by")).to_have_count(0)
    await expect(tab.page.locator("li.kind-officer-message .by")).to_have_text("by carol")
    await shoot(tab, screens, "case")
    await tab.goto("/queue")
    await expect(row_of(tab, mine.reference).locator(".tag.new")).to_have_text("new message")

    # Close: without an outcome nothing changes; with one, the case closes and the reporter is told.
    await tab.goto(f"/cases/{mine.reference}")
    await tab.page.get_by_label("New status").select_option("closed")
    await tab.submit("form[action$='/status']", "Change status")
    await expect(tab.page.locator("p.error")).to_have_text(
        "closing a case needs an outcome the reporter will be told"
    )
    await tab.goto(f"/cases/{mine.reference}")
    await expect(tab.page.locator("h1 .status")).to_have_text("Acknowledged")
    await tab.page.get_by_label("New status").select_option("closed")
    await tab.page.get_by_label("Outcome (needed to close; the reporter is told)").fill(OUTCOME)
    await tab.submit("form[action$='/status']", "Change status")
    assert await tab.flash() == "Status is now closed."
    await expect(tab.page.locator("li.kind-outcome")).to_contain_text(OUTCOME)
    assert await reporter_reads(world, vault, mine.case_id, 3) == EN("push.message", text=OUTCOME)
    await tab.goto("/queue")
    await expect(row_of(tab, mine.reference).locator("td").nth(6)).to_have_text("Closed")
    await expect(row_of(tab, mine.reference).locator("td.deadline").nth(1)).to_have_class("deadline done")

    # Idle past the session's limit (by the vault's clock): the next page asks to sign in again.
    clock.advance(timedelta(seconds=settings.desk_session_idle_seconds + 1))
    await tab.goto("/queue")
    assert tab.path() == "/login"
    assert tab.problems == [], tab.problems


# --- oversight -------------------------------------------------------------------------------------


async def test_auditor_sees_the_dashboard_and_the_verified_audit_log(
    vault: Vault, settings: Settings, clock: ManualClock, make_officer, alice, open_tab, screens: Path
) -> None:
    spread = (
        ("bullying", "north-bcu", 7),
        ("harassment", "south-bcu", 6),
        ("racism", "custody", 5),
        ("misogyny", "north-bcu", 2),
        ("homophobia", "north-bcu", 1),
    )
    references: list[str] = []
    acknowledged = 0
    for category, unit, count in spread:
        for index in range(count):
            filed = await cases.submit(
                vault,
                report=cases.ReportSubmission(
                    categories=(category,),
                    narrative=f"{category} report {index}",
                    subjects=(cases.Person(role="constable", unit=unit),),
                ),
            )
            references.append(filed.reference)
            # Most are acknowledged within hours; every third is left past its deadline.
            if len(references) % 3:
                acknowledged += 1
                clock.advance(timedelta(hours=5))
                await casework.change_status(
                    vault, officer=alice, reference=filed.reference, status="acknowledged"
                )
            clock.advance(timedelta(days=2))
    await casework.open_case(vault, officer=alice, reference=references[0])
    await make_officer("erin", roles=("auditor",), display_name="Erin Audit")
    secret = await enrolled_without_browser(vault, clock, "erin")

    tab = await open_tab()
    await sign_in(tab, "erin", code=crypto.totp_code(secret, at=clock.now().timestamp()))
    assert tab.path() == "/"
    nav = tab.page.locator("header nav")
    await expect(nav.get_by_role("link")).to_have_text(["Dashboard", "Audit log"])

    async with tab.page.expect_navigation():
        await nav.get_by_role("link", name="Dashboard").click()
    figures = tab.page.locator(".figures .card strong")
    await expect(figures).to_have_text([str(len(references)), "70%", "—", "5.0"])
    chart = tab.page.get_by_role("img", name="Reports by category")
    values = await chart.locator("text.value").all_text_contents()
    labels = await chart.locator("text.label").all_text_contents()
    # Every category is listed, cases or none (a cell never appears for one case); those under 5 read "<5".
    # The policy's own names, never its ids.
    shown = {STARTER.category(c): n for c, n in zip(_ids(labels, STARTER.categories), values, strict=True)}
    assert {label: n for label, n in shown.items() if n != "<5"} == {
        STARTER.category("bullying"): "7",
        STARTER.category("harassment"): "6",
        STARTER.category("racism"): "5",
    }
    assert shown[STARTER.category("misogyny")] == shown[STARTER.category("corruption")] == "<5"
    units = tab.page.get_by_role("img", name="Reports by unit of the person reported")
    by_unit = dict(
        zip(
            await units.locator("text.label").all_text_contents(),
            await units.locator("text.value").all_text_contents(),
            strict=True,
        )
    )
    assert (*(by_unit[STARTER.unit(u)] for u in ("north-bcu", "south-bcu", "custody", "hr")),) == (
        "10",
        "6",
        "5",
        "<5",
    )
    assert await tab.page.get_by_role("img", name="Reports by month received").locator("rect").count() >= 2
    # The policy's names are long: no label may run under its bar.
    overlaps = await tab.page.locator("figure.chart svg").evaluate_all(
        """charts => charts.flatMap(svg => {
            const bar = svg.querySelector("rect").getBBox().x;
            return [...svg.querySelectorAll("text.label")]
                .filter(t => t.getBBox().x + t.getBBox().width > bar).map(t => t.textContent);
        })"""
    )
    assert overlaps == [], overlaps
    await shoot(tab, screens, "dashboard")

    async with tab.page.expect_navigation():
        await nav.get_by_role("link", name="Audit log").click()
    verified = await audit_view.verify(
        vault, keys_dir=settings.keys_dir, checkpoint_dir=settings.checkpoint_dir
    )
    assert verified.ok
    chain = tab.page.locator("p.chain-ok")
    await expect(chain).to_contain_text(f"Chain verified: {verified.chain.entries} entries")
    await expect(chain.locator("code")).to_have_text(verified.chain.head_hash or "")
    await shoot(tab, screens, "audit", full_page=False)
    await tab.page.get_by_label("Action").fill("case.status")
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("button", name="Show").click()
    actions = await tab.page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert actions == ["Status changed"] * acknowledged

    # An auditor reads no case: the queue and case pages refuse them.
    await tab.goto("/queue")
    await expect(tab.page.locator("p.error")).to_contain_text("this needs the role")
    assert not any("Content Security Policy" in p for p in tab.problems), tab.problems
