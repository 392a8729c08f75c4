"""Request checking for the emulator: the pinned Bot API subset, parameter coercion, and the limits Telegram
documents only in prose (text and caption lengths, HTML entities, inline keyboards, bot commands).

Why so strict: the real API silently ignores unknown parameters and is forgiving in places; a bot that relies
on that breaks the day Telegram changes. Every rejection uses Telegram's error shape and, where known, its
exact description, so the bot's error handling is exercised as it will be in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_TEXT = 200
MAX_BUTTONS = 100
SPEC_FILE = "bot-api-subset.json"

# The keys that make an inline button do something; Telegram wants exactly one of them.
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_INTEGER = re.compile(r"[+-]?\d+")
_BASE_TYPES = frozenset({"Integer", "Float", "String", "Boolean", "InputFile"})
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class ApiError(Exception):
    """A Bot API failure, rendered as Telegram renders it."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class MethodSpec:
    """One method of the pinned subset: its canonical name, fields and return types."""

    name: str
    fields: dict[str, tuple[tuple[str, ...], bool]]
    returns: tuple[str, ...]


@cache
def spec() -> dict[str, Any]:
    """The pinned subset, as shipped in the package."""
    text = resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def methods() -> dict[str, MethodSpec]:
    """Methods keyed by lower-cased name, because Telegram matches method names case-insensitively."""
    table: dict[str, MethodSpec] = {}
    for name, entry in spec()["methods"].items():
        fields = {f["name"]: (tuple(f["types"]), bool(f["required"])) for f in entry.get("fields", [])}
        table[name.lower()] = MethodSpec(name=name, fields=fields, returns=tuple(entry["returns"]))
    return table


def lookup(method: str) -> MethodSpec | None:
    return methods().get(method.lower())


# --- parameter coercion ---------------------------------------------------------------------------------


class _Mismatch(Exception):
    """A value does not fit one alternative type; the caller tries the next or reports."""


def _coerce_one(value: object, type_name: str) -> object:
    if type_name.startswith("Array of "):
        inner = type_name.removeprefix("Array of ")
        if isinstance(value, str):
            value = _json_or_mismatch(value)
        if not isinstance(value, list):
            raise _Mismatch
        return [_coerce_one(item, inner) for item in value]
    if type_name == "Integer":
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        raise _Mismatch
    if type_name == "Float":
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if type_name == "String":
        if isinstance(value, str):
            return value
        # JSON clients may send numbers where strings are expected (callback_query_id); Telegram takes them.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _Mismatch
    if type_name == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise _Mismatch
    if type_name == "InputFile":
        if isinstance(value, UploadedFile):
            return value
        raise _Mismatch
    # Any other name is an object type, sent JSON-serialized in form requests.
    if isinstance(value, str):
        value = _json_or_mismatch(value)
    if not isinstance(value, dict):
        raise _Mismatch
    return value


