"""The desk as a newcomer meets it, over HTTP against the real desk app (issue 11, section 5): a refused
sign-in or unlock gives the form back with the reason, pages and the audit view show words instead of
ids and Python reprs, and a thumbnail on the case page is audited as a view, not as a download."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from PIL import Image, PngImagePlugin
from sqlmodel import col, select

from candour.app import desk_config
from candour.cli.cases import files_as_sent
from desk.app import build_app
from desk.labels import Labels, words
from storage import audit_view, cases, desk_accounts, policy_store
from storage.clock import ManualClock
from storage.models import AuditEntry
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD, DeskClient, client_for, enrol, give_password


def picture(size: tuple[int, int] = (1200, 600)) -> bytes:
    """A real PNG carrying text chunks, as a reporter's file might (the thumbnail must drop them)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Reporter Name")
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG", pnginfo=info, dpi=(300, 300))
    return out.getvalue()


ROTA = picture()
# A Python repr of a list or a dict, as `queues=['psd-conduct']` showed one.
REPR = re.compile(r"\[\s*'|'\s*\]|\{\s*'|=\[")
CSRF_IN_FORM = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
def desk_app(vault: Vault, settings) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def clients() -> AsyncIterator[list[DeskClient]]:
    made: list[DeskClient] = []
    yield made
    for client in made:
        await client.http.aclose()


