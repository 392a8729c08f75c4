"""Routing policy for Candour: the document admins edit, its loader, validator, engine and simulator.

The package is pure: it reads policy text it is given and computes decisions from clear routing
metadata, with no database, network, Telegram or cryptography, so every rule can be tested in isolation.
"""

from policies.engine import Decision, ReportFacts, queue_conflicts, route
from policies.errors import PolicyError, PolicyInvalidError, PolicySyntaxError, PolicyUnroutableError
from policies.loader import load_policy, load_policy_file, starter_policy, starter_policy_text
from policies.schema import PRIORITIES, PolicyDocument, Priority
from policies.simulator import PastCase, RoutingChange, SimulationResult, simulate
from policies.validator import Problem, ValidationReport, ensure_valid, validate

__all__ = [
    "PRIORITIES",
    "Decision",
    "PastCase",
    "PolicyDocument",
    "PolicyError",
    "PolicyInvalidError",
    "PolicySyntaxError",
    "PolicyUnroutableError",
    "Priority",
    "Problem",
    "ReportFacts",
    "RoutingChange",
    "SimulationResult",
    "ValidationReport",
    "ensure_valid",
    "load_policy",
    "load_policy_file",
    "queue_conflicts",
    "route",
    "simulate",
    "starter_policy",
    "starter_policy_text",
    "validate",
]
