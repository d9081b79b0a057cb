"""The report of a scenario run: each expectation with what was measured, the intents' moves
as the controller announced them (Watch events, with reasons), and their paths before and
after the events; as text for people (text()) and as a mapping for --json (as_dict())."""

from dataclasses import asdict, dataclass, field


@dataclass
class Result:
    """One expectation: what was expected and what was measured."""

    name: str
    step: str
    passed: bool
    measured: str
    expected: str


@dataclass
class Report:
    scenario: str
    fabric: str
    passed: bool = False
    expectations: list = field(default_factory=list)  # Result
    moves: list = field(default_factory=list)  # Watch events of the scenario's intents
    paths_before: list = field(default_factory=list)  # see fabric_map.render_svg
    paths_after: list = field(default_factory=list)
    spans_down: list = field(default_factory=list)  # span ids down at the end
    spans_slowed: list = field(default_factory=list)  # 'a-b: 9 -> 30 ms'
    error: str = None  # the run itself broke (not an expectation)
    seconds: float = 0.0

    def as_dict(self):
        return asdict(self)

    def text(self):
        lines = [f'scenario {self.scenario} on fabric {self.fabric}']
        width = max([len(r.name) for r in self.expectations] + [10])
        for r in self.expectations:
            lines.append(
                f'  {"PASS" if r.passed else "FAIL"}  {r.name:{width}}  measured {r.measured}'
                f'  (expected {r.expected})'
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
        if self.error:
            lines.append(f'error: {self.error}')
        held = sum(r.passed for r in self.expectations)
        verdict = 'PASSED' if self.passed else 'FAILED'
        lines.append(
            f'verdict: {verdict}: {held} of {len(self.expectations)} expectations hold'
            f'{" (the run broke off)" if self.error else ""}; {self.seconds:.0f} s'
        )
        return '\n'.join(lines)


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
