"""``manage.py catalogs extract|check|compile`` (zopi/catalogs.py): the translation catalogs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from zopi.catalogs import catalog_languages, catalogs_check, catalogs_compile, catalogs_extract


class Command(BaseCommand):
    help = "Extract the marked strings into the catalogs, check the catalogs are complete, or compile them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("extract", "check", "compile"))
        parser.add_argument("--language", "-l", action="append", help="Only this language (repeatable), e.g. pt_BR")
        parser.add_argument("--show", type=int, default=20, help="check: problems listed per language (default 20)")

    def handle(self, *args: Any, **options: Any) -> None:
        languages = options["language"] or None
        unknown = set(languages or []) - set(catalog_languages())
        if unknown:
            raise CommandError(f"not a catalog language: {', '.join(sorted(unknown))} (known: {catalog_languages()})")
        if options["action"] == "extract":
            catalogs_extract(languages=languages)
            self.stdout.write("catalogs extracted: " + ", ".join(languages or catalog_languages()))
        elif options["action"] == "compile":
            written = catalogs_compile()
            self.stdout.write(f"catalogs compiled: {len(written)} written")
        else:
            self._check(languages, options["show"])

    def _check(self, languages: list[str] | None, show: int) -> None:
        found = catalogs_check(languages=languages)
        failed = False
        for language, problems in found.items():
            self.stdout.write(f"{language}: {len(problems)} problem(s)")
            for problem in problems[:show]:
                self.stdout.write(f"  {problem}")
            failed = failed or bool(problems)
        if failed:
            raise CommandError("catalogs not ready: translate the entries above (make messages merges new strings)")
