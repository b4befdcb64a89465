"""Guards may refuse and run first; listeners only observe (dihya.generation.gates)."""

from __future__ import annotations

import inspect

from dihya.generation import gates


def test_the_guards_are_consent_and_quota_and_run_before_every_listener():
    kinds = [(type(g).__name__, isinstance(g, gates.Guard)) for g in gates.active()]

    assert [name for name, guard in kinds if guard] == ["ConsentGate", "QuotaGate"]
    assert [guard for _, guard in kinds] == sorted((guard for _, guard in kinds), reverse=True)
    assert all(isinstance(g, gates.Guard | gates.Listener) for g in gates.active())


def test_no_listener_knows_how_to_refuse():
    """A listener's module makes no Refusal (it may read one it is told of): what it does
    cannot stop a call."""
    for gate in gates.active():
        if isinstance(gate, gates.Listener):
            source = inspect.getsource(inspect.getmodule(type(gate)))
            assert "Refusal(" not in source and "raise Refusal" not in source, gate
