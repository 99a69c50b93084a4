"""17TRACK Tracking API v2.2 (see ``provider``; statuses in ``mapping``, the push in ``webhook``)."""

from tracking.providers.track17.provider import Track17Provider

__all__ = ["Track17Provider"]
