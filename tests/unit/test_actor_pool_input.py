"""ActorPool's check on what the submitted function returns: forgetting `.remote` is named at
submit time, not as a puzzling error from a later `wait`."""

import pytest

from rayground.util import ActorPool


def test_a_function_that_returns_no_object_ref_is_rejected_at_submit():
    pool = ActorPool([object()])  # the actor is never called: the lambda ignores it
    with pytest.raises(TypeError, match=r"returned int\. \(Did you forget `\.remote`\?\)"):
        pool.submit(lambda actor, v: v * 2, 1)
    assert not pool.has_next()
    assert pool.has_free()  # the actor was not lost to the failed submission
