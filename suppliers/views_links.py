"""The product links pages: list, create (also prefilled from an order line), edit, delete,
link many SKUs at once, import a CSV catalogue. Views validate and call a service.

Staff may list, create, edit, bulk-link and import links (linking a product is order work);
deleting a link is for owners.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import account_required, owner_required
from accounts.navigation import safe_next_path
from suppliers import selectors_links as selectors
from suppliers.forms_links import BulkLinkForm, LinkFilterForm, LinkImportForm, ProductLinkForm, parse_id
from suppliers.models import ProductLink
from suppliers.services.link_edit import (
    MAX_BULK_SKUS,
    LinkInvalid,
    LinkKeyTaken,
    LinkNotFound,
    link_data_of,
    product_link_create,
    product_link_delete,
    product_link_get,
    product_link_update,
    product_links_create_for_skus,
)
from suppliers.services.link_import import (
    COLUMNS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    ImportRefused,
    product_links_import,
)
from suppliers.services.links import links_for_lines

LIST_TEMPLATE = "suppliers/links.html"
# The multipart envelope around the file (boundaries, headers, the CSRF token field).
MULTIPART_OVERHEAD = 64 * 1024
FORM_TEMPLATE = "suppliers/links_form.html"
EXAMPLE_CSV = (
    "store,channel_variant_id,channel_product_id,sku,title,supplier,supplier_product_id,supplier_sku,"
    "unit_cost,cost_currency,shipping_method,backup_supplier,backup_product_id,backup_sku\n"
    ",,,EB-1,Wireless Earbuds,aliexpress,1005006454451334,14:193#Black;5:100014064,4.20,USD,CAINIAO_STANDARD,"
    "cj,1424608189734850560,\n"
    "My Shopify,39072856,632910392,,IPod Nano - 8gb,cj,92511400-C758-4A94-8A05-8F2E5A5B2B1D,,"
    "12.00,USD,CJPacket Ordinary,,,\n"
)


def _page_size() -> int:
    return int(getattr(settings, "PRODUCT_LINKS_PAGE_SIZE", 50))


def _link_or_404(request: HttpRequest, link_id: int) -> ProductLink:
    try:
        return product_link_get(account=request.account, link_id=link_id)  # type: ignore[attr-defined]
    except LinkNotFound:
        raise Http404(_("No such product link in this account.")) from None


def _next(request: HttpRequest) -> str:
    return safe_next_path(request.POST.get("next") or request.GET.get("next")) or reverse("suppliers:links")


def _key_taken(form: ProductLinkForm, error: LinkKeyTaken) -> None:
    existing = error.existing
    if existing is None:
        form.add_error(None, _("This product is already linked. Search for it in the list and edit that link."))
    else:
        form.add_error(
            None,
            _("This product is already linked (to %(supplier)s %(product)s): edit that link instead.")
            % {"supplier": existing.get_provider_display(), "product": existing.supplier_product_id},
        )
    form.existing_link = existing  # type: ignore[attr-defined]


@require_GET
@account_required
def links_list(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    form = LinkFilterForm(request.GET)
    if not form.is_valid():
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return render(request, "orders/bad_request.html", {"errors": errors}, status=400)
    link_filter = form.link_filter()
    stores = list(selectors.stores_of(account=account))
    if link_filter.store_id is not None and link_filter.store_id not in {store.pk for store in stores}:
        raise Http404(_("No such store in this account."))
    links, before = selectors.product_links_page(
        account=account, link_filter=link_filter, before_id=form.cleaned_data["before"], page_size=_page_size()
    )
    params = {
        "q": link_filter.q,
        "provider": link_filter.provider,
        "store": link_filter.store_id or "",
        "unavailable": "1" if link_filter.unavailable else "",
    }
    params = {key: value for key, value in params.items() if value}
    base = reverse("suppliers:links")
    context = {
        "links": links,
        "filter": link_filter,
        "stores": stores,
        "providers": LinkFilterForm.base_fields["provider"].choices,  # type: ignore[attr-defined]
        "filtered": bool(params),
        "unavailable_count": selectors.unavailable_link_count(account=account),
        "next_url": f"{base}?{urlencode({**params, 'before': before})}" if before else None,
        "first_url": (f"{base}?{urlencode(params)}" if params else base) if form.cleaned_data["before"] else None,
        "current_url": request.get_full_path(),
    }
    htmx = request.htmx  # type: ignore[attr-defined]
    template = f"{LIST_TEMPLATE}#link_list" if htmx and not htmx.history_restore_request else LIST_TEMPLATE
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def _render_form(
    request: HttpRequest, form: ProductLinkForm, *, link: ProductLink | None, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"form": form, "link": link, "next_url": _next(request), **extra}
    return render(request, FORM_TEMPLATE, context, status=status)


@require_http_methods(["GET", "POST"])
@account_required
def link_new(request: HttpRequest) -> HttpResponse:
    """A new link; ``?order_line=<id>`` prefills it from a line of one of the account's orders."""
    account = request.account  # type: ignore[attr-defined]
    if request.method == "POST":
        form = ProductLinkForm(request.POST, account=account)
        if form.is_valid():
            try:
                link = product_link_create(account=account, data=form.link_data())
            except LinkKeyTaken as error:
                _key_taken(form, error)
            except LinkInvalid as error:
                form.add_problems(error.problems)
            else:
                messages.success(request, _("%(link)s is linked.") % {"link": _label(link)})
                return HttpResponseRedirect(_next(request))
        return _render_form(request, form, link=None, status=422)

    initial: dict[str, Any] = {}
    line = None
    already = None
    if "order_line" in request.GET:
        line_id = parse_id(request.GET.get("order_line"))
        line = selectors.order_line_for_link(account=account, line_id=line_id) if line_id else None
        if line is None:
            raise Http404(_("No such order line in this account."))
        initial = {
            "store": line.order.store_id,
            "channel_product_id": line.product_id,
            "channel_variant_id": line.variant_id,
            "sku": line.sku,
            "title": line.title,
        }
        already = links_for_lines(account=account, store_id=line.order.store_id, lines=[line]).get(line.pk)
    form = ProductLinkForm(initial=initial, account=account)
    return _render_form(request, form, link=None, order_line=line, already_linked=already)