class _Visible(HTMLParser):
    """The text a reader sees: element text only, never attribute values or what sits in <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "style", "script"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style", "script"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


async def officer_client(
    desk_app: FastAPI, vault: Vault, clock: ManualClock, clients: list[DeskClient], login: str
) -> DeskClient:
    """A client of `login` with a desk password and a second factor, signed in and unlocked (the API)."""
    await give_password(vault, login)
    client = client_for(desk_app)
    clients.append(client)
    assert (await client.sign_in(login)).status_code == 200
    await enrol(vault, client, clock)
    assert (await client.unlock(PASSPHRASE)).status_code == 200
    return client


async def audit_actions(vault: Vault) -> list[tuple[str, dict]]:
    async with vault.db.reading() as session:
        rows = await session.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))
        return [(row.action, dict(row.detail)) for row in rows.all()]


# --- a refused sign-in or unlock gives the form back ----------------------------------------------


async def test_a_refused_sign_in_shows_the_form_again_with_the_reason(
    vault: Vault, desk_app: FastAPI, clients: list[DeskClient], make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    await give_password(vault, "carol")
    browser = client_for(desk_app)
    clients.append(browser)
    form = await browser.get("/login")
    token = CSRF_IN_FORM.search(form.text)
    assert token is not None

    refused = await browser.http.post(
        "/login", data={"csrf_token": token[1], "login": "carol", "password": "not the password"}
    )
    assert refused.status_code == 401
    page = visible(refused.text)
    assert desk_accounts.REFUSED in page
    assert "Not done" not in page and "Nothing was changed" not in page
    assert '<form method="post" action="/login"' in refused.text, "a dead end instead of the form"
    assert 'value="carol"' in refused.text, "the login typed is kept"
    assert "not the password" not in refused.text, "the password typed is never sent back"

    # The form it gave back works: the same token, the right password.
    again = CSRF_IN_FORM.search(refused.text)
    assert again is not None
    signed = await browser.http.post(
        "/login", data={"csrf_token": again[1], "login": "carol", "password": PASSWORD}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/account/totp"


async def test_a_wrong_passphrase_shows_the_unlock_form_again_until_the_session_ends(
    vault: Vault, desk_app: FastAPI, clock: ManualClock, clients: list[DeskClient], make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    await give_password(vault, "carol")
    client = client_for(desk_app)
    clients.append(client)
    assert (await client.sign_in("carol")).status_code == 200
    await enrol(vault, client, clock)

    for _ in range(4):
        wrong = await client.form("/unlock", {"passphrase": "not my passphrase"})
        assert wrong.status_code == 401
        assert '<form method="post" action="/unlock"' in wrong.text
        assert "wrong passphrase" in visible(wrong.text) and "Not done" not in visible(wrong.text)
    # The fifth ends the session (docs/desk.md): the officer is given the sign-in form, with why.
    ended = await client.form("/unlock", {"passphrase": "not my passphrase"})
    assert ended.status_code == 401
    assert '<form method="post" action="/login"' in ended.text
    assert "wrong passphrase too often: signed out" in visible(ended.text)
    assert (await client.get("/queue")).headers["location"] == "/login"


async def test_a_wrong_enrolment_code_shows_the_enrolment_form_again(
    vault: Vault, desk_app: FastAPI, clients: list[DeskClient], make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    await give_password(vault, "carol")
    client = client_for(desk_app)
    clients.append(client)
    assert (await client.sign_in("carol")).status_code == 200
    assert (await client.get("/account/totp")).status_code == 200
    refused = await client.form("/account/totp", {"code": "000000", "enrolment_code": "WRONG"})
    assert refused.status_code == 400
    assert '<form method="post" action="/account/totp"' in refused.text
    assert "Not done" not in visible(refused.text)


# --- words, not ids ---------------------------------------------------------------------------------


async def policy_words(vault: Vault) -> str:
    """Every display name the active policy gives (a name may well hold a hyphenated word)."""
    async with vault.db.reading() as session:
        labels = Labels.from_policy((await policy_store.active(session)).document)
    return " ".join([*labels.queues.values(), *labels.categories.values(), *labels.units.values()])


def assert_no_ids(page: str, ids: list[str], where: str, named: str = "") -> None:
    """No hyphenated id of `ids` (unless the policy's own names use that word) and no Python repr in
    what the reader sees."""
    text = visible(page)
    assert not REPR.search(text), f"{where}: a Python repr on the page: {REPR.search(text)}"
    for slug in ids:
        if "-" in slug and slug not in named:
            assert not re.search(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", text), f"{where} shows {slug!r}"


async def test_queue_case_and_audit_pages_show_words_not_ids(
    vault: Vault, desk_app: FastAPI, clock: ManualClock, clients: list[DeskClient], make_officer
) -> None:
    await make_officer(
        "carol", queues=("psd-conduct", "psd-counter-corruption"), unit="professional-standards"
    )
    await make_officer("erin", roles=("auditor",))
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("abuse-of-position", "sexual-harassment"),
            narrative="He offered to change the rota if I met him after the shift.",
            risk_of_harm=True,
            reported_before=True,
            ongoing=True,
            subjects=(cases.Person(role="sergeant", unit="north-bcu"),),
        ),
        contact="chat-11",
    )
    carol = await officer_client(desk_app, vault, clock, clients, "carol")
    case = (await carol.get(f"/api/cases/{filed.reference}")).json()
    shown_ids = [*case["flags"], *case["matched_rules"], *case["queues"], *case["categories"], "north-bcu"]
    assert any("-" in f for f in case["flags"]) and any("-" in r for r in case["matched_rules"])
    # The reporter is answered and a note is written, so the timeline has both authors.
    assert (
        await carol.post(f"/api/cases/{filed.reference}/notes", {"text": "Spoke to the duty inspector."})
    ).status_code == 200

    named = await policy_words(vault)
    page = await carol.get(f"/cases/{filed.reference}")
    assert page.status_code == 200
    assert_no_ids(page.text, [*shown_ids, "officer-message", "reporter-message"], "the case page", named)
    labels = Labels()
    text = visible(page.text)
    for flag in case["flags"]:
        assert labels.flag(flag) in text
    assert "Internal note by carol" in text

    queue = await carol.get("/queue")
    assert_no_ids(
        queue.text,
        [*shown_ids, "received-desc", "received-asc", "ack-due", "feedback-due", "urgent-first"],
        "the queue",
        named,
    )
    assert "Newest first" in visible(queue.text)

    erin = await officer_client_auditor(desk_app, vault, clock, clients)
    audit = await erin.get("/audit")
    assert audit.status_code == 200
    assert_no_ids(audit.text, shown_ids, "the audit view", named)
    assert "Report received" in visible(audit.text)
    # Case-bound details show once the case is revealed (storage.audit_view).
    audit = await erin.form("/audit/case", {"reference": filed.reference})
    assert audit.status_code == 200
    assert_no_ids(audit.text, shown_ids, "the audit view", named)
    text = visible(audit.text)
    assert "Report received" in text and "Internal note added" in text
    assert "queues: " in text and "rules: " in text


async def officer_client_auditor(
    desk_app: FastAPI, vault: Vault, clock: ManualClock, clients: list[DeskClient]
) -> DeskClient:
    """Erin, an auditor: signed in with a second factor (an auditor has no key to unlock)."""
    await give_password(vault, "erin")
    client = client_for(desk_app)
    clients.append(client)
    assert (await client.sign_in("erin")).status_code == 200
    await enrol(vault, client, clock)
    return client


def test_an_id_nobody_named_still_reads_as_words() -> None:
    labels = Labels(queues={"psd-conduct": "Conduct (PSD)"})
    assert labels.queue("psd-conduct") == "Conduct (PSD)"
    assert labels.queue("north-bcu-local") == "North BCU local"
    assert labels.flag("iopc-referral-assessment") == "assess for IOPC referral"
    assert labels.flag("some-new-flag") == "some new flag"
    assert labels.sort("a-sort-from-tomorrow") == "A sort from tomorrow"
    assert words("superintendent-or-above", capitalise=False) == "superintendent or above"
    detail = dict(
        labels.detail("case.submitted", {"queues": ["psd-conduct"], "rules": ["catch-all"], "n": None})
    )
    assert detail == {"queues": "Conduct (PSD)", "rules": "Catch all", "n": "—"}


# --- a thumbnail is a view, a download is a download ------------------------------------------------


async def test_the_case_page_thumbnail_is_audited_as_a_view_and_the_link_as_a_download(
    vault: Vault,
    desk_app: FastAPI,
    settings,
    clock: ManualClock,
    clients: list[DeskClient],
    make_officer,
    tmp_path: Path,
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    # A picture as `candour case submit --evidence` reads it: never through the cleaner.
    (tmp_path / "from-cli.png").write_bytes(ROTA)
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="Photos of the rota.",
            evidence=(
                # As the bot's cleaner wrote it (bot/files.prepare says so): the one file drawn in the desk.
                cases.Evidence(
                    filename="rota.png", media_type="image/png", content=ROTA, metadata_kept=False
                ),
                cases.Evidence(
                    filename="notes.html", media_type="text/html", content=b"<b>hi</b>", metadata_kept=False
                ),
                cases.Evidence(
                    filename="photo.png", media_type="image/png", content=ROTA, metadata_kept=True
                ),
                *files_as_sent((tmp_path / "from-cli.png",)),
            ),
        ),
        contact="chat-12",
    )
    carol = await officer_client(desk_app, vault, clock, clients, "carol")
    page = await carol.get(f"/cases/{filed.reference}")
    files = {f["filename"]: f for f in (await carol.get(f"/api/cases/{filed.reference}")).json()["files"]}
    image, html_file = files["rota.png"], files["notes.html"]
    # A picture kept as the reporter sent it, or one never cleaned (the CLI's), is never decoded in the
    # desk (which holds unlocked keys): no thumbnail on the page, and its preview address is refused,
    # unrecorded.
    for kept in (files["photo.png"], files["from-cli.png"]):
        assert kept["metadata_kept"] is True
        kept_preview = f"/cases/{filed.reference}/files/{kept['id']}/preview"
        assert kept_preview not in page.text
        before_kept = len(await audit_actions(vault))
        assert (await carol.get(kept_preview, headers={"Sec-Fetch-Dest": "image"})).status_code == 404
        assert len(await audit_actions(vault)) == before_kept
    thumbnail = f"/cases/{filed.reference}/files/{image['id']}/preview"
    assert f'<img src="{thumbnail}"' in page.text
    assert f'href="/cases/{filed.reference}/files/{image["id"]}" download' in page.text
    before = len(await audit_actions(vault))

    # What the browser does as the page loads: the thumbnail. A view, recorded as one, and never the
    # file itself: a small PNG redrawn from the pixels, without the original's metadata.
    shown = await carol.get(thumbnail, headers={"Sec-Fetch-Dest": "image"})
    assert shown.status_code == 200 and shown.content != ROTA
    assert shown.headers["content-type"] == "image/png"
    assert "sandbox" in shown.headers["content-security-policy"]
    with Image.open(io.BytesIO(shown.content)) as small:
        assert small.format == "PNG" and max(small.size) == 480 and small.size == (480, 240)
        assert not {"dpi", "icc_profile", "exif", "Comment", "Author"} & set(small.info)
    # What the officer does to take the file away: the link. A download, recorded as one.
    taken = await carol.get(f"/cases/{filed.reference}/files/{image['id']}")
    assert taken.status_code == 200 and taken.content == ROTA
    # A file the page never shows inline has no preview, and nothing is recorded for asking.
    refused = await carol.get(f"/cases/{filed.reference}/files/{html_file['id']}/preview")
    assert refused.status_code == 404

    added = (await audit_actions(vault))[before:]
    assert added == [
        ("case.file-viewed", {"item": image["id"]}),
        ("case.file-opened", {"item": image["id"]}),
    ]
    verified = await audit_view.verify(
        vault, keys_dir=settings.keys_dir, checkpoint_dir=settings.checkpoint_dir
    )
    assert verified.chain.first_broken is None, "the new entries keep the chain whole"


@pytest.mark.parametrize("dest", ["document", "iframe", "empty", "object"])
async def test_a_preview_asked_for_other_than_by_an_img_is_refused_and_not_recorded(
    vault: Vault, desk_app: FastAPI, clock: ManualClock, clients: list[DeskClient], make_officer, dest: str
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    filed = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="A photo.",
            evidence=(
                cases.Evidence(
                    filename="rota.png", media_type="image/png", content=ROTA, metadata_kept=False
                ),
            ),
        ),
        contact="chat-13",
    )
    carol = await officer_client(desk_app, vault, clock, clients, "carol")
    (image,) = (await carol.get(f"/api/cases/{filed.reference}")).json()["files"]
    thumbnail = f"/cases/{filed.reference}/files/{image['id']}/preview"
    before = len(await audit_actions(vault))
    # The address typed into the address bar, framed, or fetched by a script: the browser says so.
    refused = await carol.get(thumbnail, headers={"Sec-Fetch-Dest": dest})
    assert refused.status_code == 403 and "only on the case page" in refused.text
    assert ROTA not in refused.content
    assert (await audit_actions(vault))[before:] == []
    # A client that sends no such header (curl, an old browser) gets the thumbnail, never the file.
    plain = await carol.get(thumbnail)
    assert plain.status_code == 200 and plain.content != ROTA and plain.content.startswith(b"\x89PNG")


# --- what the rules ask of the officers ----------------------------------------------------------------


async def test_the_case_page_shows_what_this_kind_of_report_needs_to_those_who_can_open_it(
    vault: Vault, desk_app: FastAPI, clock: ManualClock, clients: list[DeskClient], make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    await make_officer("cora", queues=("psd-counter-corruption",), unit="professional-standards")

    def about(category: str) -> cases.ReportSubmission:
        return cases.ReportSubmission(categories=(category,), narrative="He hits his partner at home.")

    abuse = await cases.submit(vault, report=about("domestic-abuse"), contact="chat-14")
    plain = await cases.submit(vault, report=about("bullying"), contact="chat-15")
    assert "psd-conduct" in abuse.queues and "psd-counter-corruption" not in abuse.queues
    carol = await officer_client(desk_app, vault, clock, clients, "carol")
    page = await carol.get(f"/cases/{abuse.reference}")
    assert page.status_code == 200
    assert "What this kind of report needs" in page.text
    # The starter's domestic-abuse rule: the victim's safety first (Jinja escapes the apostrophe).
    assert "Check the victim&#39;s safety first" in page.text and "MARAC" in page.text
    # A report whose rules ask nothing shows no box.
    assert "What this kind of report needs" not in (await carol.get(f"/cases/{plain.reference}")).text
    # An officer who cannot open the case sees neither the case nor what its rules ask.
    cora = await officer_client(desk_app, vault, clock, clients, "cora")
    refused = await cora.get(f"/cases/{abuse.reference}")
    assert refused.status_code == 404 and "MARAC" not in refused.text
