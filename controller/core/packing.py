"""Placing many intents together (Controller.create_many): more of them fit than one after
the other would.

One after the other, each intent takes the lowest-latency path with the room, and an early
one can take the span a later one needed. Together, it is an admission problem over all of
them: give each intent one of its candidate placements, or none, so that no link is
over-booked and the most committed Gb/s gets in. Candidates: the pair's K lowest-latency
paths (kept from one batch to the next: candidates.py) that have the room now and meet the
bound with the delays of now, or, when none does, Yen's K fastest among the links with the
room; a protected intent gets, beside each, the fastest span-disjoint backup with the room.
As SWAN and B4 allocate, class by class: REALTIME
first, each class on what the ones before it left.

Within a class, four tries, and the one that admits the most is kept:
1. greedily, fewest hops first (the core's batch order), then largest first;
2. greedily, largest first;
3. the linear relaxation (HiGHS, through SciPy), which may split an intent, rounded: the
   intents it admits most wholly first, each on the path it gave the most;
4. only where the best of these is more than 0.1% below the relaxation's bound (no
   placement can admit more than that): the integer program over the paths the relaxation
   used, those of the tries above and each intent's two fastest, stopped after `seconds`
   (Policy.batch_seconds) with the best placement found (on a big batch the solver stops
   early, and a greedy try may win).
The objective is the committed Gb/s admitted, less 0.1% per rank of latency of the path
taken, so that among equal admissions the faster paths win. scripts/bench/placement.py
measures the result against the optimum (docs/benchmarks.md).

What pack() returns fits: each placement was reserved in the books, in the order
returned, inside a trial that is then undone, so the controller admitting them in that
order on the same books gets exactly these. Computed on copies off the runtime's lock
(Controller.packer), each is checked again (fits()) before it is taken.
"""

from dataclasses import replace

from controller.core.admission import Placement, admit
from controller.core.books import Books, both_ways
from controller.core.candidates import Basis, Candidates
from controller.core.intent import Intent
from controller.core.ledger import AdmissionError, Ledger
from controller.core.paths import EPS, NoPath, Path, find_path, k_paths, latency_order
from controller.core.planner import RANK
from controller.core.topology import Link, Topology
from topologies.model.order import Protection

K = 8  # candidate paths per intent
FASTEST = 2  # of them always weighed by the integer program
TIE = 1e-3  # objective: this share of an intent's Gb/s less per rank of latency
GAP = 1e-3  # the integer program runs only where the best try is further from the relaxation

Picks = dict[int, int]  # intent index -> index of the option taken
Need = tuple[Ledger, Link]  # Gb/s a placement takes is counted per book and link
SpanNeed = tuple[Ledger, str]  # ... and, weighing options, per book and span


def pack(
    topology: Topology,
    books: Books,
    intents: list[Intent],
    seconds: float,
    paths: Candidates | None = None,
) -> list[tuple[int, Placement]]:
    """[(index into intents, Placement)] for the intents placed together, in the order to
    admit them; those left out are not listed. The books end as they began. `paths`: the
    candidate paths kept from earlier placements (the controller's), else computed afresh."""
    paths = paths or Candidates(K)
    ranks = sorted({RANK[intent.service_class] for intent in intents})
    out: list[tuple[int, Placement]] = []
    with books.trial():
        for rank in ranks:
            members = [n for n, intent in enumerate(intents) if RANK[intent.service_class] == rank]
            trial = {n: replace(intents[n], id=f'packing-{n}') for n in members}
            rooms = _rooms(topology, books)
            basis = paths.on(topology)
            options = {n: candidates(topology, rooms, trial[n], basis) for n in members}
            picks = choose(topology, books, trial, options, seconds / len(ranks))
            for n in members:
                if n not in picks:
                    continue
                placement = options[n][picks[n]]
                try:
                    admit(topology, books, trial[n], placement=placement)
                except (NoPath, AdmissionError):
                    continue  # float noise in a solver's answer: the controller tries it alone
                out.append((n, placement))
    return out


def _rooms(topology: Topology, books: Books) -> dict[Link, tuple[float, float]]:
    """{link: (committed Gb/s, committed plus excess Gb/s)} a new intent could have on the
    link, both directions counted (an E-Line takes its rate both ways): read once per class,
    as every intent of a batch asks for every link."""
    out = {}
    for link in topology.links():
        back = link.reverse()
        out[link] = (
            min(books.committed.available_gbps(link), books.committed.available_gbps(back)),
            min(books.peak.available_gbps(link), books.peak.available_gbps(back)),
        )
    return out


