"""Verdicts on promises measured in a lab, and what they mean to a shell.

An expectation measured while any span emulator of the fabric was late beyond its tolerance
(lateness.SpanLateness.lying, between the mark taken when its measurement started and its
end) is INCONCLUSIVE, whatever the measurement said: not PASS, because a promise that held on
an emulation that lied was not shown to hold on the network it emulates; not FAIL, because
the lateness alone can break it. Every span counts, not only those the measured traffic
crossed: lateness means the cores could not keep up, and the switches, the other span
emulators and the controller (which measures every span to choose paths, move intents and
admit them) share those cores; and which spans the traffic crossed is not known for sure
while paths move (failover in the switches, moves on events).
"""

from dataclasses import dataclass

from topologies.emulation import budget

PASS, FAIL, INCONCLUSIVE = 'PASS', 'FAIL', 'INCONCLUSIVE'  # one expectation
PASSED, FAILED = 'PASSED', 'FAILED'  # a run: PASSED, FAILED or INCONCLUSIVE

# Exit codes of `naas-lab scenario` and `naas-lab demo` (and `measure`: 0, 1, 3).
EXIT_PASSED = 0  # every promise held
EXIT_FAILED = 1  # a promise broken, measured while the emulation kept its word (or the run broke off)
EXIT_BAD_FILE = 2  # a file could not be read or is invalid: nothing was started
EXIT_INCONCLUSIVE = 3  # nothing broken, but some promise was measured while the emulation lied
EXIT_INTERRUPTED = 130  # Ctrl-C: everything started was stopped
EXIT_CODES = {PASSED: EXIT_PASSED, FAILED: EXIT_FAILED, INCONCLUSIVE: EXIT_INCONCLUSIVE}


@dataclass(frozen=True)
class Judgement:
    verdict: str  # PASS, FAIL or INCONCLUSIVE
    lying: tuple = ()  # the spans (SpanLateness) that made it INCONCLUSIVE, the worst first


def judge(held, lateness):
    """The verdict on a promise whose measurement said `held`, given every span's lateness
    ({span id: SpanLateness}) over that measurement."""
    lying = tuple(budget.lying(lateness))
    if lying:
        return Judgement(INCONCLUSIVE, lying)
    return Judgement(PASS if held else FAIL)


def overall(verdicts, broke_off=False):
    """A run's verdict from its expectations' verdicts: FAILED if one failed (a promise
    measured broken on an honest emulation) or the run broke off, else INCONCLUSIVE if one
    was, else PASSED."""
    verdicts = list(verdicts)
    if broke_off or FAIL in verdicts:
        return FAILED
    if INCONCLUSIVE in verdicts:
        return INCONCLUSIVE
    return PASSED


def exit_code(run_verdict):
    return EXIT_CODES[run_verdict]
