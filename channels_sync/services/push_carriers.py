"""The carrier mapping page's writes: an account's own carrier names per channel
(``CarrierMapping``, read by every push before the defaults) and its shipping notification setting."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.carriers import carrier_key
from channels_sync.models import CarrierMapping


class CarrierMappingError(ValueError):
    """A mapping that cannot be saved; the message names the problem (shown on the form)."""


def carrier_mapping_problem(
    *, account: Account, channel: str, supplier_carrier: str, channel_carrier: str, mapping_id: int | None = None
) -> str:
    """Why this mapping cannot be saved ("" it can): a name that is only punctuation, or a supplier
    carrier the account maps already for the channel (the page and the admin share the checks)."""
    key = carrier_key(supplier_carrier)
    if not key or not carrier_key(channel_carrier):
        return str(_("Give both carrier names."))
    clash = CarrierMapping.objects.filter(account=account, channel=channel, supplier_carrier_key=key)
    if mapping_id is not None:
        clash = clash.exclude(pk=mapping_id)
    if clash.exists():
        return str(
            _("“%(name)s” is mapped already for this channel (names are compared ignoring case, spaces and dots).")
            % {"name": supplier_carrier}
        )
    return ""


def carrier_mapping_save(
    *, account: Account, channel: str, supplier_carrier: str, channel_carrier: str, mapping_id: int | None = None
) -> CarrierMapping:
    """Add (``mapping_id`` None) or change one of the account's mappings. ``CarrierMapping.DoesNotExist``
    for another account's id; ``CarrierMappingError`` for a name the account maps already."""
    problem = carrier_mapping_problem(
        account=account,
        channel=channel,
        supplier_carrier=supplier_carrier,
        channel_carrier=channel_carrier,
        mapping_id=mapping_id,
    )
    if problem:
        raise CarrierMappingError(problem)
    key = carrier_key(supplier_carrier)
    try:
        with transaction.atomic():
            if mapping_id is None:
                mapping = CarrierMapping(account=account)
            else:
                mapping = CarrierMapping.objects.select_for_update().get(account=account, pk=mapping_id)
            mapping.channel, mapping.supplier_carrier, mapping.channel_carrier = (
                channel,
                supplier_carrier,
                channel_carrier,
            )
            mapping.supplier_carrier_key = key
            mapping.save()
    except IntegrityError:  # the same name saved at the same moment
        raise CarrierMappingError(
            _("“%(name)s” is mapped already for this channel.") % {"name": supplier_carrier}
        ) from None
    return mapping


def carrier_mapping_delete(*, account: Account, mapping_id: int) -> CarrierMapping:
    """Remove one of the account's mappings (``CarrierMapping.DoesNotExist`` for another's)."""
    mapping = CarrierMapping.objects.get(account=account, pk=mapping_id)
    mapping.delete()
    return mapping


def account_shipping_notifications_set(*, account: Account, notify: bool) -> None:
    """Whether the channel tells the customer when we fulfil (Shopify's ``notifyCustomer``)."""
    Account.objects.filter(pk=account.pk).update(notify_customer_on_fulfillment=notify)
    account.notify_customer_on_fulfillment = notify
