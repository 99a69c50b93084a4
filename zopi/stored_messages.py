"""Messages stored for later readers, shown in the reader's language.

A worker writes an order's placement problem, a supplier order's failure, a refund's delivery
error or a store's sync error in the language it runs in (English); a request writes it in its
user's. The reader may read another language, so what is shown is worked back: the stored text is
matched against our catalogs' entries, in every language (``%(name)s`` placeholders matching any
text), and the entry is rendered again in the reader's language, its placeholders' values worked
back the same way. Text that matches no entry is someone else's words (a supplier's refusal, a
channel's error body): shown as it is and marked as data (``<bdi translate="no">``). A message made
of two of ours ("The supplier refused … Connect again.") is matched sentence by sentence.

Nothing changes in what is stored: existing rows, support's admin and the logs keep the readable
text; a message whose entry changes later falls back to being shown as it was written."""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString

# A stored message's part: its text and whether it is someone else's words (data).
Segment = tuple[str, bool]

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")
# Where a message made of two of ours is cut: after a sentence's end or a colon.
SENTENCE_END = re.compile(r"(?<=[.:!?;。：！？；])\s*")
MIN_LETTERS = 6  # an entry with fewer letters of its own (besides placeholders) is not matched
MAX_DEPTH = 3
MAX_CUTS = 4  # sentence ends tried per level: a hostile body of many sentences stays cheap
MAX_LENGTH = 2_000  # longer stored texts are shown as they are


@dataclass(frozen=True)
class Entry:
    """One catalog text (an English msgid or a translation) as a pattern back to its msgid."""

    msgid: str
    pattern: re.Pattern[str]
    needle: str  # its longest literal part: a cheap test before the pattern
    weight: int  # letters of its own: the more specific entry wins


@dataclass(frozen=True)
class Index:
    exact: dict[str, str]  # a text without placeholders -> its msgid
    patterns: tuple[Entry, ...]


def _letters(text: str) -> int:
    return sum(character.isalpha() for character in text)


def _entry(msgid: str, text: str) -> Entry | None:
    """``text`` (``msgid`` itself or a translation of it) as a pattern, or None when it is too
    short or too generic to be told apart from anyone's words."""
    pieces, seen, literals, at = [], set(), [], 0
    for placeholder in PLACEHOLDER.finditer(text):
        literals.append(text[at : placeholder.start()])
        pieces.append(re.escape(text[at : placeholder.start()]))
        name = placeholder.group(1)
        if name is None:
            pieces.append("%")
        elif name in seen:
            pieces.append(f"(?P={name})")
        else:
            seen.add(name)
            pieces.append(f"(?P<{name}>.+?)")
        at = placeholder.end()
    literals.append(text[at:])
    pieces.append(re.escape(text[at:]))
    weight = _letters("".join(literals))
    if weight < MIN_LETTERS:
        return None
    try:
        pattern = re.compile("".join(pieces), re.DOTALL)
    except re.error:  # a placeholder name that is no group name (``%(1)s``): not matched
        return None
    return Entry(msgid, pattern, max(literals, key=len), weight)


def _catalog(language: str) -> dict[object, str]:  # plural entries have (msgid, n) keys
    path = Path(settings.LOCALE_PATHS[0]) / translation.to_locale(language) / "LC_MESSAGES" / "django.mo"
    try:
        with path.open("rb") as mo:
            return dict(gettext.GNUTranslations(mo)._catalog)  # type: ignore[attr-defined]
    except OSError:
        return {}


def _storable(msgid: str) -> bool:
    """Entries with a context (``\\x04``), the header and markup are not stored messages."""
    return bool(msgid) and "\x04" not in msgid and "<" not in msgid


@lru_cache(maxsize=1)
def index() -> Index:
    """Every text of our catalogs, English first, then each language's translations."""
    catalogs = [_catalog(code) for code, _name in settings.LANGUAGES if code != "en"]
    pairs = [(msgid, text) for catalog in catalogs for msgid, text in catalog.items() if isinstance(msgid, str)]
    texts = [(msgid, msgid) for msgid in sorted({msgid for msgid, _text in pairs if _storable(msgid)})]
    texts += [(msgid, text) for msgid, text in pairs if _storable(msgid) and text]
    exact: dict[str, str] = {}
    patterns: dict[tuple[str, str], Entry] = {}
    for msgid, text in texts:
        if PLACEHOLDER.search(text) is None:
            exact.setdefault(text, msgid)
        elif (text, msgid) not in patterns and (entry := _entry(msgid, text)) is not None:
            patterns[(text, msgid)] = entry
    return Index(exact, tuple(sorted(patterns.values(), key=lambda entry: -entry.weight)))


def _render(text: str, depth: int) -> list[Segment] | None:
    """``text`` in the active language, or None when it is not one of ours."""
    found = index()
    if (msgid := found.exact.get(text)) is not None:
        return [(translation.gettext(msgid), False)]
    for entry in found.patterns:
        if entry.needle not in text or (match := entry.pattern.fullmatch(text)) is None:
            continue
        values = {name: _value(value, depth) for name, value in match.groupdict().items()}
        return _filled(translation.gettext(entry.msgid), values)
    if depth < MAX_DEPTH:
        for cut in islice(SENTENCE_END.finditer(text), MAX_CUTS):
            head, tail = text[: cut.start()].strip(), text[cut.end() :].strip()
            if not head or not tail:
                continue
            if (first := _render(head, depth + 1)) is not None and (rest := _render(tail, depth + 1)) is not None:
                return [*first, (" ", False), *rest]
    return None


def _value(value: str, depth: int) -> list[Segment]:
    if depth >= MAX_DEPTH:
        return [(value, True)]
    return _render(value.strip(), depth + 1) or [(value, True)]


def _filled(template: str, values: dict[str, list[Segment]]) -> list[Segment]:
    segments: list[Segment] = []
    at = 0
    for placeholder in PLACEHOLDER.finditer(template):
        segments.append((template[at : placeholder.start()], False))
        name = placeholder.group(1)
        segments += values.get(name, [(placeholder.group(0), False)]) if name else [("%", False)]
        at = placeholder.end()
    segments.append((template[at:], False))
    return [segment for segment in segments if segment[0]]


@lru_cache(maxsize=8192)
def _segments(text: str, language: str) -> tuple[Segment, ...]:
    with translation.override(language):
        return tuple(_render(text, 0) or [(text, True)])


def segments(text: object) -> tuple[Segment, ...]:
    """A stored message's parts in the active language."""
    text = "" if text is None else str(text)
    if not text.strip():
        return ()
    if len(text) > MAX_LENGTH:
        return ((text, True),)
    return _segments(text, translation.get_language() or settings.LANGUAGE_CODE)


def shown_text(text: object, limit: int | None = None) -> str:
    """A stored message in the active language as plain text (a title, a plain-text e-mail)."""
    plain = "".join(part for part, _data in segments(text))
    return plain if limit is None or len(plain) <= limit else plain[: max(limit - 1, 0)].rstrip() + "…"


def shown(text: object, limit: int | None = None) -> SafeString:
    """A stored message in the active language as HTML: someone else's words as data, cut after
    ``limit`` characters when given."""
    html: list[SafeString] = []
    room = limit
    for part, is_data in segments(text):
        cut = room is not None and len(part) > room
        if room is not None:
            part, room = (part[: max(room - 1, 0)].rstrip() + "…" if cut else part), room - len(part)
        html.append(format_html('<bdi translate="no">{}</bdi>', part) if is_data else conditional_escape(part))
        if cut:
            break
    return format_html_join("", "{}", ((part,) for part in html))
