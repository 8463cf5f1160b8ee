"""skyfence.policy: activation policy, terminal rules and the decision engine.

>>> from skyfence.policy import parse_policy, STATES
>>> parse_policy("rules: [{id: ua, region: UA, state: active}]").rules[0].region
'UA'
"""

from skyfence.policy.compile import CompiledPolicy
from skyfence.policy.decision import REASONS, BatchDecision, Decision
from skyfence.policy.diff import PolicyDiff, diff_policies, requires_approval
from skyfence.policy.examples import example_names, example_text, load_example
from skyfence.policy.loader import check_policy, load_policy, parse_policy, policy_from_data
from skyfence.policy.model import Policy
from skyfence.policy.rules import (
    PLANS,
    SERVING_STATES,
    SEVERITY,
    STATES,
    TERMINAL_RULE_KINDS,
    ActivationRule,
    TerminalRule,
)
from skyfence.policy.seal import Seal
from skyfence.policy.sealing import seal_document, seal_policy
from skyfence.policy.terminals import Terminal, TerminalRegistry

__all__ = [
    "STATES",
    "SERVING_STATES",
    "SEVERITY",
    "PLANS",
    "TERMINAL_RULE_KINDS",
    "REASONS",
    "ActivationRule",
    "TerminalRule",
    "Policy",
    "Terminal",
    "TerminalRegistry",
    "CompiledPolicy",
    "Decision",
    "BatchDecision",
    "PolicyDiff",
    "diff_policies",
    "requires_approval",
    "parse_policy",
    "load_policy",
    "check_policy",
    "policy_from_data",
    "example_names",
    "example_text",
    "load_example",
    "Seal",
    "seal_document",
    "seal_policy",
]