def _json_or_mismatch(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        raise _Mismatch from None


def _type_error(name: str, types: tuple[str, ...]) -> ApiError:
    if name == "reply_markup":
        return bad_request("can't parse reply keyboard markup JSON object")
    if any(t.startswith("Array of") or (t[0].isupper() and t not in _BASE_TYPES) for t in types):
        return bad_request(f"can't parse {name} JSON object")
    return bad_request(f"invalid {name}: expected {' or '.join(types)}")


def coerce_params(method: MethodSpec, raw: dict[str, object], *, strict: bool) -> dict[str, object]:
    """Check `raw` against the method's fields and convert form strings to their declared types.

    `attach://name` references are resolved to the uploaded part, whose own field is then not an unknown
    parameter. Nulls count as absent, as they do for Telegram.
    """
    raw = {k: v for k, v in raw.items() if v is not None}
    attached: set[str] = set()
    for key, value in list(raw.items()):
        if key in method.fields and isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            upload = raw.get(part)
            if not isinstance(upload, UploadedFile):
                raise bad_request(f"can't find attached file {part!r}")
            raw[key] = upload
            attached.add(part)
    if strict:
        for key in raw:
            if key not in method.fields and key not in attached:
                raise bad_request(f"unknown parameter {key}")
    for name, (_types, required) in method.fields.items():
        if required and (name not in raw or raw[name] == ""):
            if name == "text":
                raise bad_request("message text is empty")
            raise bad_request(f"{name} is required")
    params: dict[str, object] = {}
    for name, value in raw.items():
        if name not in method.fields:
            continue
        types = method.fields[name][0]
        for type_name in types:
            try:
                params[name] = _coerce_one(value, type_name)
                break
            except _Mismatch:
                continue
        else:
            raise _type_error(name, types)
    return params


# --- formatted text -------------------------------------------------------------------------------------

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the plain text and its entities (offsets in UTF-16 code units).

    Supports the tags Telegram documents for formatting (b, i, u, s and their synonyms, code, pre, a,
    tg-spoiler, blockquote), the four named entities and numeric ones; anything else is refused as Telegram
    refuses it, so markup bugs (an unescaped '<' in user input) surface here rather than in production.
    """
    out: list[str] = []
    length = 0  # UTF-16 length of `out`, kept incrementally
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            start = i
            closing = text.startswith("/", i + 1)
            name_match = _TAG_NAME.match(text, i + 2 if closing else i + 1)
            assert name_match is not None  # the pattern matches the empty string
            name = name_match.group(0).lower()
            j = name_match.end()
            attributes: dict[str, str] = {}
            if not closing:
                while (attribute := _ATTRIBUTE.match(text, j)) is not None:
                    value = next(g for g in attribute.groups()[1:] if g is not None)
                    attributes[attribute.group(1).lower()] = _unescape(value)
                    j = attribute.end()
            while j < len(text) and text[j].isspace():
                j += 1
            if j >= len(text) or text[j] != ">":
                kind = "end" if closing else "start"
                raise _parse_error(f"Unclosed {kind} tag at byte offset {_byte_offset(text, start)}")
            if closing:
                if not stack:
                    raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(text, start)}")
                open_name, open_at, open_attributes = stack.pop()
                if name and name != open_name:
                    raise _parse_error(
                        f'Unmatched end tag at byte offset {_byte_offset(text, start)}, expected "</{open_name}>", '
                        f'found "</{name}>"'
                    )
                if length > open_at:
                    entity: dict[str, Any] = {
                        "type": _HTML_ENTITY_TYPES[open_name],
                        "offset": open_at,
                        "length": length - open_at,
                    }
                    if open_name == "a":
                        entity["url"] = open_attributes.get("href", "")
                    entities.append(entity)
            else:
                if name not in _HTML_ENTITY_TYPES:
                    raise _parse_error(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, start)}'
                    )
                stack.append((name, length, attributes))
            i = j + 1
            continue
        if char == "&" and (entity_match := _ENTITY.match(text, i)) is not None:
            body = entity_match.group(1)
            if body.startswith("#x"):
                decoded = chr(int(body[2:], 16))
            elif body.startswith("#"):
                decoded = chr(int(body[1:]))
            else:
                # Telegram leaves unknown named entities as written.
                decoded = _NAMED_ENTITIES.get(body.lower(), entity_match.group(0))
            out.append(decoded)
            length += utf16_len(decoded)
            i = entity_match.end()
            continue
        out.append(char)
        length += utf16_len(char)
        i += 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _unescape(value: str) -> str:
    return _ENTITY.sub(lambda m: _NAMED_ENTITIES.get(m.group(1).lower(), m.group(0)), value)


def check_text(
    text: str | None,
    parse_mode: object,
    entities: object,
    *,
    caption: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """Parse a message text or caption and enforce its length; returns the plain text and its entities."""
    text = text or ""
    if parse_mode is not None and parse_mode != "":
        mode = str(parse_mode).lower()
        if mode == "html":
            plain, parsed = parse_html(text)
        elif mode in ("markdown", "markdownv2"):
            # Markdown is not parsed here: the bot formats with HTML, so the raw text is kept as sent.
            plain, parsed = text, []
        else:
            raise bad_request("unsupported parse_mode")
    else:
        plain, parsed = text, _check_entities(entities)
    if caption:
        if len(plain) > MAX_CAPTION:
            raise bad_request("message caption is too long")
    else:
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > MAX_TEXT:
            raise bad_request("message is too long")
    return plain, parsed


def _check_entities(entities: object) -> list[dict[str, Any]]:
    if entities is None:
        return []
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    for entity in entities:
        if not (
            isinstance(entity, dict)
            and isinstance(entity.get("type"), str)
            and isinstance(entity.get("offset"), int)
            and isinstance(entity.get("length"), int)
        ):
            raise bad_request("can't parse entities JSON object")
    return [dict(e) for e in entities]


# --- reply markup and commands --------------------------------------------------------------------------


def check_reply_markup(markup: object, *, inline_only: bool = False) -> dict[str, Any]:
    """Validate a reply_markup object of any of the four kinds (inline keyboards only, for edits)."""
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
        return markup
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('can\'t parse keyboard button: field "keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                text = (
                    button
                    if isinstance(button, str)
                    else button.get("text")
                    if isinstance(button, dict)
                    else None
                )
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: Text must be non-empty")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _check_inline_keyboard(rows: object) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str) or not text:
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: only one of the optional fields must be used"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
                    raise bad_request("BUTTON_URL_INVALID")


def callback_data_of(markup: dict[str, Any] | None) -> set[str]:
    """Every callback_data on an inline keyboard."""
    if not markup or "inline_keyboard" not in markup:
        return set()
    return {
        button["callback_data"]
        for row in markup["inline_keyboard"]
        for button in row
        if isinstance(button, dict) and "callback_data" in button
    }


def check_commands(commands: object) -> list[dict[str, str]]:
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too many commands")
    checked: list[dict[str, str]] = []
    for entry in commands:
        if not isinstance(entry, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command, description = entry.get("command"), entry.get("description")
        if not isinstance(command, str) or not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if (
            not isinstance(description, str)
            or not 1 <= len(description.strip()) <= 256
            or len(description) > 256
        ):
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": command, "description": description})
    return checked


def check_language_code(language_code: object) -> str:
    """A two-letter ISO 639-1 code, or "" for every language without its own (Telegram refuses others)."""
    if language_code in (None, ""):
        return ""
    if not isinstance(language_code, str) or not re.fullmatch(r"[a-z]{2}", language_code):
        raise bad_request("LANGUAGE_CODE_INVALID")
    return language_code


def scope_key(scope: object, language_code: object) -> str:
    """A stable key for a (scope, language) pair of command lists."""
    language_code = check_language_code(language_code)
    if scope is None:
        scope = {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps([scope, language_code or ""], sort_keys=True)
