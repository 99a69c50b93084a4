"""Thin tasks (queue "tracking"): load by id, call one service. Safe to run twice."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
