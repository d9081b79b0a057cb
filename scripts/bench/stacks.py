"""Where a py-spy profile's time went: sums collapsed stacks (`py-spy record --format raw`) by
function, inclusive (time in it and what it called) and by its own frames.

    .venv/bin/python scripts/bench/stacks.py PROFILE.txt [--top 30] [--match controller/]

Idle threads (waiting in a lock, a queue, select or the gRPC poller) are counted apart, so the
shares are of the time some thread was running Python or C called from it.
"""

import argparse
import re
import sys
from collections import Counter

IDLE = re.compile(
    r'\b(wait|_wait_once|acquire|select|poll|epoll|sleep|get|_next)\b '
    r'\((threading|queue|selectors|_channel|_server|time)\.py'
)


def frames(stack):
    """The frames of one collapsed stack, outermost first, as 'function (file:line)' -> 'function (file)'."""
    return [re.sub(r':\d+\)$', ')', f) for f in stack.split(';')]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('profile')
    parser.add_argument('--top', type=int, default=30)
    parser.add_argument('--match', default='', help='only functions whose file contains this')
    args = parser.parse_args()
    inclusive, own, idle, total = Counter(), Counter(), 0, 0
    for line in open(args.profile):
        stack, _, count = line.rstrip('\n').rpartition(' ')
        if not stack:
            continue
        n = int(count)
        fs = frames(stack)
        if IDLE.search(fs[-1]) or 'process_data_events' in fs[-1]:
            idle += n
            continue
        total += n
        for f in set(fs):
            inclusive[f] += n
        own[fs[-1]] += n
    print(f'{total} busy samples, {idle} idle ({args.profile})')
    for title, counts in (('inclusive', inclusive), ('own', own)):
        print(f'\n{title}:')
        shown = [(f, n) for f, n in counts.most_common() if args.match in f][: args.top]
        for f, n in shown:
            print(f'{100 * n / max(total, 1):5.1f}%  {f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
