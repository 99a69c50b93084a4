"""Reading the order center's HTML the way the tests need it: by its data- markers and links,
not by its layout (templates change; these markers are the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.http import HttpResponse


@dataclass(frozen=True)
class Tag:
    name: str
    attrs: dict[str, str]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, {name: value or "" for name, value in attrs}))


def text(response: HttpResponse) -> str:
    return response.content.decode()


def tags(response: HttpResponse) -> list[Tag]:
    parser = _Tags()
    parser.feed(text(response))
    parser.close()
    return parser.tags


def tab_counts(response: HttpResponse) -> dict[str, int]:
    return {tag.attrs["data-tab"]: int(tag.attrs["data-count"]) for tag in tags(response) if "data-tab" in tag.attrs}


def pill_counts(response: HttpResponse) -> dict[str, int]:
    return {
        tag.attrs["data-sub-status"]: int(tag.attrs["data-count"])
        for tag in tags(response)
        if "data-sub-status" in tag.attrs
    }


def tab_links(response: HttpResponse) -> dict[str, str]:
    return {tag.attrs["data-tab"]: tag.attrs.get("href", "") for tag in tags(response) if "data-tab" in tag.attrs}


def current(response: HttpResponse, marker: str) -> list[str]:
    """The values of ``marker`` (data-tab, data-sub-status) on links marked aria-current="page"."""
    return [
        tag.attrs[marker] for tag in tags(response) if marker in tag.attrs and tag.attrs.get("aria-current") == "page"
    ]


def order_numbers(response: HttpResponse) -> list[str]:
    """The numbers of the table's rows, top to bottom."""
    return [tag.attrs["data-order-number"] for tag in tags(response) if "data-order-number" in tag.attrs]


def next_page_url(response: HttpResponse) -> str | None:
    links = [tag.attrs["href"] for tag in tags(response) if tag.name == "a" and tag.attrs.get("rel") == "next"]
    assert len(links) <= 1, links
    return links[0] if links else None


def hrefs(response: HttpResponse) -> list[str]:
    return [tag.attrs["href"] for tag in tags(response) if tag.name == "a" and "href" in tag.attrs]


def is_full_page(response: HttpResponse) -> bool:
    return "<html" in text(response)


CENTER = "/orders/"
HTMX = {"HTTP_HX_REQUEST": "true"}  # what htmx sends: the views answer with a fragment


def center(client: Any, **params: Any) -> HttpResponse:
    """GET the order center with these URL parameters."""
    return client.get(CENTER, params)
