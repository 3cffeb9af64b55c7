"""Identifiers: deterministic GUIDs from names, and a seeded GUID stream for operations and requests."""

from __future__ import annotations

import random
import threading
import uuid

# A fixed namespace so that the same inputs give the same GUIDs in every run and on every machine.
NAMESPACE = uuid.UUID("6b1d6a52-3f0e-4a55-9a43-5c3a6a1d0e77")


def stable_guid(*parts: object) -> str:
    """A GUID derived from its parts: the same parts always give the same GUID."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


class GuidStream:
    """GUIDs from a seeded random stream: reproducible for the same sequence of requests."""

    def __init__(self, seed: object) -> None:
        self._random = random.Random(f"hpctl-sandbox-guids:{seed}")
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._random.getrandbits(128), version=4))
