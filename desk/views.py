"""The desk's use of the vault, shared by the web pages and the JSON API: sign-in, the queue page, the
case as the desk shows it, files, and the case actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from fastapi.responses import Response

from desk import export, thumbnails
from desk.deps import DeskState
from desk.labels import Labels
from desk.schemas import CaseOut, FileOut, LinkCodeOut, QueuePageOut, QueueRowOut, TimelineOut
from desk.security import FILE_CSP
from desk.sessions import DeskSession
from policies.engine import prompts_for
from storage import case_desk, cases, casework, desk_accounts, links, policy_store, queue_view
from storage.officers import UnlockedOfficer

# Kinds shown in the timeline (the report, its subjects record and files have their own places).
TIMELINE_KINDS = (
    cases.REPORTER_MESSAGE,
    cases.OFFICER_MESSAGE,
    cases.NOTE,
    cases.CHECKIN_ANSWER,
    cases.STATUS_NOTICE,
    cases.OUTCOME,
    cases.EVIDENCE,
)
REPORT_FIELDS = (
    "narrative",
    "when",
    "where",
    "witnesses",
    "subjects",
    "ongoing",
    "risk_of_harm",
    "reported_before",
)
# Shown inline in the case page; every other type only downloads. SVG is left out: it can carry script.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


async def sign_in(
    state: DeskState, *, login: str, password: str, code: str | None, client: str, device: str | None
) -> tuple[DeskSession, str]:
    """Check the credentials from `client` (its address) and the browser's `device` token, and open a
    session; (the session, the browser's new device token): the caller sets both cookies."""
    signed = await desk_accounts.sign_in(
        state.vault,
        login=login.strip().lower(),
        password=password,
        code=code or None,
        rule=state.lockout,
        client=client,
        device=device,
    )
    return state.sessions.create(signed), signed.device


def queue_rows(state: DeskState, result: queue_view.QueuePage) -> QueuePageOut:
    now = state.vault.clock.now()
    return QueuePageOut(
        cases=[
            QueueRowOut(
                reference=row.reference,
                status=row.status,
                priority=row.priority,
                categories=list(row.categories),
                queues=list(row.queues),
                flags=list(row.flags),
                received_at=row.received_at,
                ack_due_at=row.ack_due_at,
                ack_state=row.ack_state(now, state.due_soon),
                feedback_due_at=row.feedback_due_at,
                feedback_state=row.feedback_state(now, state.due_soon),
                assignee=row.assignee,
                new_message=row.new_message,
                access="open" if row.openable else "pending",
            )
            for row in result.rows
        ],
        next_cursor=result.next_cursor,
    )


def safe_media_type(value: object) -> str:
    """The stored media type if it is well formed, else a neutral one (it came from a reporter's phone)."""
    text = str(value or "").strip().lower()
    return text if _MEDIA_TYPE.match(text) else "application/octet-stream"


def file_href(reference: str, item_id: str, *, api: bool) -> str:
    return f"{'/api' if api else ''}/cases/{reference}/files/{item_id}"


async def case_document(state: DeskState, *, officer: UnlockedOfficer, reference: str, api: bool) -> CaseOut:
    """Decrypt a case (audited by the vault as opened) and shape it for the desk."""
    document, _opened = await _opened_document(state, officer=officer, reference=reference, api=api)
    return document


async def rule_prompts(state: DeskState, document: CaseOut) -> tuple[str, ...]:
    """What the rules that routed this case ask of its officers (engine.prompts_for), from the policy
    version that routed it: policy text, never report content. Called only once the case was opened, so
    only an officer who can open it sees them."""
    async with state.vault.db.reading() as session:
        policy = await policy_store.get_version(session, version=document.policy_version)
    return prompts_for(policy.document, document.matched_rules)


async def case_export(
    state: DeskState, *, officer: UnlockedOfficer, reference: str, form: str
) -> export.CaseExport:
    """Decrypt a case with its evidence for an export, audited as opened and as exported in `form`."""
    document, opened = await _opened_document(state, officer=officer, reference=reference, api=True)
    bodies = {item.id: item.body for item in opened.items if item.kind == cases.EVIDENCE}
    # Recorded before a byte leaves: an export that fails after this is still on the record.
    await case_desk.record_export(state.vault, officer=officer, reference=opened.reference, form=form)
    return export.CaseExport(
        case=document,
        files=tuple(export.ExportFile(listing=f, body=bodies[f.id]) for f in document.files),
        exported_by=officer.login,
        exported_at=state.vault.clock.now(),
    )


def export_response(content: bytes, *, media_type: str, filename: str) -> Response:
    """A decrypted export: always a download, never cached, never rendered as a page."""
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "no-store, private",
            "Pragma": "no-cache",
        },
    )


