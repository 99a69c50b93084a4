"""zopi/catalogs.py finds what makes a catalog not ready: untranslated, fuzzy, broken placeholders
or tags, the wrong plural count; and compiles a catalog Django then serves."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext, ngettext

from zopi.catalogs import catalog_problems, catalogs_compile

HEADER = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "fr" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True)
    path.write_text(header + body, encoding="utf-8")
    return path


def whats(path: Path, language: str = "fr") -> list[str]:
    return [problem.what for problem in catalog_problems(path, language)]


def test_a_complete_catalog_has_no_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '#, python-format\nmsgid "Order %(number)s"\nmsgstr "Commande %(number)s"\n\n'
        '#, python-format\nmsgid "%(n)s order"\nmsgid_plural "%(n)s orders"\n'
        'msgstr[0] "une commande"\nmsgstr[1] "%(n)s commandes"\n\n'
        'msgid "<strong>Paid</strong> {when}"\nmsgstr "<strong>Payée</strong> {when}"\n',
    )
    assert whats(path) == []  # a plural form may leave the count out


def test_untranslated_fuzzy_placeholders_and_tags_are_found(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'msgid "Archive"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Store"\nmsgstr "Boutique"\n\n'
        '#, python-format\nmsgid "Order %(number)s"\nmsgstr "Commande %(numero)s"\n\n'
        '#, python-format\nmsgid "%s of %s"\nmsgstr "%s"\n\n'
        'msgid "<a>Open</a>"\nmsgstr "Ouvrir"\n\n'
        '#, python-format\nmsgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s jour"\nmsgstr[1] ""\n\n'
        '#, python-format\nmsgid "%(n)s hour"\nmsgid_plural "%(n)s hours"\nmsgstr[0] "une heure"\n'
        'msgstr[1] "%(n)s heures %(x)s"\n',
    )
    assert whats(path) == [
        "not translated",
        "fuzzy",
        "placeholders differ",
        "positional placeholders (%s, %d) differ",
        "HTML tags differ",
        "not translated",
        "form 1: a placeholder the source does not have",
    ]


def test_the_plural_count_must_be_the_languages(tmp_path: Path) -> None:
    path = write(tmp_path, 'msgid "Archive"\nmsgstr "Archive"\n', header=HEADER.replace("nplurals=2", "nplurals=3"))
    assert whats(path) == ["3 plural forms, the language has 2"]


def test_a_compiled_catalog_is_served_by_django(tmp_path: Path, settings: object) -> None:
    write(
        tmp_path,
        'msgid "Zopi test string"\nmsgstr "Chaîne de test"\n\n'
        '#, python-format\nmsgid "%(n)s test order"\nmsgid_plural "%(n)s test orders"\n'
        'msgstr[0] "%(n)s commande de test"\nmsgstr[1] "%(n)s commandes de test"\n',
    )
    assert [path.name for path in catalogs_compile(root=tmp_path)] == ["django.mo"]
    assert catalogs_compile(root=tmp_path) == []  # up to date: nothing written again
    settings.LOCALE_PATHS = [tmp_path]  # type: ignore[attr-defined]  # Django drops its loaded catalogs
    with translation.override("fr"):
        assert gettext("Zopi test string") == "Chaîne de test"
        assert ngettext("%(n)s test order", "%(n)s test orders", 2) % {"n": 2} == "2 commandes de test"
