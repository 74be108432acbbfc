"""Crash recovery and file checking: ``simrec recover`` and ``simrec doctor``.

``recover`` rebuilds a valid, indexed MCAP file from one a killed recorder left behind (or one
with a corrupt chunk); ``check`` reports what is wrong with a file, byte offsets included.
"""

from simrec_node.mcap.walk import Break

from .doctor import DoctorReport, check
from .errors import RepairError
from .recover import RecoveryReport, recover

__all__ = ["Break", "DoctorReport", "RecoveryReport", "RepairError", "check", "recover"]
