from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SupplierProvider(models.TextChoices):
    ALIEXPRESS = "aliexpress", _("AliExpress")  # Dropshipping API, out_order_id idempotency
    CJ = "cj", _("CJdropshipping")  # API 2.0, orderNumber idempotency
    TEMU = "temu", _("Temu (simulated)")  # no public buyer API: sandbox only
