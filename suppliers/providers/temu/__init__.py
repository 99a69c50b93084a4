"""Temu (SIMULATED: Temu has no public buyer API): the sandbox's own API, registered on import."""

from suppliers.providers.temu.provider import TemuProvider

__all__ = ["TemuProvider"]
