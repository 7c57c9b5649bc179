"""Failsafes of a simulated vehicle: battery, lost ground station, GPS, geofence."""

from __future__ import annotations

from sim.mav import M
from sim.modes import Mode


class FailsafeMixin:
    """Checked every physics step of `SimVehicle` (see `sim.flight`)."""

    # --- failsafes
    def _failsafes(self, now: float) -> None:
        if self.landed:
            return
        self._battery_failsafe()
        self._gcs_failsafe()
        if self.gps_lost and self.failsafe != "gps" and not self.landed:
            self.failsafe = "gps"
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Failsafe: GPS lost, landing"
                if self.flavour == "px4"
                else "EKF Failsafe: changed to LAND Mode",
            )
            self.set_mode(Mode.LAND, quiet=True)
        if self.fence is not None and (self.flavour == "px4" or self.params["FENCE_ENABLE"] >= 1):
            self._fence_check()

    def _battery_failsafe(self) -> None:
        px4 = self.flavour == "px4"
        p = self.params
        if px4:
            soc = self.battery.soc
            level = (
                3
                if soc <= p["BAT_EMERGEN_THR"]
                else 2
                if soc <= p["BAT_CRIT_THR"]
                else 1
                if soc <= p["BAT_LOW_THR"]
                else 0
            )
        else:
            v = self.battery.resting_v
            level = 2 if v <= p["BATT_CRT_VOLT"] else 1 if v <= p["BATT_LOW_VOLT"] else 0
        if level <= self.battery_level:
            return
        self.battery_level = level
        pct = self.battery_pct
        if px4:
            act = int(p["COM_LOW_BAT_ACT"])
            if level == 1:
                self.statustext(
                    M.MAV_SEVERITY_WARNING, f"Low battery level! Return advised ({pct:.0f}%)"
                )
            elif level == 2:
                if act in (1, 3):
                    self._failsafe_action(
                        "battery", Mode.RTL, f"Critical battery level! Executing RTL ({pct:.0f}%)"
                    )
                elif act == 2:
                    self._failsafe_action(
                        "battery", Mode.LAND, f"Critical battery level! Landing ({pct:.0f}%)"
                    )
                else:
                    self.statustext(
                        M.MAV_SEVERITY_CRITICAL, f"Critical battery level! ({pct:.0f}%)"
                    )
            elif level == 3:
                if act in (2, 3):
                    self._failsafe_action(
                        "battery", Mode.LAND, f"Emergency battery level! Landing ({pct:.0f}%)"
                    )
                else:
                    self.statustext(
                        M.MAV_SEVERITY_EMERGENCY, f"Emergency battery level! ({pct:.0f}%)"
                    )
        else:
            act = int(p["BATT_FS_LOW_ACT"] if level == 1 else p["BATT_FS_CRT_ACT"])
            word = "low" if level == 1 else "critical"
            text = f"Battery 1 is {word} {self.battery.resting_v:.2f}V used {self.battery.consumed_mah:.0f} mAh"
            if act in (2, 3, 4):
                self._failsafe_action("battery", Mode.RTL, text)
            elif act == 1:
                self._failsafe_action("battery", Mode.LAND, text)
            else:
                self.statustext(M.MAV_SEVERITY_CRITICAL, text)

    def _gcs_failsafe(self) -> None:
        if not self._gcs_seen or self.gcs_lost:
            return
        px4 = self.flavour == "px4"
        timeout = self.params["COM_DL_LOSS_T"] if px4 else self.params["FS_GCS_TIMEOUT"]
        if not self.clock.elapsed(self._gcs_last_sim, self._gcs_last_wall, timeout):
            return
        self.gcs_lost = True
        if px4:
            act = int(self.params["NAV_DLL_ACT"])
            mode = {1: Mode.HOLD, 2: Mode.RTL, 3: Mode.LAND}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Connection to ground station lost")
                return
            self._failsafe_action("gcs", mode, "Connection to ground station lost")
        else:
            act = int(self.params["FS_GCS_ENABLE"])
            if act == 0 or (act == 2 and self.mode == Mode.MISSION):
                self.statustext(M.MAV_SEVERITY_WARNING, "GCS Failsafe")
                return
            self._failsafe_action("gcs", Mode.LAND if act == 5 else Mode.RTL, "GCS Failsafe")

    def _fence_check(self) -> None:
        assert self.fence is not None
        b = self.body
        breached = self.fence.breached(b.x, b.y)
        if not breached:
            self.fence_breached = False
            return
        if self.fence_breached or self.mode in (Mode.RTL, Mode.LAND):
            return
        self.fence_breached = True
        if self.flavour == "px4":
            act = int(self.params["GF_ACTION"])
            mode = {2: Mode.HOLD, 3: Mode.RTL, 5: Mode.LAND}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Geofence breached")
                return
            self._failsafe_action("fence", mode, "Geofence breached")
        else:
            act = int(self.params["FENCE_ACTION"])
            mode = {1: Mode.RTL, 2: Mode.LAND, 4: Mode.BRAKE}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Fence Breach")
                return
            self._failsafe_action("fence", mode, "Fence Breach")

    def _failsafe_action(self, why: str, mode: Mode, text: str) -> None:
        self.failsafe = why
        self.statustext(M.MAV_SEVERITY_CRITICAL, text)
        if mode == Mode.RTL and self.home is None:
            mode = Mode.LAND
        if self.mode == Mode.LAND and mode == Mode.RTL:
            return
        self.set_mode(mode, quiet=True)
        if mode == Mode.HOLD:
            b = self.body
            self.target = (b.x, b.y, b.alt_amsl)
