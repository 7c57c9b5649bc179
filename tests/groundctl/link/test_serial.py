"""The serial transport over a real pseudo-terminal: a pymavlink peer writes to the master
side, the link opens the slave device as `serial:///dev/pts/N:57600`."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from groundctl.errors import LinkError
from groundctl.link.commands import send_command
from groundctl.link.link import MavLink

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2

pytestmark = pytest.mark.timeout(60)


async def test_vehicle_over_a_serial_port() -> None:
    master, slave = os.openpty()
    device = os.ttyname(slave)
    os.set_blocking(master, False)
    mav = m2.MAVLink(None, srcSystem=7, srcComponent=1)
    parser = m2.MAVLink(None)
    got: list[object] = []
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(master, 4096)
        except OSError:
            return
        for m in parser.parse_buffer(data) or []:
            got.append(m)
            if m.get_type() == "COMMAND_LONG" and m.command == m2.MAV_CMD_DO_SET_MODE:
                os.write(
                    master, m2.MAVLink_command_ack_message(m.command, 0, 0, 0, 255, 190).pack(mav)
                )

    loop.add_reader(master, readable)

    async def heartbeats() -> None:
        while True:
            os.write(
                master, m2.MAVLink_heartbeat_message(2, m2.MAV_AUTOPILOT_PX4, 1, 0, 3, 3).pack(mav)
            )
            await asyncio.sleep(0.2)

    hb = asyncio.create_task(heartbeats())
    link = await MavLink.open(f"serial://{device}:57600")
    try:
        rec = await link.wait_vehicle(7, 10)
        assert rec.autopilot == "px4"
        await send_command(link, 7, 1, m2.MAV_CMD_DO_SET_MODE, [1, 4, 3])
        t0 = time.monotonic()
        while not any(m.get_type() == "HEARTBEAT" and m.get_srcSystem() == 255 for m in got):
            assert time.monotonic() - t0 < 5, "no GCS heartbeat on the serial port"
            await asyncio.sleep(0.1)
    finally:
        hb.cancel()
        loop.remove_reader(master)
        await link.close()
        os.close(master)
        os.close(slave)


async def test_missing_serial_device_is_a_clear_error() -> None:
    with pytest.raises(LinkError, match="cannot open serial port"):
        await MavLink.open("serial:///dev/does-not-exist:57600")
    with pytest.raises(LinkError, match="baud rate 12345"):
        await MavLink.open("serial:///dev/null:12345")
