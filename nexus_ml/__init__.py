"""nexus-ml: predictive operations for modular ERPs on Docker Swarm."""

__version__ = "0.1.0"
