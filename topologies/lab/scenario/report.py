"""The report of a scenario run: each expectation with what was measured and its verdict (PASS,
FAIL, or INCONCLUSIVE with the spans whose emulators were late beyond tolerance meanwhile:
verdict.py), the intents' moves as the controller announced them (Watch events, with
reasons), their paths before and after the events, and how late every span emulator was over
the run; as text for people (text()) and as a mapping for --json (as_dict())."""

from dataclasses import dataclass, field

from topologies.emulation import budget
from topologies.lab import verdict as v

SHOWN_SPANS = 5  # the text's lateness table: every span that lied, else the worst few


@dataclass
class Result:
    """One expectation: what was expected and what was measured; `held` is what the
    measurement said, `lying` the spans that lied while it was measured."""

    name: str
    step: str
    held: bool
    measured: str
    expected: str
    lying: tuple = ()  # SpanLateness, the worst first

    @property
    def verdict(self):
        return v.INCONCLUSIVE if self.lying else v.PASS if self.held else v.FAIL

    @property
    def passed(self):
        return self.verdict == v.PASS

    def as_dict(self):
        return {
            'name': self.name,
            'step': self.step,
            'verdict': self.verdict,
            'passed': self.passed,
            'measured': self.measured,
            'expected': self.expected,
            'lying': [budget.as_dict(s) for s in self.lying],
        }


@dataclass
class Report:
    scenario: str
    fabric: str
    expectations: list = field(default_factory=list)  # Result
    moves: list = field(default_factory=list)  # Watch events of the scenario's intents
    paths_before: list = field(default_factory=list)  # see fabric_map.render_svg
    paths_after: list = field(default_factory=list)
    spans_down: list = field(default_factory=list)  # span ids down at the end
    spans_slowed: list = field(default_factory=list)  # 'a-b: 9 -> 30 ms'
    lateness: dict = None  # span id -> SpanLateness over the run once the lab was ready
    error: str = None  # the run itself broke (not an expectation)
    seconds: float = 0.0

    @property
    def verdict(self):
        return v.overall((r.verdict for r in self.expectations), broke_off=self.error is not None)

    @property
    def passed(self):
        return self.verdict == v.PASSED

    @property
    def exit_code(self):
        return v.exit_code(self.verdict)

    def as_dict(self):
        return {
            'scenario': self.scenario,
            'fabric': self.fabric,
            'verdict': self.verdict,
            'passed': self.passed,
            'expectations': [r.as_dict() for r in self.expectations],
            'moves': self.moves,
            'paths_before': self.paths_before,
            'paths_after': self.paths_after,
            'spans_down': self.spans_down,
            'spans_slowed': self.spans_slowed,
            'lateness': None
            if self.lateness is None
            else [budget.as_dict(s) for _, s in sorted(self.lateness.items())],
            'error': self.error,
            'seconds': self.seconds,
        }

    def text(self):
        lines = [f'scenario {self.scenario} on fabric {self.fabric}']
        width = max([len(r.name) for r in self.expectations] + [10])
        tag = max([len(r.verdict) for r in self.expectations] + [4])
        for r in self.expectations:
            lines.append(
                f'  {r.verdict:{tag}}  {r.name:{width}}  measured {r.measured}  (expected {r.expected})'
            )
            if r.lying:
                lines.append(
                    f'  {"":{tag}}  late beyond tolerance meanwhile: {budget.describe_lying(r.lying)}'
                )
        if self.moves:
            lines.append('what the controller did (Watch events):')
            lines += [f'  {m["t"]:6.1f} s  {m["intent"]}: {_move_text(m)}' for m in self.moves]
        if self.paths_before or self.paths_after:
            lines.append('paths before the events -> at the end:')
            after = {p['name']: p for p in self.paths_after}
            for p in self.paths_before:
                q = after.get(p['name'], p)
                lines.append(f'  {p["name"]:12} {_path_text(p)}  ->  {_path_text(q)}')
        if self.lateness is not None:
            lines += lateness_text(self.lateness)
        if self.error:
            lines.append(f'error: {self.error}')
        lines.append(self._verdict_line())
        return '\n'.join(lines)

    def _verdict_line(self):
        held = sum(r.passed for r in self.expectations)
        doubtful = sum(r.verdict == v.INCONCLUSIVE for r in self.expectations)
        line = f'verdict: {self.verdict}: {held} of {len(self.expectations)} expectations hold'
        if doubtful:
            line += f', {doubtful} inconclusive'
            if self.verdict == v.INCONCLUSIVE:
                line += ': measured while the emulation was late beyond tolerance'
        if self.error:
            line += ' (the run broke off)'
        return f'{line}; {self.seconds:.0f} s'


def lateness_text(lateness, over='the run', shown=SHOWN_SPANS):
    """Lines on the span emulators' lateness over a window: every span that lied, then the
    worst of the others up to `shown` in all (None: every span)."""
    if not lateness:
        return ['span emulators: none accounts lateness (every span is joined in the kernel)']
    lying = budget.lying(lateness)
    worst = sorted(lateness.values(), key=lambda s: (-(s.p99_ms or 0.0), s.span_id))
    rest = [s for s in worst if not s.lying]
    shown = lying + (rest if shown is None else rest[: max(0, shown - len(lying))])
    omitted = len(lateness) - len(shown)
    lines = [
        f'span emulators over {over}: {len(lying)} of {len(lateness)} late beyond tolerance '
        f'(ms after due{f"; {omitted} more in --json" if omitted else ""}):',
        f'  {"span":15} {"frames":>8} {"p50":>7} {"p99":>7} {"max":>8} {"dropped":>7} {"tolerance":>9}',
    ]
    for s in shown:
        figures = (
            f'{s.p50_ms:7.3f} {s.p99_ms:7.3f} {s.max_ms:8.3f}'
            if s.p99_ms is not None
            else f'{"-":>7} {"-":>7} {"-":>8}'
        )
        lines.append(
            f'  {s.span_id:15} {s.frames:8d} {figures} {s.dropped_late:7d} {s.tolerance_ms:9.3f}'
            f'{"  LATE" if s.lying else ""}'
        )
    return lines


def _path_text(p):
    return '-'.join(p['sites']) if p['sites'] else p['state'].lower()


def _move_text(m):
    if m['new_path']:
        where = (f'{"-".join(m["old_path"])} -> ' if m['old_path'] else 'placed on ') + '-'.join(
            m['new_path']
        )
    elif m['old_path']:
        where = f'lost {"-".join(m["old_path"])}'
    else:
        where = m['state']
    return f'{where} ({m["reason"]})' if m['reason'] else where
