"""Fleet orchestration: assign segments to drones, fly sorties, keep the search going.

Pure decisions: `assign` (segments and lost lanes to drones, transit altitudes), `progress`
(swept lanes from mission progress), `relay` (overwatch relief schedule), `preflight`
(go/no-go). `config` reads the fleet file; `sortie` turns the plan into mission items and a
geofence; `journal` keeps commands, events and sortie state in the operation store.
`orchestrator` (with `overwatch`) is the asyncio part that flies `groundctl.link.Vehicle`s;
`view` draws the live table; `simfleet` starts simulated drones (and their simulated thermal
cameras) for `groundctl fly --sim`. `thermal_live` reads every drone's camera stream through
one thermal pipeline into the operation database; `live_ops` runs it and dispatch beside
the orchestrator.
"""
