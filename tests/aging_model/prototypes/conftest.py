from dataclasses import replace

import pytest

from aging_model.prototypes.aging import OLDER_STRENGTH, YOUNGER_STRENGTH, PrototypeAger


@pytest.fixture(scope="module")
def still_ager() -> PrototypeAger:
    """The shipped prototypes with the change of shape held, so what is painted on the face stays in place and each
    result lies on the face's own landmarks."""
    ager = PrototypeAger.load()
    return PrototypeAger(
        ager.prototypes,
        older=replace(OLDER_STRENGTH, shape=0.0),
        younger=replace(YOUNGER_STRENGTH, shape=0.0),
    )
