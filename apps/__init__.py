"""Applications assembled from the library and the service: the demo's closed loop.

Library code (``nexus_ml``) never imports from here; the CLI, the outermost edge, does.
"""