def candidates(
    topology: Topology, rooms: dict[Link, tuple[float, float]], intent: Intent, basis: Basis
) -> list[Placement]:
    """The placements weighed for an intent: [Placement], fastest primary first. Primaries:
    the pair's kept candidates that have the room and meet the bound now; when none does,
    Yen's K fastest among the links that have the room (what the kept ones miss on a full
    fabric)."""

    def available(link: Link) -> float:
        committed, peak = rooms[link]
        return min(committed, peak - intent.excess_gbps)

    gbps, bound = intent.bandwidth_gbps, intent.max_latency_ms
    ends = (topology, intent.src, intent.dst)
    timed = [(path.latency_ms(topology), path) for path in basis.paths(*ends)]
    paths = [
        path
        for latency, path in sorted(timed, key=lambda t: latency_order(t[1], t[0]))
        if (bound is None or latency <= bound + EPS) and all(available(l) >= gbps - EPS for l in path.links)
    ]
    if not paths:
        paths = k_paths(*ends, K, gbps, available, bound)
    if intent.protection is not Protection.PROTECTED:
        return [Placement(path) for path in paths]
    out, seen = [], set()
    for path in paths:
        try:
            backup = find_path(*ends, gbps, available, bound, frozenset(path.span_ids(topology)))
        except NoPath:
            continue
        first, second = sorted((path, backup), key=lambda p: (p.latency_ms(topology), p.hops, p.sites))
        if (first, second) not in seen:
            seen.add((first, second))
            out.append(Placement(first, second))
    return out


def fits(topology: Topology, books: Books, intent: Intent, placement: Placement) -> bool:
    """Whether a placement computed a while ago (off the runtime's lock) still holds: its
    spans up, its paths within the bound, the room in both books."""
    paths = [p for p in (placement.primary, placement.backup) if p is not None]
    if intent.max_latency_ms is not None and any(
        p.latency_ms(topology) > intent.max_latency_ms + EPS for p in paths
    ):
        return False
    return all(topology.span_of(link).up for p in paths for link in p.links) and all(
        _left(key, {}) >= gbps - EPS for key, gbps in _needs(books, intent, placement).items()
    )


def links_of(placement: Placement) -> tuple[Link, ...]:
    return both_ways(placement.primary) + (both_ways(placement.backup) if placement.backup else ())


def choose(
    topology: Topology,
    books: Books,
    intents: dict[int, Intent],
    options: dict[int, list[Placement]],
    seconds: float,
) -> Picks:
    """{n: index of the option taken} for the intents of one class (see the module doc):
    the best of greedy placements in two orders and the relaxation rounded; the integer
    program only where that best leaves a gap to the relaxation's bound, for at most
    `seconds` (when the solver stops early, the others still stand)."""
    members = [n for n in options if options[n]]
    if not members:
        return {}
    needs, left = _span_needs(topology, books, intents, options, members)
    by_hops = sorted(members, key=lambda n: (options[n][0].primary.hops, -intents[n].bandwidth_gbps, n))
    by_size = sorted(members, key=lambda n: (-intents[n].bandwidth_gbps, n))
    tries = [_greedy(left, needs, by_hops), _greedy(left, needs, by_size)]
    program = _Program(intents, needs, left, members)
    relaxed = program.relax()
    if relaxed is None:
        return max(tries, key=lambda picks: _value(intents, picks))
    share, rank = dict.fromkeys(members, 0.0), {n: r for r, n in enumerate(by_hops)}
    for (n, _), x in relaxed.items():
        share[n] += x
    rounded = sorted(members, key=lambda n: (-round(share[n], 6), rank[n]))
    prefer = {n: sorted(range(len(options[n])), key=lambda j: -relaxed.get((n, j), 0.0)) for n in members}
    tries.append(_greedy(left, needs, rounded, prefer))
    best = max(tries, key=lambda picks: _value(intents, picks))
    if _value(intents, best) >= program.bound * (1 - GAP):
        return best  # within GAP of what any placement could admit: the solver would not help
    weigh = {(n, j) for (n, j), x in relaxed.items() if x > 1e-6}
    weigh |= {(n, j) for n in members for j in range(min(FASTEST, len(options[n])))}
    weigh |= {(n, j) for picks in tries for n, j in picks.items()}
    solved = program.solve(weigh, seconds)
    # What the solver calls feasible may over-book a link within its tolerance: kept
    # only where it fits as the ledgers count.
    tries.append(_greedy(left, needs, sorted(solved), {n: [j] for n, j in solved.items()}))
    return max(tries, key=lambda picks: _value(intents, picks))


def _value(intents: dict[int, Intent], picks: Picks) -> float:
    return sum(intents[n].bandwidth_gbps * (1 - TIE * j) for n, j in picks.items())


def _greedy(
    left: dict[SpanNeed, float],
    needs: dict[int, list[dict[SpanNeed, float]]],
    order: list[int],
    prefer: dict[int, list[int]] | None = None,
) -> Picks:
    """Each intent of `order` in turn on its first option (of `prefer[n]`, in that order;
    else of all, fastest first) that has the room `left`, less what those before took."""
    room = dict(left)
    picks: Picks = {}
    for n in order:
        for j in prefer[n] if prefer else range(len(needs[n])):
            need = needs[n][j]
            if all(room[key] >= gbps - EPS for key, gbps in need.items()):
                for key, gbps in need.items():
                    room[key] -= gbps
                picks[n] = j
                break
    return picks


