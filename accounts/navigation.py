"""Where to send a user after an action: a ``next`` from the request, followed only if it is safe.

Every view that takes ``next`` uses these two functions (every app may import ``accounts``).
"""

from __future__ import annotations

import unicodedata

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

# Longer than any URL the order center builds; a longer ``next`` is garbage, not a page.
MAX_NEXT_LENGTH = 2048


def safe_next_path(target: str | None) -> str | None:
    """``target`` if it is an absolute path on this site (``/orders/?status=new``), else None.

    Only a path that starts with one slash is followed: a bare word (``foo``,
    ``orders:detail``) is what ``django.shortcuts.redirect`` would try to reverse as a URL
    name (a ``NoReverseMatch``, a 500 after the action has committed), a relative path
    lands wherever the current URL puts it, another host or scheme is an open redirect, and
    a control character (a CR/LF in the ``Location`` header) is refused by the response.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(unicodedata.category(char).startswith("C") for char in target):
        return None
    # No host is allowed: a path has none, so anything this lets through names a host or scheme.
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return None
    return target


def redirect_to_next(target: str | None, *, default: str) -> HttpResponseRedirect:
    """Redirect to ``target`` if it is safe (see ``safe_next_path``), else to ``default`` (a path)."""
    return HttpResponseRedirect(safe_next_path(target) or default)
