"""The dependency graph over every module's migrations: pure (no database, no files).

One graph over ``module:NNNN`` nodes. Edges come from the declared dependencies plus an implicit
edge from each migration to the previous number of its own module. Order is deterministic:
Kahn's algorithm that keeps going in the current module while it can (so a plan has few module
switches, hence few savepoints) and otherwise takes the smallest ``(module rank, module,
number)``.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Sequence
from itertools import groupby

from nexus_ml.domain.migration import MigrationPlan
from nexus_ml.migrate.errors import CycleError, MigrationInputError, UnknownDependencyError
from nexus_ml.migrate.parser import Migration

_Edges = dict[str, tuple[str, ...]] | dict[str, list[str]]


class MigrationGraph:
    """The validated graph of migrations.

    Parameters
    ----------
    migrations
        Parsed migrations (any order).
    module_order
        Preferred order of modules for ties (e.g. the catalog's dependency order); modules not
        listed come after, alphabetically.

    Raises
    ------
    UnknownDependencyError
        A migration depends on a key no migration has.
    CycleError
        The dependencies form a cycle; the error names it and suggests the split.
    """

    def __init__(self, migrations: Iterable[Migration], module_order: Sequence[str] = ()) -> None:
        self.migrations: dict[str, Migration] = {m.key: m for m in migrations}
        self._rank = {module: i for i, module in enumerate(module_order)}
        self.requires: dict[str, tuple[str, ...]] = {}
        by_module: dict[str, list[Migration]] = {}
        for m in sorted(self.migrations.values(), key=lambda m: (m.module, m.number)):
            by_module.setdefault(m.module, []).append(m)
        for chain in by_module.values():
            for prev, m in zip([None, *chain], chain, strict=False):
                implicit = (prev.key,) if prev is not None else ()
                for dep in m.depends_on:
                    if dep not in self.migrations:
                        raise UnknownDependencyError(m.path or m.key, dep)
                self.requires[m.key] = tuple(dict.fromkeys((*implicit, *m.depends_on)))
        self.required_by: dict[str, list[str]] = {k: [] for k in self.migrations}
        for key, deps in self.requires.items():
            for dep in deps:
                self.required_by[dep].append(key)
        self._order = self._topological_order()

    def order(self) -> tuple[Migration, ...]:
        """Every migration, each after everything it depends on."""
        return self._order

    def pending(self, applied: Collection[str]) -> tuple[Migration, ...]:
        """The migrations not in ``applied``, in order."""
        return tuple(m for m in self._order if m.key not in applied)

    def plan(self, applied: Collection[str] = ()) -> MigrationPlan:
        """The domain plan of the pending migrations.

        Raises
        ------
        MigrationInputError
            A transactional migration depends on a pending non-transactional one (those run
            after the transaction commits, so the order could not be kept).
        """
        steps = self.pending(applied)
        deferred = {m.key for m in steps if not m.transactional}
        for m in steps:
            if m.transactional:
                blocking = deferred & self.ancestors(m.key)
                if blocking:
                    raise MigrationInputError(
                        m.path or m.key,
                        f"depends on non-transactional {sorted(blocking)[0]}, which runs after "
                        "the plan's transaction commits; apply it in an earlier run",
                    )
        return MigrationPlan(
            steps=tuple(m.step for m in steps),
            modules_in_order=tuple(dict.fromkeys(m.module for m in steps)),
        )

    @property
    def allowed_not_valid(self) -> frozenset[str]:
        """Constraints some migration declared may stay NOT VALID."""
        return frozenset().union(*(m.allow_not_valid for m in self.migrations.values()))

    def ancestors(self, key: str) -> set[str]:
        """Every migration ``key`` depends on, directly or not."""
        return self._closure(key, self.requires)

    def descendants(self, key: str) -> set[str]:
        """Every migration that depends on ``key``, directly or not."""
        return self._closure(key, self.required_by)

    def _closure(self, key: str, edges: _Edges) -> set[str]:
        seen: set[str] = set()
        stack = list(edges[key])
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.add(k)
                stack.extend(edges[k])
        return seen

    def _sort_key(self, key: str) -> tuple[int, str, str]:
        m = self.migrations[key]
        return (self._rank.get(m.module, len(self._rank)), m.module, m.number)

    def _topological_order(self) -> tuple[Migration, ...]:
        missing = {k: len(deps) for k, deps in self.requires.items()}
        ready = [(self._sort_key(k), k) for k, n in missing.items() if n == 0]
        heapq.heapify(ready)
        order: list[Migration] = []
        current = ""
        while ready:
            same = [item for item in ready if self.migrations[item[1]].module == current]
            item = min(same) if same else ready[0]
            ready.remove(item)
            heapq.heapify(ready)
            key = item[1]
            current = self.migrations[key].module
            order.append(self.migrations[key])
            for child in self.required_by[key]:
                missing[child] -= 1
                if missing[child] == 0:
                    heapq.heappush(ready, (self._sort_key(child), child))
        if len(order) < len(self.migrations):
            self._raise_cycle({k for k, n in missing.items() if n > 0})
        return tuple(order)

    def _raise_cycle(self, stuck: set[str]) -> None:
        cycle = _find_cycle(stuck, self.requires)
        first = min(range(len(cycle)), key=lambda i: cycle[i])
        cycle = cycle[first:] + cycle[:first]
        raise CycleError(
            self.migrations[cycle[0]].path or cycle[0], tuple(cycle), self._suggest_split(cycle)
        )

    def _suggest_split(self, cycle: list[str]) -> str:
        # Like Django's advice for circular foreign keys: break the edge that crosses modules by
        # moving the cross-module part (usually the foreign key) into a later migration.
        edges = list(zip(cycle, [*cycle[1:], cycle[0]], strict=True))
        cross = [(a, b) for a, b in edges if self.migrations[a].module != self.migrations[b].module]
        a, b = (cross or edges)[0]
        module = self.migrations[a].module
        return (
            f"split {a}: keep what does not need {b} in {a} and move the rest (e.g. the foreign "
            f"key, as ALTER TABLE ... ADD CONSTRAINT ... NOT VALID) to a new {module} migration "
            f"that depends on {b}"
        )


def _find_cycle(stuck: set[str], requires: dict[str, tuple[str, ...]]) -> list[str]:
    # Every stuck node has a stuck dependency (else Kahn would have freed it): walk until a
    # node repeats.
    node = min(stuck)
    path: list[str] = []
    index: dict[str, int] = {}
    while node not in index:
        index[node] = len(path)
        path.append(node)
        node = min(d for d in requires[node] if d in stuck)
    return path[index[node] :][::-1]


def module_units(steps: Sequence[Migration]) -> list[tuple[str, list[Migration]]]:
    """Consecutive runs of one module's migrations: the coordinator's savepoint units."""
    return [(module, list(group)) for module, group in groupby(steps, key=lambda m: m.module)]
