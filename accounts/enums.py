from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")  # manages the account, its stores and its members
    STAFF = "staff", _("Staff")  # works the orders
