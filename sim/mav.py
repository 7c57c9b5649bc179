"""The MAVLink dialect the simulator speaks, and MAV_RESULT shorthands."""

from __future__ import annotations

from pymavlink.dialects.v20 import common as mavlink2

from sim import mavext

mavext.install(mavlink2)
M = mavlink2
ACCEPTED = M.MAV_RESULT_ACCEPTED
DENIED = M.MAV_RESULT_DENIED
UNSUPPORTED = M.MAV_RESULT_UNSUPPORTED
FAILED = M.MAV_RESULT_FAILED
TEMP_REJECTED = M.MAV_RESULT_TEMPORARILY_REJECTED
