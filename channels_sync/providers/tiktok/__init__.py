"""TikTok Shop (Partner API 202309): mapping (pure), client (HTTP), provider (registered on import)."""

from __future__ import annotations

from channels_sync.providers.tiktok.provider import TikTokProvider

__all__ = ["TikTokProvider"]
