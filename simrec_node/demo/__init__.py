"""A numpy-only demo simulation (a batch of cart-poles) that publishes what recording is for."""

from .node import DemoSim
from .physics import CartPoleBatch, StepResult
from .render import Camera

__all__ = ["Camera", "CartPoleBatch", "DemoSim", "StepResult"]
