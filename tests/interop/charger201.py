#!/usr/bin/env python3
"""An OCPP 2.0.1 charging station built on the third-party `ocpp` package, for interop tests.

`ocpp` validates every CALL and CALLRESULT it sends or receives against the official OCPP 2.0.1
JSON schemas, so a run that ends in `DONE` shows that a station library we did not write accepts
what our CSMS sends. Driven by cpms/tests/interop_ocpp201_py.rs.

Usage:
    python charger201.py --url ws://127.0.0.1:PORT/ocpp/STATION_ID --id-token TOKEN [--password PW]

Flow (any unexpected answer ends the run with a message on stderr and exit status 1):
  1. BootNotification (Accepted, interval > 0); StatusNotification Available for EVSE 1 connector
     1; Heartbeat; Authorize(TOKEN) (Accepted).
  2. A local session on EVSE 1: Occupied, TransactionEvent Started (seqNo 0, 1000 Wh), Updated
     (2500 Wh, W, A on L1), Ended (4000 Wh, stoppedReason Local), Available.
  3. Prints `READY` and waits for a RequestStartTransaction and a GetVariables.
  4. Accepts the start and runs a second session with the remote token and its remoteStartId:
     Started (4000 Wh), Updated (4600 Wh), Ended (5200 Wh), Available. Answers GetVariables from
     its small device model. Prints `DONE` and exits 0 once both happened.

While connected it also answers RequestStopTransaction, SetVariables, GetBaseReport, Reset,
ChangeAvailability, UnlockConnector, TriggerMessage, ClearCache, SendLocalList, GetLocalListVersion,
ReserveNow, CancelReservation, UpdateFirmware and GetLog (all Accepted). It keeps the charging
profiles that SetChargingProfile installs (Accepted), removes them on ClearChargingProfile (Accepted
when one matched, else Unknown) and answers GetCompositeSchedule from the installed profile with the
highest stack level on the EVSE (Rejected when there is none). Every frame is logged to stderr.

Exit status: 0 on DONE, 1 on an unexpected answer or the overall timeout, 2 when the websocket
cannot be opened.
"""

import asyncio
import sys

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    CancelReservationStatusEnumType,
    ChangeAvailabilityStatusEnumType,
    ChargingProfileStatusEnumType,
    ClearCacheStatusEnumType,
    ClearChargingProfileStatusEnumType,
    ConnectorStatusEnumType,
    GenericDeviceModelStatusEnumType,
    GenericStatusEnumType,
    GetVariableStatusEnumType,
    LogStatusEnumType,
    RegistrationStatusEnumType,
    RequestStartStopStatusEnumType,
    ReserveNowStatusEnumType,
    ResetStatusEnumType,
    SendLocalListStatusEnumType,
    SetVariableStatusEnumType,
    TriggerMessageStatusEnumType,
    UnlockStatusEnumType,
    UpdateFirmwareStatusEnumType,
)
from interop_common import UnexpectedAnswer, expect, main, now

VENDOR = "InteropPy201"
MODEL = "ocpp-2.1.0-cs"
FIRMWARE = "interop-201"
EVSE_ID = 1

# Meter register readings (Wh) of the two sessions.
LOCAL_START_WH = 1000
LOCAL_SAMPLE_WH = 2500
LOCAL_STOP_WH = 4000
REMOTE_START_WH = 4000
REMOTE_SAMPLE_WH = 4600
REMOTE_STOP_WH = 5200