def _span_needs(
    topology: Topology,
    books: Books,
    intents: dict[int, Intent],
    options: dict[int, list[Placement]],
    members: list[int],
) -> tuple[dict[int, list[dict[SpanNeed, float]]], dict[SpanNeed, float]]:
    """({n: [{(book, span): Gb/s} per option]}, {(book, span): Gb/s left}): what each option
    takes, as _needs but per span (an E-Line takes its rate both ways, so a span's room is
    its tighter direction's), read once for the greedy tries and the programs."""
    spans: dict[int, tuple[str, ...]] = {}  # id(path) -> its spans: kept paths are shared

    def spans_of(path: Path | None) -> tuple[str, ...]:
        if path is None:
            return ()
        found = spans.get(id(path))
        if found is None:
            found = spans[id(path)] = path.span_ids(topology)
        return found

    needs: dict[int, list[dict[SpanNeed, float]]] = {}
    left: dict[SpanNeed, float] = {}
    for n in members:
        rates = books.rates(intents[n])
        needs[n] = []
        for option in options[n]:
            need = {
                (book, span): gbps
                for span in spans_of(option.primary) + spans_of(option.backup)
                for book, gbps in rates
            }
            for key in need.keys() - left.keys():
                book, span = key
                left[key] = max(0.0, min(book.available_gbps(link) for link in topology.spans[span].links()))
            needs[n].append(need)
    return needs, left


def _needs(books: Books, intent: Intent, option: Placement) -> dict[Need, float]:
    """{(book, link): Gb/s} the option takes in each book, as admission reserves it
    (Books.rates: committed, and committed plus excess in the peak ledger, which has no
    headroom, so where others' excess fills it, it is the tighter one)."""
    need: dict[Need, float] = {}
    for link in links_of(option):
        for book, gbps in books.rates(intent):
            need[(book, link)] = need.get((book, link), 0.0) + gbps
    return need


def _left(key: Need, used: dict[Need, float]) -> float:
    """What a (book, link) has left, less what a placement being built has `used` of it."""
    book, link = key
    return book.available_gbps(link) - used.get(key, 0.0)


class _Program:
    """max sum of gain x over columns (intent n, option j), x in [0, 1]: at most one option
    per intent, and per link (and book) the Gb/s taken within what is `left`."""

    def __init__(
        self,
        intents: dict[int, Intent],
        needs: dict[int, list[dict[SpanNeed, float]]],
        left: dict[SpanNeed, float],
        members: list[int],
    ):
        import numpy as np  # only when a batch is placed: SciPy takes 0.3 s to load
        from scipy.sparse import csr_matrix

        self.columns = [(n, j) for n in members for j in range(len(needs[n]))]
        row_of: dict[int | SpanNeed, int] = {n: r for r, n in enumerate(members)}
        for key in left:
            row_of[key] = len(row_of)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for c, (n, j) in enumerate(self.columns):
            need = needs[n][j]
            rows.append(row_of[n])
            rows.extend(row_of[key] for key in need)
            cols.extend([c] * (len(need) + 1))
            vals.append(1.0)
            vals.extend(need.values())
        self.matrix = csr_matrix((vals, (rows, cols)), shape=(len(row_of), len(self.columns)))
        self.limits = np.array([1.0] * len(members) + list(left.values()))
        self.gain = np.array([-intents[n].bandwidth_gbps * (1 - TIE * j) for n, j in self.columns])
        self.bound = 0.0  # the relaxation's optimum, once relax() found it

    def relax(self) -> dict[tuple[int, int], float] | None:
        """{(n, j): x} of the linear relaxation's optimum, or None."""
        from scipy.optimize import linprog

        found = linprog(self.gain, A_ub=self.matrix, b_ub=self.limits, bounds=(0, 1), method='highs')
        if found.x is None:
            return None
        self.bound = -found.fun
        return {column: x for column, x in zip(self.columns, found.x) if x > 0}

    def solve(self, weigh: set[tuple[int, int]], seconds: float) -> Picks:
        """{n: j}: the integer program over the columns in `weigh`, best found in `seconds`."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        chosen = [c for c, column in enumerate(self.columns) if column in weigh]
        found = milp(
            self.gain[chosen],
            integrality=np.ones(len(chosen)),
            bounds=Bounds(0, 1),
            constraints=LinearConstraint(self.matrix[:, chosen], -np.inf, self.limits),
            options={'time_limit': seconds, 'mip_rel_gap': 1e-4},
        )
        if found.x is None:
            return {}
        return {self.columns[c][0]: self.columns[c][1] for c, x in zip(chosen, found.x) if x > 0.5}
