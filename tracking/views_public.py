"""The public tracking page, ``GET /t/<token>/`` (no login): the order's parcels and timelines.

Built to be crawled: the per-client limit comes first (429 with Retry-After), a malformed token is
refused before the database, a wrong one renders the same template as a right one (404), and the
answer is cacheable (``Cache-Control: public``, ``Vary: Accept-Language``, an ETag of the page; a
404 is ``no-store``) and not indexed. Rendered without the request's context (no session, user or
CSRF token on it), in the language the browser asks for (``Accept-Language`` only: the answer must
not depend on a cookie). ``session_free``: the account and idle middlewares never read the session
here, and ``SessionFreeCacheMiddleware`` turns the answer ``private, no-store`` should a cookie or
a signed-in visitor get into it anyway.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.translation import trans_real
from django.views.decorators.http import require_safe

from accounts.middleware import session_free
from accounts.signin import client_ip
from tracking.services.public import public_page_admit, public_page_for, token_well_formed

ROBOTS = "noindex, nofollow"


def visitor_language(request: HttpRequest) -> str:
    """The first language of the browser's ``Accept-Language`` this site has, else the default."""
    for code, _quality in trans_real.parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


@session_free
@require_safe
def tracking_public(request: HttpRequest, token: str) -> HttpResponse:
    language = visitor_language(request)
    with translation.override(language):
        wait = public_page_admit(client=client_ip(request))
        if wait:
            response = HttpResponse(
                render_to_string("tracking/public_limited.html", {"language": language, "wait": wait}), status=429
            )
            response["Retry-After"] = str(wait)
            response["Cache-Control"] = "no-store"  # one client's limit, never a shared cache's answer
        else:
            page = public_page_for(token) if token_well_formed(token) else None
            context = {"language": language, "bidi": translation.get_language_bidi(), "page": page}
            body = render_to_string("tracking/public.html", context)
            response = HttpResponse(body, status=200 if page is not None else 404)
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
            response["ETag"] = etag
            if page is not None:
                patch_cache_control(response, public=True, max_age=settings.TRACKING_PAGE_MAX_AGE)
                response = get_conditional_response(request, etag=etag, response=response) or response
            else:  # a wrong token: not kept, so a page made a moment later is found at once
                response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ("Accept-Language",))
    response["Content-Language"] = language
    response["X-Robots-Tag"] = ROBOTS
    return response
