"""Scheduling simulator: kube-scheduler's default profile, preemption, gangs, sharing.

Pure and deterministic: the same inputs and ``seed`` give the same result.
See ``reference/scheduler.md`` for the semantics each module follows.
"""

from __future__ import annotations

from kubernai.sim.profile import Profile, load_profile
from kubernai.sim.result import SimulationResult
from kubernai.sim.simulate import Options, simulate

__all__ = ["Options", "Profile", "SimulationResult", "load_profile", "simulate"]
