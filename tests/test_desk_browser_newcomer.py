"""The desk as a newcomer meets it, in real headless Chromium (issue 11, section 5): a refused sign-in
and a wrong passphrase give the form back with the reason; the audit table keeps each hour on one line;
the Refer card's dropdown stays inside its card; the timeline says who wrote an entry once, in words; and
loading the case page records a view of its image, never a download.

The browser, the live desk and the screenshots come from tests/test_desk_browser.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import col, select

from desk.labels import Labels
from storage import audit_view, cases, crypto, desk_accounts
from storage.clock import ManualClock
from storage.models import AuditEntry
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD
from tests.test_desk_browser import (
    Tab,
    a_png,
    browser,
    chromium_executable,
    desk_url,
    enrolled_without_browser,
    open_tab,
    screens,
    shoot,
)

LABELS = Labels()
# The browser and live-desk fixtures of tests/test_desk_browser.py, which pytest finds here by name.
SHARED_FIXTURES = (browser, chromium_executable, desk_url, open_tab, screens)


@pytest.fixture
def engine_name() -> str:
    # SQLite only, as in tests/test_desk_browser.py: the pages are the same over both engines.
    return "sqlite"


async def lines_of(tab: Tab, selector: str) -> list[int]:
    """How many lines the text of each element matching `selector` takes on screen."""
    return await tab.page.locator(selector).evaluate_all(
        """cells => cells.map(cell => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return tops.size;
        })"""
    )


async def box(locator: Any) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, "not on screen"
    return found


async def audit_actions(vault: Vault) -> list[str]:
    async with vault.db.reading() as session:
        return list((await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq)))).all())


async def test_refusals_give_the_form_back_and_the_case_page_reads_as_words(
    vault: Vault, settings, clock: ManualClock, make_officer, open_tab, screens: Path
) -> None:
    await make_officer(
        "carol", queues=("psd-conduct",), unit="professional-standards", display_name="Carol Reed"
    )
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="My sergeant mocks my accent in every briefing.",
            ongoing=True,
            evidence=(
                cases.Evidence(
                    filename="rota.png", media_type="image/png", content=a_png(), metadata_kept=False
                ),
            ),
        ),
        contact="chat-21",
    )
    secret = await enrolled_without_browser(vault, clock, "carol")
    tab = await open_tab()

    # A wrong password: the sign-in form again, with the reason and the login kept, not a dead end.
    await tab.goto("/login")
    await tab.page.get_by_label("Login", exact=True).fill("carol")
    await tab.page.get_by_label("Password", exact=True).fill("not my password at all")
    await tab.submit("main form", "Sign in")
    await expect(tab.page.locator("p.error")).to_have_text(desk_accounts.REFUSED)
    await expect(tab.page.get_by_role("heading", name="Not done")).to_have_count(0)
    await expect(tab.page.get_by_label("Login", exact=True)).to_have_value("carol")
    await expect(tab.page.get_by_label("Password", exact=True)).to_have_value("")
    await shoot(tab, screens, "login-refused")
    # ... and the officer carries on from that very form.
    await tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    await tab.page.get_by_label("Code from your authenticator app").fill(
        crypto.totp_code(secret, at=clock.now().timestamp())
    )
    await tab.submit("main form", "Sign in")
    assert tab.path() == "/unlock"

    # A wrong passphrase: the unlock form again, with the reason.
    await tab.page.get_by_label("Key passphrase").fill("not my passphrase")
    await tab.submit("main form", "Unlock")
    await expect(tab.page.locator("p.error")).to_have_text("wrong passphrase")
    await expect(tab.page.get_by_role("heading", name="Unlock your key")).to_be_visible()
    await tab.page.get_by_label("Key passphrase").fill(PASSPHRASE)
    await tab.submit("main form", "Unlock")
    assert tab.path() == "/queue"

    # The queue keeps each reference, hour and date on one line.
    for cells in ("table.queue a.reference", "table.queue td.when", "table.queue td.deadline"):
        assert set(await lines_of(tab, cells)) == {1}, cells
    # The queue's sort and status read as words.
    sort_options = await tab.page.get_by_label("Sort").locator("option").all_inner_texts()
    assert "Newest first" in sort_options and not any("-" in o for o in sort_options), sort_options

    # The case page loads its image: a view, not a download.
    before = await audit_actions(vault)
    await tab.goto(f"/cases/{filed.reference}")
    image = tab.page.locator("img.evidence")
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 120
    added = (await audit_actions(vault))[len(before) :]
    assert added == ["case.opened", "case.file-viewed"], added

    # The officer answers; the timeline names each author once, in words.
    await tab.page.locator("form[action$='/notes'] textarea").fill("Spoke to the duty inspector.")
    await tab.submit("form[action$='/notes']", "Add note")
    note = tab.page.locator("li.kind-note")
    await expect(note.locator(".what")).to_have_text("Internal note")
    await expect(note.locator(".by")).to_have_text("by carol")
    await expect(tab.page.locator("dl.meta").first).to_contain_text(LABELS.flag("ongoing"))

    # The Refer card's dropdown (the longest queue name included) stays inside its card.
    refer = tab.page.locator("form[action$='/refer']")
    card, select = await box(refer), await box(refer.locator("select[name=queue]"))
    assert select["x"] >= card["x"] and select["x"] + select["width"] <= card["x"] + card["width"] + 0.5, (
        card,
        select,
    )
    for other in await tab.page.locator("section.actions > .card").all():
        neighbour = await box(other)
        if (
            neighbour["x"] > card["x"] + card["width"] - 1
            and abs(neighbour["y"] - card["y"]) < card["height"]
        ):
            assert select["x"] + select["width"] <= neighbour["x"], "the dropdown spills into the next card"
    await refer.scroll_into_view_if_needed()
    await shoot(tab, screens, "case-actions", full_page=False)

    # Downloading the file is the other action.
    async with tab.page.expect_download() as download:
        await tab.page.get_by_role("link", name="rota.png").click()
    await (await download.value).path()
    assert (await audit_actions(vault))[-1] == "case.file-opened"
    assert tab.problems == [], tab.problems


async def test_the_audit_table_keeps_hours_on_one_line_and_shows_no_python_reprs(
    vault: Vault, settings, clock: ManualClock, alice, make_officer, open_tab, screens: Path
) -> None:
    # The first officer was added to every queue: a long detail cell, which used to squeeze the hours.
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("abuse-of-position",), narrative="An offer after the shift."
        ),
    )
    await audit_view.page(vault)  # the log has entries with lists in their detail
    await make_officer("erin", roles=("auditor",), display_name="Erin Audit")
    secret = await enrolled_without_browser(vault, clock, "erin")
    tab = await open_tab()
    await tab.goto("/login")
    await tab.page.get_by_label("Login", exact=True).fill("erin")
    await tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    await tab.page.get_by_label("Code from your authenticator app").fill(
        crypto.totp_code(secret, at=clock.now().timestamp())
    )
    await tab.submit("main form", "Sign in")
    await tab.goto("/audit")
    # Case-bound entries are withheld in the list; the case is revealed whole on request.
    await tab.page.get_by_label("Case reference").fill(filed.reference)
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("button", name="Reveal this case").click()

    hours = await lines_of(tab, "table.audit tbody td.when")
    assert hours and set(hours) == {1}, f"an hour wraps over {max(hours)} lines"
    references = await lines_of(tab, "table.audit tbody td.reference")
    assert set(references) == {1}, references
    details = " ".join(await tab.page.locator("table.audit tbody td.detail").all_inner_texts())
    assert "['" not in details and "=[" not in details and "{'" not in details, details
    submitted = tab.page.locator("table.audit tbody tr", has_text=filed.reference).filter(
        has_text="Report received"
    )
    await expect(submitted.locator("td.detail")).to_contain_text("queues: ")
    await expect(submitted.locator("td").nth(3)).to_have_text("Report received")
    # The action reads as words and filters by itself.
    async with tab.page.expect_navigation():
        await submitted.get_by_role("link", name="Report received").click()
    assert "action=case.submitted" in tab.path()
    await tab.goto("/audit")
    await tab.page.locator("table.audit").scroll_into_view_if_needed()
    await shoot(tab, screens, "audit-entries", full_page=False)
    assert tab.problems == [], tab.problems