def _label(link: ProductLink) -> str:
    return link.title or link.sku or link.channel_variant_id or link.channel_product_id


@require_http_methods(["GET", "POST"])
@account_required
def link_edit(request: HttpRequest, link_id: int) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    link = _link_or_404(request, link_id)
    if request.method == "POST":
        form = ProductLinkForm(request.POST, account=account)
        if form.is_valid():
            try:
                link = product_link_update(account=account, link_id=link.pk, data=form.link_data())
            except LinkNotFound:
                raise Http404(_("No such product link in this account.")) from None
            except LinkKeyTaken as error:
                _key_taken(form, error)
            except LinkInvalid as error:
                form.add_problems(error.problems)
            else:
                messages.success(request, _("%(link)s is saved.") % {"link": _label(link)})
                return HttpResponseRedirect(_next(request))
        return _render_form(request, form, link=link, status=422)
    data = link_data_of(link)
    initial = {name: getattr(data, name) for name in data.__dataclass_fields__}
    initial["store"] = initial.pop("store_id")
    return _render_form(request, ProductLinkForm(initial=initial, account=account), link=link)


@require_http_methods(["GET", "POST"])
@owner_required
def link_delete(request: HttpRequest, link_id: int) -> HttpResponse:
    """GET: a confirmation page (works without JavaScript). POST: delete, then back to the list."""
    link = _link_or_404(request, link_id)
    if request.method == "GET":
        return render(request, "suppliers/links_delete.html", {"link": link, "next_url": _next(request)})
    try:
        product_link_delete(account=request.account, link_id=link.pk)  # type: ignore[attr-defined]
    except LinkNotFound:
        raise Http404(_("No such product link in this account.")) from None
    messages.success(request, _("The link of %(link)s is deleted.") % {"link": _label(link)})
    return HttpResponseRedirect(_next(request))


@require_http_methods(["GET", "POST"])
@account_required
def links_bulk(request: HttpRequest) -> HttpResponse:
    """Link many unlinked SKUs of the account's orders to one supplier product."""
    account = request.account  # type: ignore[attr-defined]
    q = (request.GET.get("q") or "").strip()[:100]
    if request.method == "POST":
        # A checked SKU must be on one of the account's orders; one linked meanwhile is reported
        # by the service and left as it is.
        choices = selectors.skus_on_orders(account=account, skus=request.POST.getlist("skus")[: MAX_BULK_SKUS + 1])
        form = BulkLinkForm(request.POST, account=account, sku_choices=sorted(choices))
        if form.is_valid():
            try:
                result = product_links_create_for_skus(
                    account=account, skus=form.cleaned_data["skus"], data=form.link_data()
                )
            except LinkInvalid as error:
                form.add_problems(error.problems)
            else:
                message = ngettext("%(n)s SKU linked.", "%(n)s SKUs linked.", len(result.created)) % {
                    "n": len(result.created)
                }
                if result.already_linked:
                    message += " " + _("Already linked meanwhile, left as they were: %(skus)s.") % {
                        "skus": ", ".join(result.already_linked[:20])
                    }
                messages.success(request, message)
                return HttpResponseRedirect(reverse("suppliers:links_bulk"))
        rows = selectors.unlinked_skus(account=account, q=q)
        return render(request, "suppliers/links_bulk.html", {"form": form, "rows": rows, "q": q}, status=422)
    rows = selectors.unlinked_skus(account=account, q=q)
    form = BulkLinkForm(account=account, sku_choices=[row.sku for row in rows])
    return render(request, "suppliers/links_bulk.html", {"form": form, "rows": rows, "q": q})


def _import_context() -> dict[str, Any]:
    max_rows = number_format(MAX_IMPORT_ROWS, force_grouping=True)
    return {"columns": COLUMNS, "required_columns": REQUIRED_COLUMNS, "max_rows": max_rows}


@require_http_methods(["GET", "POST"])
@account_required
@csrf_exempt  # checked by ``_links_import`` once the size is known (Django's documented pattern)
def links_import(request: HttpRequest) -> HttpResponse:
    """The CSV upload. A body larger than the cap is refused before it is read: the CSRF check
    would otherwise parse the whole multipart body (to find the token) before the view runs."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if request.method == "POST" and declared > MAX_IMPORT_BYTES + MULTIPART_OVERHEAD:
        refused = _("The file is larger than %(mb)s MB: split it into smaller files.") % {
            "mb": MAX_IMPORT_BYTES // 2**20
        }
        context = {**_import_context(), "form": LinkImportForm(), "refused": refused}
        return render(request, "suppliers/links_import.html", context, status=413)
    return _links_import(request)


@csrf_protect
def _links_import(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    context = _import_context()
    if request.method == "GET":
        return render(request, "suppliers/links_import.html", {**context, "form": LinkImportForm()})
    form = LinkImportForm(request.POST, request.FILES)
    status = 422
    if form.is_valid():
        try:
            context["result"] = product_links_import(account=account, data=form.cleaned_data["file"].read())
            status = 200
        except ImportRefused as error:
            form.add_error("file", str(error))
    return render(request, "suppliers/links_import.html", {**context, "form": form}, status=status)


@require_GET
@account_required
def links_example_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(EXAMPLE_CSV, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="product-links-example.csv"'
    return response
