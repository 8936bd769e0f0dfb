"""The migration coordinator of the ERP's module schemas on PostgreSQL.

Layers, from pure to side-effecting (only the last ones talk to the database):

- :mod:`~nexus_ml.migrate.parser` / :mod:`~nexus_ml.migrate.sqlsplit`: migration files
  ``migrations/<module>/NNNN_name.sql`` (up, verify, down parts; ``-- migrate:depends``).
- :mod:`~nexus_ml.migrate.graph`: one dependency graph over every module's migrations,
  deterministic order, cycle errors with a suggested split.
- :mod:`~nexus_ml.migrate.dbmap`, :mod:`~nexus_ml.migrate.docs`: the database map (``dbmap.yaml``)
  and ``docs/nexus_database_map.md`` generated from it.
- :mod:`~nexus_ml.migrate.changes`, :mod:`~nexus_ml.migrate.impact`, :mod:`~nexus_ml.migrate.lint`:
  what a migration changes, who feels it, what is dangerous.
- :mod:`~nexus_ml.migrate.pg`, :mod:`~nexus_ml.migrate.history`, :mod:`~nexus_ml.migrate.integrity`:
  sessions and the advisory lock, the history table (checksums, releases), integrity checks.
- :mod:`~nexus_ml.migrate.runner` (the coordinator), :mod:`~nexus_ml.migrate.rollback`,
  :mod:`~nexus_ml.migrate.staging`, :mod:`~nexus_ml.migrate.introspect` (drift vs the map).
- :mod:`~nexus_ml.migrate.commands`: the facade the CLI (``nexus-ml migrate``) calls.
"""
