"""Auto-order rules, one per store (owners only: staff get 403 and nothing changes)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.decorators import owner_required
from suppliers.forms_rules import AutoOrderRuleForm
from suppliers.models import AutoOrderRule

# The store model, from the rule's own foreign key (suppliers imports no channels_sync module).
Store: Any = AutoOrderRule._meta.get_field("store").related_model


def _rules_page(
    request: HttpRequest, *, forms: dict[int, AutoOrderRuleForm] | None = None, status: int = 200
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    stores = list(Store.objects.filter(account=account).order_by("name", "id"))
    rules = {rule.store_id: rule for rule in AutoOrderRule.objects.filter(account=account)}
    rows = []
    for store in stores:
        form = (forms or {}).get(store.pk) or AutoOrderRuleForm(
            instance=rules.get(store.pk) or AutoOrderRule(account=account, store=store), prefix=f"store-{store.pk}"
        )
        rows.append({"store": store, "form": form, "rule": rules.get(store.pk)})
    saved = request.GET.get("saved", "")
    context = {"rows": rows, "saved": int(saved) if saved.isdigit() else None}
    return render(request, "suppliers/rules.html", context, status=status)


@require_http_methods(["GET"])
@owner_required
def rules(request: HttpRequest) -> HttpResponse:
    return _rules_page(request)


@require_http_methods(["POST"])
@owner_required
def rule_save(request: HttpRequest, store_id: int) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    store = Store.objects.filter(account=account, pk=store_id).first()
    if store is None:
        raise Http404(_("No such store."))
    rule = AutoOrderRule.objects.filter(account=account, store=store).first() or AutoOrderRule(
        account=account, store=store
    )
    form = AutoOrderRuleForm(request.POST, instance=rule, prefix=f"store-{store.pk}")
    if not form.is_valid():
        return _rules_page(request, forms={store.pk: form}, status=422)
    form.save()
    return redirect(f"{reverse('rules:list')}?saved={store.pk}#store-{store.pk}")
