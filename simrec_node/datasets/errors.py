"""The datasets part's own error: a user mistake (or a missing extra) the CLI prints as one line."""

from __future__ import annotations

from simrec_node.convert.errors import ConvertError


class DatasetError(ConvertError):
    """Bad input for a dataset read or a many-log conversion: one line, what is wrong and what to do."""
