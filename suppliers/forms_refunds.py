"""The forms of refunds in the order center: the merchant's request (lines of one supplier order,
the amount, the reason, a note, evidence links) and the outcome the merchant records for a supplier
without a refund API. The room per line and every rule on it are ``suppliers.services.refunds``'s:
these forms only read the fields; the service refuses what is not allowed, with its message."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.enums import RefundReason, RefundState
from suppliers.services.refunds import MAX_EVIDENCE, MAX_NOTE, LineRoom, RefundAskLine, RefundRoom

# The refund's error fields (``RefundRefused.field``) shown at a form field; "lines" is the table.
FORM_FIELDS = ("amount", "reason", "note", "evidence")


def quantity_field(line: LineRoom) -> str:
    return f"qty_{line.supplier_order_line_id}"


class RefundRequestForm(forms.Form):
    """One supplier order's request: a quantity per line (``qty_<supplier order line id>``)."""

    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=True
    )
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=RefundReason.choices)
    note = forms.CharField(
        label=gettext_lazy("Note for the supplier"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    evidence = forms.CharField(
        label=gettext_lazy("Evidence links"),
        required=False,
        help_text=gettext_lazy("Photos or videos the supplier can open: one https:// link per line."),
        widget=forms.Textarea(attrs={"rows": 3, "inputmode": "url"}),
    )

    def __init__(self, *args: Any, room: RefundRoom, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.room = room
        self.line_errors: list[str] = []
        for line in room.lines:
            self.fields[quantity_field(line)] = forms.IntegerField(
                label=_("Units of %(title)s") % {"title": line.title}, min_value=0, max_value=10_000, required=False
            )

    def line_rows(self) -> list[dict[str, Any]]:
        """The table of lines: each line's room and its quantity field."""
        return [{"room": line, "field": self[quantity_field(line)]} for line in self.room.lines]

    def clean_evidence(self) -> list[str]:
        links = [link.strip() for link in self.cleaned_data["evidence"].splitlines() if link.strip()]
        if len(links) > MAX_EVIDENCE:
            raise forms.ValidationError(_("At most %(count)d evidence links.") % {"count": MAX_EVIDENCE})
        return links

    def ask_lines(self) -> list[RefundAskLine]:
        return [
            RefundAskLine(supplier_order_line_id=line.supplier_order_line_id, quantity=quantity)
            for line in self.room.lines
            if (quantity := self.cleaned_data.get(quantity_field(line)) or 0) > 0
        ]

    def refused_at(self, field: str | None, message: str) -> None:
        """The service's refusal, at its field (the table of lines, a field, or the whole form)."""
        if field == "lines":
            self.line_errors.append(message)
        elif field in FORM_FIELDS:
            self.add_error(field, message)
        else:
            self.add_error(None, message)


def request_initial(room: RefundRoom, quantities: Mapping[int, int] | None = None) -> dict[str, Any]:
    """The form's first values: ``quantities`` by supplier order line (a customer refund's lines),
    else every line still open; the amount is the cap of those units (never more)."""
    initial: dict[str, Any] = {"reason": RefundReason.NOT_RECEIVED}
    cap = Decimal("0.00")
    for line in room.lines:
        wanted = line.quantity_left if quantities is None else quantities.get(line.supplier_order_line_id, 0)
        quantity = 0 if line.under_open_request else max(min(wanted, line.quantity_left), 0)
        initial[quantity_field(line)] = quantity
        cap += line.cap_for(quantity)
    initial["amount"] = cap if cap > 0 else None
    return initial


def amount_cap(room: RefundRoom, form: RefundRequestForm) -> Decimal:
    """The most the chosen units may ask (the "Recalculate" button sets the amount to it)."""
    total = Decimal("0.00")
    for ask in form.ask_lines():
        line = room.line(ask.supplier_order_line_id)
        if line is not None and not line.under_open_request:
            total += line.cap_for(min(ask.quantity, line.quantity_left))
    return total


OUTCOMES = (
    (RefundState.APPROVED, gettext_lazy("Approved: the money comes back later")),
    (RefundState.REJECTED, gettext_lazy("Rejected by the supplier")),
    (RefundState.REFUNDED, gettext_lazy("Refunded: the money is back")),
)


class RefundOutcomeForm(forms.Form):
    """What the supplier answered on its own site (a supplier without a refund API)."""

    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=OUTCOMES)
    rejection_reason = forms.CharField(
        label=gettext_lazy("The supplier's reason"), required=False, max_length=500, strip=True
    )
    refunded_amount = forms.DecimalField(
        label=gettext_lazy("Amount refunded"),
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )

    def __init__(self, *args: Any, asked: Decimal | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked = asked

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        outcome = cleaned.get("outcome")
        if outcome == RefundState.REJECTED and not cleaned.get("rejection_reason"):
            self.add_error("rejection_reason", _("Say why the supplier rejected it."))
        if outcome == RefundState.REFUNDED:
            amount = cleaned.get("refunded_amount")
            if amount is None:
                self.add_error("refunded_amount", _("Enter the amount the supplier refunded."))
            elif self.asked is not None and amount > self.asked:
                self.add_error(
                    "refunded_amount",
                    _("The supplier cannot refund more than was asked (%(asked)s).") % {"asked": self.asked},
                )
        return cleaned