async def _opened_document(
    state: DeskState, *, officer: UnlockedOfficer, reference: str, api: bool
) -> tuple[CaseOut, casework.OpenedCase]:
    opened = await casework.open_case(state.vault, officer=officer, reference=reference)
    extra = await case_desk.extras(state.vault, officer_id=officer.id, reference=opened.reference)
    report = opened.first(cases.REPORT)
    files = [
        FileOut(
            id=item.id,
            seq=item.seq,
            filename=str(item.meta.get("filename") or "file"),
            media_type=safe_media_type(item.meta.get("media_type")),
            size=int(item.meta.get("size") or len(item.body)),
            sha256=str(item.meta.get("sha256") or ""),
            metadata_kept=bool(item.meta.get("metadata_kept")),
            href=file_href(opened.reference, item.id, api=api),
            caption=str(item.meta.get("caption") or ""),
        )
        for item in opened.items
        if item.kind == cases.EVIDENCE
    ]
    timeline = [
        TimelineOut(
            id=item.id,
            seq=item.seq,
            kind=item.kind,
            author=item.author,
            officer=extra.item_officers.get(item.id),
            at=item.created_at,
            text=_item_text(item),
            detail={
                k: v for k, v in item.meta.items() if k not in {"text"} and isinstance(v, str | int | bool)
            },
        )
        for item in opened.items
        if item.kind in TIMELINE_KINDS
    ]
    document = CaseOut(
        reference=opened.reference,
        status=opened.status,
        priority=opened.priority,
        categories=list(opened.categories),
        flags=list(opened.flags),
        queues=list(opened.queues),
        received_at=opened.received_at,
        ack_due_at=opened.ack_due_at,
        feedback_due_at=opened.feedback_due_at,
        policy_version=opened.policy_version,
        matched_rules=list(opened.matched_rules),
        assignee=extra.assignee,
        report={key: report.meta.get(key) for key in REPORT_FIELDS} if report else {},
        files=files,
        timeline=timeline,
        pending_escalations=list(
            await casework.pending_escalations(state.vault, officer=officer, reference=opened.reference)
        ),
        left_out=_left_out(opened, officer),
    )
    return document, opened


def _left_out(opened: casework.OpenedCase, officer: UnlockedOfficer) -> list[str]:
    """Who the report's named people left out of the key holders, and why: for queue leads only (it came
    sealed in the case's subjects record; the reporter never sees it)."""
    subjects = opened.first(cases.SUBJECTS)
    if subjects is None or casework.QUEUE_LEAD not in officer.roles:
        return []
    return [
        f"{entry.get('login') or entry.get('officer_id')} ({entry.get('reason') or 'named'})"
        for entry in subjects.meta.get("left_out") or []
    ]


def _item_text(item: casework.OpenedItem) -> str | None:
    if item.kind == cases.EVIDENCE:
        return f"File: {item.meta.get('filename') or 'file'}"
    if item.kind == cases.CHECKIN_ANSWER:
        return str(item.meta.get("text") or item.meta.get("answer") or "")
    text = item.meta.get("text")
    return str(text) if text is not None else None


async def file_response(
    state: DeskState, *, officer: UnlockedOfficer, reference: str, item_id: str
) -> Response:
    """One decrypted file (audited as `case.file-opened`), always as an attachment in a sandbox: its
    bytes came from a reporter."""
    item = await case_desk.open_file(state.vault, officer=officer, reference=reference, item_id=item_id)
    name = str(item.meta.get("filename") or "file").replace("\\", "/").rsplit("/", 1)[-1] or "file"
    return _attachment(item.body, safe_media_type(item.meta.get("media_type")), name)


async def preview_response(
    state: DeskState, *, officer: UnlockedOfficer, reference: str, item_id: str
) -> Response:
    """The case page's thumbnail of an image (audited as `case.file-viewed`): a small PNG redrawn from
    its pixels (desk.thumbnails), never the file's own bytes, so a view cannot be a download.

    Why still an attachment in a sandbox: an <img> ignores both, and nothing else should render it.
    """
    item = await case_desk.open_file(
        state.vault, officer=officer, reference=reference, item_id=item_id, preview_types=INLINE_IMAGES
    )
    small = thumbnails.thumbnail(item.body, str(item.meta.get("media_type") or ""))
    return _attachment(small, "image/png", "preview.png")


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    """Bytes as a download under `name`, with the file CSP."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "file"
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
            "Content-Security-Policy": FILE_CSP,
        },
    )


LINK_WARNING = (
    "Link a work account only, never one you would use to report: the link puts that Telegram account "
    "next to your name."
)


async def link_code(state: DeskState, *, session: DeskSession) -> LinkCodeOut:
    """A new one-time Telegram link code for the signed-in officer (any earlier unused one stops working)."""
    code = await links.create_code(state.vault, officer_id=session.officer_id)
    minutes = int(links.CODE_LIFETIME.total_seconds() // 60)
    return LinkCodeOut(
        code=code,
        expires_at=state.vault.clock.now() + links.CODE_LIFETIME,
        instruction=(
            f"Within {minutes} minutes, send /link {code} to the Candour bot from your own work Telegram "
            "account. You will then get notices of deadlines and escalations, with no case content."
        ),
        warning=LINK_WARNING,
    )


@dataclass(frozen=True)
class QueueChoice:
    """A queue a case could be referred to."""

    id: str
    name: str


async def queue_choices(state: DeskState) -> list[QueueChoice]:
    """The active policy's queues (for the refer form)."""
    async with state.vault.db.reading() as session:
        policy = await policy_store.active(session)
    return [QueueChoice(q.id, q.name) for q in policy.document.queues]


async def labels(state: DeskState) -> Labels:
    """The words for the ids on a page, from the active policy's own names (read per page: a new
    policy version can rename a queue)."""
    async with state.vault.db.reading() as session:
        policy = await policy_store.active(session)
    return Labels.from_policy(policy.document)


async def change_status(
    state: DeskState, *, officer: UnlockedOfficer, reference: str, status: str, outcome: str | None
) -> str:
    return await casework.change_status(
        state.vault, officer=officer, reference=reference, status=status, outcome=outcome or None
    )
