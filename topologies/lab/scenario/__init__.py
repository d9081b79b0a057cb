"""Scenarios: a fabric, intents and a timeline of steps, read from a file (file.py, format in
docs/scenarios.md) and run in a real lab (runner.py) into a report (report.py).

A step kind is one registered class (steps.py): the events are in events.py, the
expectations in expectations.py.
"""

# The step kinds register on import, events first: that is their order in messages.
from topologies.lab.scenario import events, expectations  # noqa: F401
from topologies.lab.scenario.expectations import STATES
from topologies.lab.scenario.file import SHIPPED, IntentSpec, Scenario, load_scenario, parse_scenario
from topologies.lab.scenario.reader import Host
from topologies.lab.scenario.steps import KINDS, Outage, Step

__all__ = [
    'KINDS',
    'SHIPPED',
    'STATES',
    'Host',
    'IntentSpec',
    'Outage',
    'Scenario',
    'Step',
    'load_scenario',
    'parse_scenario',
]
