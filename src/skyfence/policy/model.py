"""The :class:`Policy`: activation rules, terminal rules and sensitive regions, as one value.

A policy round-trips through a JSON-able document (:meth:`Policy.to_document` /
:meth:`Policy.from_document`), which is what the store keeps. :meth:`Policy.compile` turns it
into a :class:`~skyfence.policy.compile.CompiledPolicy` that decides.

The rule types live in :mod:`skyfence.policy.rules` and the terminal registry in
:mod:`skyfence.policy.terminals`; their names are re-exported here for older imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from skyfence.errors import InputError, NotFoundError
from skyfence.policy.compile import CompiledPolicy, IndexFactory, Resolver
from skyfence.policy.decision import BatchDecision, Decision, RegionIndexLike
from skyfence.policy.rules import (
    PLANS,
    SERVING_STATES,
    SEVERITY,
    STATES,
    TERMINAL_RULE_KINDS,
    ActivationRule,
    TerminalRule,
    normalize_region_expr,
)
from skyfence.policy.seal import (
    Seal,
    SealResolver,
    default_seal_resolver,
    sealed_resolve,
    verify_seal,
)
from skyfence.policy.terminals import Terminal, TerminalRegistry
from skyfence.policy.validate import check_data
from skyfence.regions import RegionResolver
from skyfence.timeutil import parse_time

__all__ = [
    "STATES",
    "SERVING_STATES",
    "SEVERITY",
    "PLANS",
    "TERMINAL_RULE_KINDS",
    "ActivationRule",
    "TerminalRule",
    "Policy",
    "Terminal",
    "TerminalRegistry",
    "normalize_region_expr",
]


@dataclass(frozen=True)
class Policy:
    """An activation policy: activation rules, terminal rules and sensitive regions.

    Build one from a file with :func:`skyfence.policy.load_policy`, or from a stored
    document with :meth:`from_document`; compile it with :meth:`compile` to decide.
    """

    rules: tuple[ActivationRule, ...] = ()
    terminal_rules: tuple[TerminalRule, ...] = ()
    name: str = ""
    description: str = ""
    sensitive_regions: tuple[str, ...] = ()
    #: The recorded geometries and their hashes (:mod:`skyfence.policy.seal`), if sealed.
    sealed: Seal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "terminal_rules", tuple(self.terminal_rules))
        object.__setattr__(self, "sensitive_regions", tuple(self.sensitive_regions))
        seen: set[str] = set()
        every: list[ActivationRule | TerminalRule] = [*self.rules, *self.terminal_rules]
        for rule in every:
            if rule.id in seen:
                raise InputError(f"rule id {rule.id!r} is used twice; rule ids must be unique")
            seen.add(rule.id)

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the activation rules then the terminal rules (the engine's rule indices)."""
        return [r.id for r in self.rules] + [r.id for r in self.terminal_rules]

    def rule(self, rule_id: str) -> ActivationRule | TerminalRule:
        """The rule with id ``rule_id`` (``NotFoundError`` lists the ids)."""
        everything: list[ActivationRule | TerminalRule] = [*self.rules, *self.terminal_rules]
        for r in everything:
            if r.id == rule_id:
                return r
        raise NotFoundError(f"no rule {rule_id!r}; rules are: {', '.join(self.rule_ids)}")

    def rules_at(self, time: Any) -> list[ActivationRule]:
        """The activation rules in force at ``time`` (time travel over effective windows)."""
        t = parse_time(time)
        return [r for r in self.rules if r.in_force(t)]

    def terminal_rules_at(self, time: Any) -> list[TerminalRule]:
        """The terminal rules in force at ``time``."""
        t = parse_time(time)
        return [r for r in self.terminal_rules if r.in_force(t)]

    @property
    def region_expressions(self) -> list[str]:
        """Every region expression the policy uses (rules, terminal rules, sensitive
        regions), once each, in order."""
        exprs = [r.region for r in self.rules]
        exprs += [r.region for r in self.terminal_rules if r.region]
        return list(dict.fromkeys([*exprs, *self.sensitive_regions]))

    def to_document(self) -> dict[str, Any]:
        """The JSON-able document the store keeps; :meth:`from_document` reads it back."""
        doc: dict[str, Any] = {
            "skyfence_policy": 1,
            "name": self.name,
            "description": self.description,
            "sensitive_regions": list(self.sensitive_regions),
            "rules": [r.to_document() for r in self.rules],
            "terminal_rules": [r.to_document() for r in self.terminal_rules],
        }
        if self.sealed is not None:
            doc["sealed"] = self.sealed.to_document()
        return doc

    @classmethod
    def from_document(
        cls,
        document: Mapping[str, Any],
        *,
        source: str = "<document>",
        resolve: SealResolver | None = None,
    ) -> Policy:
        """Validate and build a policy from a parsed document (as from JSON or YAML).

        Problems raise :class:`~skyfence.errors.ParseError` naming the line of the document
        written as indented JSON (one key or list item per line).

        A **sealed** document (:func:`skyfence.policy.seal_document`) reads no file: each
        ``geojson:`` region is the geometry it carries. Every recorded hash is checked
        against the geometry its expression resolves to now (``resolve``, default the
        built-in worldview: ``resolve(expr, geojson=...)`` as
        :class:`skyfence.regions.RegionResolver`), and a difference raises
        :class:`~skyfence.errors.IntegrityError` naming the region; ``source`` (e.g.
        ``"policy version 7"``) starts the message. A document that is not sealed is read
        as before, without resolving anything.
        """
        parts = check_data(document, source)
        policy = cls(*parts)
        if policy.sealed is not None:
            resolver = default_seal_resolver() if resolve is None else resolve
            verified = verify_seal(policy.sealed, resolver, source)
            object.__setattr__(policy, "_sealed_regions", (resolver, verified, source))
        return policy

    def compile(
        self,
        *,
        resolve: Resolver | None = None,
        countries: RegionIndexLike | None = None,
        index_factory: IndexFactory | None = None,
        coast_step_deg: float = 0.02,
    ) -> CompiledPolicy:
        """Compile for fast decisions; see :class:`skyfence.policy.CompiledPolicy`.

        A sealed policy is always compiled from the geometries it carries, each checked
        against its hash: ``resolve`` (default: the built-in worldview, or the one
        :meth:`from_document` verified with) is called as ``resolve(expr, geojson=...)``
        with the sealed geometries, as :class:`skyfence.regions.RegionResolver` is; a region
        that resolves to anything else raises :class:`~skyfence.errors.IntegrityError`.
        """
        if self.sealed is not None:  # the seal always decides: no resolver can bypass it
            base, verified, source = self.__dict__.get(
                "_sealed_regions", (resolve or default_seal_resolver(), {}, "policy")
            )
            same_world = (
                isinstance(resolve, RegionResolver)
                and isinstance(base, RegionResolver)
                and resolve.worldview is base.worldview
            )
            if resolve is not None and resolve is not base and not same_world:
                base, verified = resolve, {}
            resolve = sealed_resolve(self.sealed, base, verified, source)
        return CompiledPolicy(
            self,
            resolve=resolve,
            countries=countries,
            index_factory=index_factory,
            coast_step_deg=coast_step_deg,
        )

    @cached_property
    def engine(self) -> CompiledPolicy:
        """This policy compiled once with the default regions (``world()``), then reused."""
        return self.compile()

    def decide(
        self, terminal_id: str, lat: float, lon: float, time: Any = None, **kwargs: Any
    ) -> Decision:
        """``self.engine.decide(...)``: see :meth:`skyfence.policy.CompiledPolicy.decide`."""
        return self.engine.decide(terminal_id, lat, lon, time, **kwargs)

    def decide_batch(self, table: Mapping[str, Any], **kwargs: Any) -> BatchDecision:
        """``self.engine.decide_batch(...)``: see :meth:`skyfence.policy.CompiledPolicy.decide_batch`."""
        return self.engine.decide_batch(table, **kwargs)
