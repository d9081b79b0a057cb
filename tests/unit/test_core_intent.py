"""controller.core.intent: the lifecycle allows exactly the documented transitions."""

import itertools

import pytest

from controller.core.intent import Intent, State, TransitionError

ALLOWED = {
    (State.ACCEPTED, State.COMPILING),
    (State.COMPILING, State.INSTALLING),
    (State.COMPILING, State.FAILED),
    (State.INSTALLING, State.INSTALLED),
    (State.INSTALLING, State.FAILED),
    (State.INSTALLING, State.COMPILING),
    (State.INSTALLED, State.COMPILING),
    (State.INSTALLED, State.INSTALLING),
    (State.INSTALLED, State.FAILED),
    (State.FAILED, State.COMPILING),
    (State.WITHDRAWING, State.WITHDRAWN),
} | {(s, State.WITHDRAWING) for s in State if s not in (State.WITHDRAWING, State.WITHDRAWN)}


def intent(state=State.ACCEPTED):
    return Intent('i-1', 'acme', 'phx1', 'iad1', 200.0, 25.0, state=state)


@pytest.mark.parametrize('before, after', list(itertools.product(State, State)))
def test_transitions(before, after):
    i = intent(before)
    if (before, after) in ALLOWED:
        event = i.move_to(after, 'because', now=5.0)
        assert (i.state, i.reason, i.updated_at) == (after, 'because', 5.0)
        assert (event.intent_id, event.tenant, event.state, event.at) == ('i-1', 'acme', after, 5.0)
        assert i.history == [event]
    else:
        with pytest.raises(TransitionError, match=f'{before.value} cannot become {after.value}'):
            i.move_to(after, 'because', now=5.0)
        assert (i.state, i.history) == (before, [])


def test_a_full_life_and_a_retry():
    i = intent()
    for state in ('COMPILING', 'FAILED', 'COMPILING', 'INSTALLING', 'INSTALLED', 'WITHDRAWING', 'WITHDRAWN'):
        i.move_to(state, f'to {state}', now=len(i.history))
    assert [e.state.value for e in i.history][:3] == ['COMPILING', 'FAILED', 'COMPILING']
    assert i.state is State.WITHDRAWN and not i.active


def test_active():
    assert intent(State.INSTALLED).active and intent(State.COMPILING).active
    assert not intent(State.FAILED).active
