"""Running pieces of the real stack, shared by the integration tests and the benchmarks.

:mod:`apps.stack.loop` runs the decision service in a thread over a compressed clock and reads
Prometheus through it; :mod:`apps.stack.swarm` starts module services on the real Swarm under a
unique prefix and removes them. Tests and ``bench/`` import these; the library never does.
"""
