"""simrec: record simulation and robot-learning runs to MCAP over a ROS 2-style node graph."""

__version__ = "0.1.0"
