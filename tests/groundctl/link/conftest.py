import sys
from pathlib import Path

# The scripted MAVLink peer (link_peer.py) is imported by the tests in this folder.
sys.path.insert(0, str(Path(__file__).parent))
