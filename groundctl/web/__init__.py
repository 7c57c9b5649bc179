"""The coordinator's web map: `groundctl serve`.

A FastAPI app (`app.create_app`) served by uvicorn (`server.serve`). Everything it shows comes
from the operation database (`groundctl.store`), read by `queries` and pushed to every open
browser by `state.Watcher` through `hub.Hub` (a websocket per browser): a `groundctl fly` in
another process shows up on the map, and a browser that reconnects catches up from the
database. A flight started from the page runs in this process (`flying`, a thin wrapper of
what `groundctl fly` runs), which also gives the page each drone's state as it leaves the
link (`live`) and its thermal camera's frames annotated with the pipeline's detections
(`thermal_view`). Planning goes through `planning` (the planner `groundctl plan` uses),
acknowledgements through `acks` (the store, then MQTT like `groundctl dispatch listen --ack`),
ground teams through `teams`, map backgrounds through `maps`. `auth` keeps a server bound
beyond loopback behind a token.
"""
