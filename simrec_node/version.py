"""simrec's version, in a leaf module so that any part can import it without the package root."""

from __future__ import annotations

__version__ = "0.1.0"
