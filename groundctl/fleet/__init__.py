"""Fleet orchestration: assign segments to drones, fly sorties, keep the search going.

Pure decisions live in `assign`, `progress`, `relay` and `preflight`; `config` reads the fleet
file; the asyncio orchestration that talks to `groundctl.link.Vehicle`s is in `orchestrator`.
"""
