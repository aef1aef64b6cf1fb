"""Data-quality gate of the intake: Great Expectations suites per input kind and their runner.

    expectations/<kind>.json   one GX 1.x suite per input kind, generated from config/input_kinds.yaml and
                               config/reasons.yaml by `python -m expectations.build_suites`
    expectations.suites        builds the suites (and the custom expectation they use)
    expectations.gate          run_gate(std, kind, ...) -> GateResult (plain data): the decision, the
                               failed rules and the submission's Data Docs page

Importing this package does not import Great Expectations (seconds): the gate does on first use.
"""

from .gate import GateResult, run_gate, warm_up

__all__ = ["GateResult", "run_gate", "warm_up"]
