import pytest
from mission_testkit import Draw


@pytest.fixture
def draw() -> Draw:
    return Draw()