def register(energy_wh: int, context: str) -> dict:
    """The energy register alone."""
    return {
        "timestamp": now(),
        "sampled_value": [
            {
                "value": energy_wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        ],
    }


def reading(energy_wh: int, power_w: int, current_a: float) -> dict:
    """One periodic sample: energy register, active power and the L1 current."""
    context = "Sample.Periodic"
    sample = register(energy_wh, context)
    sample["sampled_value"] += [
        {
            "value": power_w,
            "context": context,
            "measurand": "Power.Active.Import",
            "unit_of_measure": {"unit": "W"},
        },
        {
            "value": current_a,
            "context": context,
            "measurand": "Current.Import",
            "phase": "L1",
            "unit_of_measure": {"unit": "A"},
        },
    ]
    return sample


class InteropChargingStation(ChargePoint):
    """The station: the scripted flow plus handlers for CSMS-initiated calls."""

    def __init__(self, station_id, connection, id_token):
        super().__init__(station_id, connection, response_timeout=30)
        self.id_token = id_token
        self.seq_no = 0
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): "300",
            ("SampledDataCtrlr", "TxUpdatedInterval"): "60",
        }
        self.remote_started = False
        self.local_list_version = 0
        # Installed charging profiles by id: (evseId, chargingProfile).
        self.charging_profiles = {}
        # Resolved once the remote session is over and once GetVariables was answered.
        self.remote_session = asyncio.get_running_loop().create_future()
        self.variables_read = asyncio.get_running_loop().create_future()

    async def request(self, payload):
        """Sends a CALL; a CALLERROR or a schema-invalid answer is an UnexpectedAnswer."""
        action = type(payload).__name__
        try:
            return await self.call(payload, suppress=False)
        except OCPPError as error:
            raise UnexpectedAnswer(f"{action}: CSMS answered {error!r}") from error

    async def set_status(self, status):
        await self.request(
            call.StatusNotification(
                timestamp=now(), connector_status=status, evse_id=EVSE_ID, connector_id=1
            )
        )

    async def event(self, event_type, trigger, transaction_id, meter_value, **more):
        """One TransactionEvent with the next seqNo."""
        info = {"transaction_id": transaction_id}
        info.update(more.pop("info", {}))
        answer = await self.request(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=now(),
                trigger_reason=trigger,
                seq_no=self.seq_no,
                transaction_info=info,
                meter_value=[meter_value],
                **more,
            )
        )
        self.seq_no += 1
        return answer

    async def run(self):
        """The whole scripted flow; returns once the remote session and GetVariables are done."""
        boot = await self.request(
            call.BootNotification(
                charging_station={
                    "vendor_name": VENDOR,
                    "model": MODEL,
                    "serial_number": "PY-201",
                    "firmware_version": FIRMWARE,
                },
                reason="PowerUp",
            )
        )
        expect(
            boot.status == RegistrationStatusEnumType.accepted,
            "BootNotification must be Accepted",
            boot,
        )
        expect(boot.interval > 0, "BootNotification interval must be > 0", boot)
        await self.set_status(ConnectorStatusEnumType.available)
        await self.request(call.Heartbeat())
        auth = await self.request(
            call.Authorize(id_token={"id_token": self.id_token, "type": "ISO14443"})
        )
        expect(
            auth.id_token_info["status"] == AuthorizationStatusEnumType.accepted,
            f"Authorize({self.id_token}) must be Accepted",
            auth,
        )

        await self.charge(
            "LOCAL-1",
            {"id_token": self.id_token, "type": "ISO14443"},
            LOCAL_START_WH,
            LOCAL_SAMPLE_WH,
            LOCAL_STOP_WH,
            start_trigger="Authorized",
        )
        print("READY", flush=True)
        await self.remote_session
        await self.variables_read

    async def charge(self, transaction_id, id_token, start_wh, sample_wh, stop_wh, **options):
        """One session from Occupied to Available."""
        await self.set_status(ConnectorStatusEnumType.occupied)
        info = {"charging_state": "Charging"}
        if options.get("remote_start_id") is not None:
            info["remote_start_id"] = options["remote_start_id"]
        started = await self.event(
            "Started",
            options.get("start_trigger", "RemoteStart"),
            transaction_id,
            register(start_wh, "Transaction.Begin"),
            id_token=id_token,
            evse={"id": EVSE_ID, "connector_id": 1},
            info=info,
        )
        expect(
            started.id_token_info is not None
            and started.id_token_info["status"] == AuthorizationStatusEnumType.accepted,
            "TransactionEvent Started must answer an Accepted idTokenInfo",
            started,
        )
        await self.event(
            "Updated",
            "MeterValuePeriodic",
            transaction_id,
            reading(sample_wh, power_w=7200, current_a=31.3),
        )
        await self.event(
            "Ended",
            "StopAuthorized",
            transaction_id,
            register(stop_wh, "Transaction.End"),
            info={"stopped_reason": "Local"},
        )
        await self.set_status(ConnectorStatusEnumType.available)

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token, remote_start_id, evse_id=None, **kwargs):
        return call_result.RequestStartTransaction(status=RequestStartStopStatusEnumType.accepted)

    @after(Action.request_start_transaction)
    async def after_request_start_transaction(
        self, id_token, remote_start_id, evse_id=None, **kwargs
    ):
        # ocpp runs this as a detached task: its outcome is handed to run() through the future.
        if self.remote_started:
            return
        self.remote_started = True
        try:
            await self.charge(
                "REMOTE-1",
                id_token,
                REMOTE_START_WH,
                REMOTE_SAMPLE_WH,
                REMOTE_STOP_WH,
                remote_start_id=remote_start_id,
            )
        except Exception as error:  # noqa: BLE001 - any failure must reach run()
            if not self.remote_session.done():
                self.remote_session.set_exception(error)
        else:
            if not self.remote_session.done():
                self.remote_session.set_result(None)

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id, **kwargs):
        return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data, **kwargs):
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            result = {"component": item["component"], "variable": item["variable"]}
            if key in self.variables:
                result.update(
                    attribute_status=GetVariableStatusEnumType.accepted,
                    attribute_value=self.variables[key],
                )
            else:
                result.update(attribute_status=GetVariableStatusEnumType.unknown_variable)
            results.append(result)
        if not self.variables_read.done():
            self.variables_read.set_result(None)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data, **kwargs):
        results = []
        for item in set_variable_data:
            self.variables[(item["component"]["name"], item["variable"]["name"])] = item[
                "attribute_value"
            ]
            results.append(
                {
                    "attribute_status": SetVariableStatusEnumType.accepted,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id, report_base, **kwargs):
        return call_result.GetBaseReport(status=GenericDeviceModelStatusEnumType.accepted)

    @on(Action.reset)
    def on_reset(self, type, **kwargs):
        return call_result.Reset(status=ResetStatusEnumType.accepted)

    @on(Action.change_availability)
    def on_change_availability(self, operational_status, **kwargs):
        return call_result.ChangeAvailability(status=ChangeAvailabilityStatusEnumType.accepted)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id, connector_id, **kwargs):
        return call_result.UnlockConnector(status=UnlockStatusEnumType.unlocked)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, **kwargs):
        return call_result.TriggerMessage(status=TriggerMessageStatusEnumType.accepted)

    @on(Action.clear_cache)
    def on_clear_cache(self, **kwargs):
        return call_result.ClearCache(status=ClearCacheStatusEnumType.accepted)

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number, update_type, **kwargs):
        # ocpp has checked the request against SendLocalListRequest.json before this runs.
        self.local_list_version = version_number
        return call_result.SendLocalList(status=SendLocalListStatusEnumType.accepted)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs):
        return call_result.GetLocalListVersion(version_number=self.local_list_version)

    @on(Action.reserve_now)
    def on_reserve_now(self, id, expiry_date_time, id_token, **kwargs):
        return call_result.ReserveNow(status=ReserveNowStatusEnumType.accepted)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id, **kwargs):
        return call_result.CancelReservation(status=CancelReservationStatusEnumType.accepted)

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id, firmware, **kwargs):
        return call_result.UpdateFirmware(status=UpdateFirmwareStatusEnumType.accepted)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id, charging_profile, **kwargs):
        # ocpp has checked the request against SetChargingProfileRequest.json before this runs.
        # OCPP 2.0.1 K01: a profile with the id of an installed one replaces it.
        self.charging_profiles[charging_profile["id"]] = (evse_id, charging_profile)
        return call_result.SetChargingProfile(status=ChargingProfileStatusEnumType.accepted)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, charging_profile_id=None, charging_profile_criteria=None, **kwargs
    ):
        # 2.0.1 K10: by id, or by the criteria given; every criterion narrows the match.
        criteria = charging_profile_criteria or {}

        def matches(profile_id, installed):
            evse, profile = installed
            if charging_profile_id is not None:
                return profile_id == charging_profile_id
            return all(
                value is None or actual == value
                for actual, value in [
                    (evse, criteria.get("evse_id")),
                    (profile["charging_profile_purpose"], criteria.get("charging_profile_purpose")),
                    (profile["stack_level"], criteria.get("stack_level")),
                ]
            )

        cleared = [k for k, v in self.charging_profiles.items() if matches(k, v)]
        for profile_id in cleared:
            del self.charging_profiles[profile_id]
        return call_result.ClearChargingProfile(
            status=(
                ClearChargingProfileStatusEnumType.accepted
                if cleared
                else ClearChargingProfileStatusEnumType.unknown
            )
        )

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration, evse_id, charging_rate_unit=None, **kwargs):
        # A deliberately small composite: the first schedule of the top-stack profile installed on
        # this EVSE, cut to the requested duration, starting now. Enough for the CSMS to parse a
        # real answer.
        installed = [p for e, p in self.charging_profiles.values() if e == evse_id]
        if not installed:
            return call_result.GetCompositeSchedule(status=GenericStatusEnumType.rejected)
        profile = max(installed, key=lambda p: p["stack_level"])
        schedule = profile["charging_schedule"][0]
        periods = [p for p in schedule["charging_schedule_period"] if p["start_period"] < duration]
        return call_result.GetCompositeSchedule(
            status=GenericStatusEnumType.accepted,
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": now(),
                "charging_rate_unit": schedule["charging_rate_unit"],
                "charging_schedule_period": periods,
            },
        )

    @on(Action.get_log)
    def on_get_log(self, log_type, request_id, log, **kwargs):
        return call_result.GetLog(status=LogStatusEnumType.accepted, filename="diagnostics.zip")


if __name__ == "__main__":
    sys.exit(main("charger201", __doc__.splitlines()[0], "ocpp2.0.1", InteropChargingStation))
