"""Tracking providers: importing this package registers each one in ``base.REGISTRY``."""

from __future__ import annotations

from tracking.providers import track17  # noqa: F401  (registers its provider)
