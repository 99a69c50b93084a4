"""The translation catalogs (``locale/<lang>/LC_MESSAGES/django.po``): extracted, checked, compiled.

- ``catalogs_extract``: Django's ``makemessages`` with the project's options (what ``make messages``
  runs): every language of ``settings.LANGUAGES`` but English, the sandbox and the tests left out
  (the sandbox is a developer's tool, never shown to a merchant), no source locations (a moved
  line does not rewrite eight files), no obsolete entries.
- ``catalog_problems``: what makes a catalog not ready: a marked string with no translation (in a
  plural, any form empty), a fuzzy entry, a translation whose placeholders differ from the
  source's (``%(name)s``, ``%s``/``%d``, ``{name}``), whose HTML tags differ, or a catalog whose
  plural count is not the language's.
- ``catalogs_compile``: ``.po`` → ``.mo`` in pure Python (Babel), so ``make run`` on a machine
  without GNU gettext serves the translations; only catalogs newer than their ``.mo``.

``manage.py catalogs_check`` runs the extraction into a copy of ``locale/`` (the committed catalogs
merged with the code's strings, as ``make messages`` would) and reports the problems of each.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test.utils import override_settings

SOURCE_LANGUAGE = "en"
IGNORED = [".venv/*", "sandbox/*", "*/tests/*", "tests/*", ".run/*", "test-artifacts/*", "docs/*"]
# Django's locale directory names (pt-br → pt_BR, zh-hans → zh_Hans).
_NAMED = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdifrxXeEgGc%]")
_POSITIONAL = re.compile(r"%(?!\()[#0 +-]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_BRACES = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
_TAG = re.compile(r"</?([a-zA-Z][\w-]*)")
# How many plural forms each language has (CLDR, as Django's own catalogs say).
PLURALS = {"ar": 6, "de": 2, "es": 3, "fr": 2, "it": 2, "nl": 2, "pt_BR": 2, "zh_Hans": 1}


def locale_dir(code: str) -> str:
    """``pt-br`` → ``pt_BR``, ``zh-hans`` → ``zh_Hans`` (Django's ``to_locale``)."""
    from django.utils.translation import to_locale

    return to_locale(code)


def catalog_languages() -> list[str]:
    return [locale_dir(code) for code, _name in settings.LANGUAGES if code != SOURCE_LANGUAGE]


def catalog_path(root: Path, language: str) -> Path:
    return root / language / "LC_MESSAGES" / "django.po"


def catalogs_extract(*, root: Path | None = None, languages: list[str] | None = None) -> None:
    """``makemessages`` for ``languages`` (all by default) into ``root`` (``locale/`` by default)."""
    root = root or Path(settings.BASE_DIR) / "locale"
    with override_settings(LOCALE_PATHS=[root]):
        call_command(
            "makemessages",
            locale=languages or catalog_languages(),
            ignore_patterns=IGNORED,
            no_location=True,
            no_obsolete=True,
            verbosity=0,
        )


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid[:90]!r}"


def _placeholders(text: str) -> tuple[Counter[str], int, Counter[str]]:
    return (
        Counter(_NAMED.findall(text)),
        len(_POSITIONAL.findall(text.replace("%%", ""))),
        Counter(_BRACES.findall(text)),
    )


def _tags(text: str) -> Counter[str]:
    return Counter(tag.lower() for tag in _TAG.findall(text))


def _format_problem(source: str, translation: str, *, plural_form: bool) -> str:
    """Why ``translation`` cannot stand for ``source`` (empty: it can). A plural form may leave the
    count out (Arabic's "one hour" says no number), never add a placeholder or change a positional."""
    named, positional, braces = _placeholders(source)
    t_named, t_positional, t_braces = _placeholders(translation)
    if t_positional != positional:
        return "positional placeholders (%s, %d) differ"
    if plural_form:
        if set(t_named) - set(named) or set(t_braces) - set(braces):
            return "a placeholder the source does not have"
    elif t_named != named or t_braces != braces:
        return "placeholders differ"
    if _tags(translation) != _tags(source):
        return "HTML tags differ"
    return ""


def _message_problems(language: str, message: Message) -> Iterator[Problem]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    if message.fuzzy:
        yield Problem(language, msgid, "fuzzy")
    raw = message.string if isinstance(message.string, tuple | list) else (message.string,)
    strings = [text or "" for text in raw]
    if not all(strings):
        yield Problem(language, msgid, "not translated")
        return
    if isinstance(message.id, tuple | list):
        singular, plural = message.id[0], message.id[1]
        for index, text in enumerate(strings):
            # The first form stands for the singular in most languages; every form may show the count.
            source = plural if index else singular
            why = _format_problem(source, text, plural_form=True) or (
                "HTML tags differ" if _tags(text) != _tags(plural) else ""
            )
            if why:
                yield Problem(language, msgid, f"form {index}: {why}")
    else:
        why = _format_problem(message.id, strings[0], plural_form=False)
        if why:
            yield Problem(language, msgid, why)


def catalog_problems(path: Path, language: str) -> list[Problem]:
    with path.open("rb") as handle:
        catalog: Catalog = read_po(handle, locale=language)
    problems: list[Problem] = []
    expected = PLURALS.get(language)
    if expected is not None and catalog.num_plurals != expected:
        problems.append(Problem(language, "", f"{catalog.num_plurals} plural forms, the language has {expected}"))
    for message in catalog:
        if message.id:
            problems.extend(_message_problems(language, message))
    return problems


def catalogs_check(*, languages: list[str] | None = None) -> dict[str, list[Problem]]:
    """Each language's problems once the code's strings are merged in (nothing written to ``locale/``)."""
    languages = languages or catalog_languages()
    source = Path(settings.BASE_DIR) / "locale"
    with tempfile.TemporaryDirectory(prefix="zopi-catalogs-") as scratch:
        root = Path(scratch) / "locale"
        if source.exists():
            shutil.copytree(source, root)
        else:
            root.mkdir()
        catalogs_extract(root=root, languages=languages)
        return {language: catalog_problems(catalog_path(root, language), language) for language in languages}


def catalogs_compile(*, root: Path | None = None) -> list[Path]:
    """Write each ``django.mo`` whose ``django.po`` is newer; returns the ones written."""
    root = root or Path(settings.BASE_DIR) / "locale"
    written = []
    for po in sorted(root.glob("*/LC_MESSAGES/django.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        with mo.open("wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        written.append(mo)
    return written
