"""``docs/nexus_database_map.md``, generated from the database map (a test keeps it current)."""

from __future__ import annotations

from nexus_ml.migrate.dbmap import DatabaseMap

HEADER = (
    "<!-- Generated from nexus_ml/migrate/dbmap.yaml by "
    "`nexus-ml migrate map --write-docs`; do not edit by hand. -->"
)


def render_markdown(dbmap: DatabaseMap) -> str:
    """The map as Markdown: one section per module, then who uses what across modules."""
    lines = [HEADER, "", "# Nexus ERP database map", ""]
    lines += [
        "Each module owns one PostgreSQL schema. Cross-module references are foreign keys,",
        "views over another module's columns, and declared usage (triggers, application code).",
        "",
    ]
    for m in dbmap.modules:
        catalog = f" (catalog `{m.catalog}`)" if m.catalog else ""
        lines += [f"## {m.module}{catalog}", "", f"Schema `{m.schema_name}`.", ""]
        for table, columns in m.tables.items():
            lines += [
                f"### `{m.schema_name}.{table}`",
                "",
                "| column | type | used by |",
                "|---|---|---|",
            ]
            for column, type_ in columns.items():
                users = ", ".join(
                    f"{dbmap.module_of(r)} ({r.kind})"
                    for r in dbmap.users_of(m.schema_name, table, column)
                )
                lines.append(f"| {column} | {type_} | {users or '—'} |")
            lines.append("")
        if m.views:
            lines += ["Views: " + ", ".join(f"`{m.schema_name}.{v}`" for v in m.views), ""]
    lines += [
        "## Cross-module references",
        "",
        "| from | kind | uses | note |",
        "|---|---|---|---|",
    ]
    for ref in dbmap.references:
        lines.append(f"| {ref.source} | {ref.kind} | {ref.to} | {ref.note or '—'} |")
    return "\n".join(lines) + "\n"
