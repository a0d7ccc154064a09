#!/usr/bin/env python3
"""An OCPP 1.6J charge point built on the third-party `ocpp` package, for interop tests.

`ocpp` validates every CALL and CALLRESULT it sends or receives against the official OCPP 1.6 JSON
schemas, so a run that ends in `DONE` shows that a charger library we did not write accepts what our
CPMS sends. Driven by cpms/tests/interop_ocpp_py.rs.

Usage:
    python charger16.py --url ws://127.0.0.1:PORT/ocpp/STATION_ID --id-token TOKEN [--password PW]

Flow (any unexpected answer ends the run with a message on stderr and exit status 1):
  1. BootNotification (Accepted, interval > 0); StatusNotification Available for connectors 0 and 1;
     Heartbeat; Authorize(TOKEN) (Accepted).
  2. A local session on connector 1: Preparing, StartTransaction (meterStart 1000 Wh), Charging,
     MeterValues (2500 Wh, W, A on L1), StopTransaction (meterStop 4000 Wh, reason Local, one
     transactionData reading), Finishing, Available.
  3. Prints `READY` and waits for a RemoteStartTransaction.
  4. Accepts it and runs a second session with the remote idTag on the requested connector
     (default 1): StartTransaction (meterStart 4000 Wh), MeterValues (4600 Wh), StopTransaction
     (meterStop 5200 Wh, reason Local: the charger itself ends the session, no RemoteStop asked
     for it), Finishing, Available; then prints `DONE` and exits 0. `DONE` comes only after the
     final Available is answered, so the CSMS has recorded the end state when the test looks.

While connected it also answers GetConfiguration, ChangeConfiguration, Reset, TriggerMessage (and
then sends the triggered message), ClearCache, UnlockConnector, ChangeAvailability,
RemoteStopTransaction, SendLocalList, GetLocalListVersion, ReserveNow, CancelReservation,
UpdateFirmware and GetDiagnostics (all Accepted), so other tests can drive the same charger. It keeps
the charging profiles that SetChargingProfile installs (Accepted), removes them on
ClearChargingProfile (Accepted when one matched, else Unknown) and answers GetCompositeSchedule
from the installed profile with the highest stack level on the connector (Rejected when there is
none). Every frame is logged to stderr.

Exit status: 0 on DONE, 1 on an unexpected answer or the overall timeout, 2 when the websocket
cannot be opened.
"""

import asyncio
import json
import logging
import sys

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import MeterValue, SampledValue
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityStatus,
    CancelReservationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearCacheStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    GetCompositeScheduleStatus,
    Measurand,
    MessageTrigger,
    Phase,
    Reason,
    ReadingContext,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
    UpdateStatus,
)
from interop_common import UnexpectedAnswer, expect, main, now

VENDOR = "InteropPy"
MODEL = "ocpp-2.1.0-cp"
FIRMWARE = "interop-1"
CONNECTORS = 1

# Meter register readings (Wh) of the two sessions.
LOCAL_START_WH = 1000
LOCAL_SAMPLE_WH = 2500
LOCAL_STOP_WH = 4000
REMOTE_START_WH = 4000
REMOTE_SAMPLE_WH = 4600
REMOTE_STOP_WH = 5200


def reading(energy_wh: int, power_w: int, current_a: float) -> MeterValue:
    """One periodic sample: energy register, active power and the L1 current."""
    context = ReadingContext.sample_periodic
    return MeterValue(
        timestamp=now(),
        sampled_value=[
            SampledValue(
                value=str(energy_wh),
                context=context,
                measurand=Measurand.energy_active_import_register,
                unit=UnitOfMeasure.wh,
            ),
            SampledValue(
                value=str(power_w),
                context=context,
                measurand=Measurand.power_active_import,
                unit=UnitOfMeasure.w,
            ),
            SampledValue(
                value=f"{current_a:.1f}",
                context=context,
                measurand=Measurand.current_import,
                phase=Phase.l1,
                unit=UnitOfMeasure.a,
            ),
        ],
    )


def register(energy_wh: int, context: ReadingContext) -> MeterValue:
    """The energy register alone, e.g. for StopTransaction.transactionData."""
    return MeterValue(
        timestamp=now(),
        sampled_value=[
            SampledValue(
                value=str(energy_wh),
                context=context,
                measurand=Measurand.energy_active_import_register,
                unit=UnitOfMeasure.wh,
            )
        ],
    )


class InteropChargePoint(ChargePoint):
    """The charge point: the scripted flow plus handlers for CSMS-initiated calls."""

    def __init__(self, station_id, connection, id_token):
        super().__init__(station_id, connection, response_timeout=30)
        self.id_token = id_token
        self.status = {c: ChargePointStatus.available for c in range(CONNECTORS + 1)}
        self.meter_wh = 0
        self.configuration = {
            "HeartbeatInterval": ("300", False),
            "MeterValueSampleInterval": ("60", False),
            "NumberOfConnectors": (str(CONNECTORS), True),
            "AuthorizeRemoteTxRequests": ("false", False),
        }
        self.remote_started = False
        self.local_list_version = 0
        # Installed charging profiles by chargingProfileId: (connectorId, csChargingProfiles).
        self.charging_profiles = {}
        # Resolved by the RemoteStartTransaction follow-up once its session is over.
        self.remote_session = asyncio.get_running_loop().create_future()

    async def request(self, payload):
        """Sends a CALL; a CALLERROR or a schema-invalid answer is an UnexpectedAnswer."""
        action = type(payload).__name__
        try:
            return await self.call(payload, suppress=False)
        except OCPPError as error:
            raise UnexpectedAnswer(f"{action}: CSMS answered {error!r}") from error

    async def set_status(self, connector_id, status):
        self.status[connector_id] = status
        await self.request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=now(),
            )
        )

    async def run(self):
        """The whole scripted flow; returns once the remote session has ended."""
        boot = await self.request(
            call.BootNotification(
                charge_point_vendor=VENDOR,
                charge_point_model=MODEL,
                charge_point_serial_number="PY-0001",
                firmware_version=FIRMWARE,
            )
        )
        expect(
            boot.status == RegistrationStatus.accepted, "BootNotification must be Accepted", boot
        )
        expect(boot.interval > 0, "BootNotification interval must be > 0", boot)

        for connector_id in range(CONNECTORS + 1):
            await self.set_status(connector_id, ChargePointStatus.available)
        await self.request(call.Heartbeat())

        auth = await self.request(call.Authorize(id_tag=self.id_token))
        expect(
            auth.id_tag_info.get("status") == AuthorizationStatus.accepted,
            f"Authorize({self.id_token}) must be Accepted",
            auth,
        )

        await self.charge(
            connector_id=1,
            id_tag=self.id_token,
            start_wh=LOCAL_START_WH,
            sample_wh=LOCAL_SAMPLE_WH,
            stop_wh=LOCAL_STOP_WH,
            with_transaction_data=True,
        )

        print("READY", flush=True)
        await self.remote_session

    async def charge(
        self, connector_id, id_tag, start_wh, sample_wh, stop_wh, with_transaction_data=False
    ):
        """One session from Preparing to Available; optionally reports the final register reading
        in StopTransaction.transactionData."""
        await self.set_status(connector_id, ChargePointStatus.preparing)
        self.meter_wh = start_wh
        start = await self.request(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=start_wh,
                timestamp=now(),
            )
        )
        expect(
            start.id_tag_info.get("status") == AuthorizationStatus.accepted,
            f"StartTransaction({id_tag}) must be Accepted",
            start,
        )
        transaction_id = start.transaction_id
        await self.set_status(connector_id, ChargePointStatus.charging)

        self.meter_wh = sample_wh
        await self.request(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[reading(sample_wh, power_w=7200, current_a=31.3)],
            )
        )

        self.meter_wh = stop_wh
        stop = await self.request(
            call.StopTransaction(
                transaction_id=transaction_id,
                meter_stop=stop_wh,
                timestamp=now(),
                reason=Reason.local,
                id_tag=id_tag,
                transaction_data=(
                    [register(stop_wh, ReadingContext.transaction_end)]
                    if with_transaction_data
                    else None
                ),
            )
        )
        # OCPP 1.6 §6.46: idTagInfo is optional in StopTransaction.conf; when present it must not
        # refuse a token the CSMS has just accepted.
        expect(
            stop.id_tag_info is None
            or stop.id_tag_info.get("status") == AuthorizationStatus.accepted,
            "StopTransaction idTagInfo, when present, must be Accepted",
            stop,
        )
        await self.set_status(connector_id, ChargePointStatus.finishing)
        await self.set_status(connector_id, ChargePointStatus.available)

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag, connector_id=None, **kwargs):
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(self, id_tag, connector_id=None, **kwargs):
        # ocpp runs this as a detached task: its outcome is handed to run() through the future.
        if self.remote_started:
            return
        self.remote_started = True
        try:
            await self.charge(
                connector_id=connector_id or 1,
                id_tag=id_tag,
                start_wh=REMOTE_START_WH,
                sample_wh=REMOTE_SAMPLE_WH,
                stop_wh=REMOTE_STOP_WH,
            )
        except Exception as error:  # noqa: BLE001 - any failure must reach run()
            if not self.remote_session.done():
                self.remote_session.set_exception(error)
        else:
            if not self.remote_session.done():
                self.remote_session.set_result(None)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id, **kwargs):
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **kwargs):
        wanted = key if key else list(self.configuration)
        known = [k for k in wanted if k in self.configuration]
        unknown = [k for k in wanted if k not in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": self.configuration[k][1], "value": self.configuration[k][0]}
                for k in known
            ],
            unknown_key=unknown or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **kwargs):
        self.configuration[key] = (value, False)
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.reset)
    def on_reset(self, type, **kwargs):
        # Accepted without rebooting: the scripted flow goes on.
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.clear_cache)
    def on_clear_cache(self, **kwargs):
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id, **kwargs):
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **kwargs):
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, **kwargs):
        # ocpp has checked the request against SendLocalList.json before this runs.
        self.local_list_version = list_version
        return call_result.SendLocalList(status=UpdateStatus.accepted)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs):
        return call_result.GetLocalListVersion(list_version=self.local_list_version)

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, **kwargs):
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id, **kwargs):
        return call_result.CancelReservation(status=CancelReservationStatus.accepted)

    @on(Action.update_firmware)
    def on_update_firmware(self, location, retrieve_date, **kwargs):
        return call_result.UpdateFirmware()

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location, **kwargs):
        return call_result.GetDiagnostics(file_name="diagnostics.zip")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **kwargs):
        # ocpp has checked the request against SetChargingProfile.json before this runs, reading
        # its numbers as Decimal; it cannot serialise those back when it checks our
        # GetCompositeSchedule answer, so the profile is kept with plain JSON numbers.
        profile = json.loads(json.dumps(cs_charging_profiles, default=float))
        # OCPP 1.6 §5.16: a profile with the id of an installed one replaces it.
        self.charging_profiles[profile["charging_profile_id"]] = (connector_id, profile)
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id=None,
        connector_id=None,
        charging_profile_purpose=None,
        stack_level=None,
        **kwargs,
    ):
        # OCPP 1.6 §5.5: an id alone selects; otherwise every criterion given narrows the match.
        def matches(profile_id, installed):
            connector, profile = installed
            if id is not None:
                return profile_id == id
            return (
                (connector_id is None or connector == connector_id)
                and (
                    charging_profile_purpose is None
                    or profile["charging_profile_purpose"] == charging_profile_purpose
                )
                and (stack_level is None or profile["stack_level"] == stack_level)
            )

        cleared = [k for k, v in self.charging_profiles.items() if matches(k, v)]
        for profile_id in cleared:
            del self.charging_profiles[profile_id]
        return call_result.ClearChargingProfile(
            status=(
                ClearChargingProfileStatus.accepted
                if cleared
                else ClearChargingProfileStatus.unknown
            )
        )

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id, duration, charging_rate_unit=None, **kwargs):
        # A deliberately small composite: the top-stack profile installed on this connector, cut to
        # the requested duration, starting now. Enough for the CSMS to parse a real answer.
        installed = [p for c, p in self.charging_profiles.values() if c == connector_id]
        if not installed:
            return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.rejected)
        profile = max(installed, key=lambda p: p["stack_level"])
        schedule = profile["charging_schedule"]
        periods = [p for p in schedule["charging_schedule_period"] if p["start_period"] < duration]
        start = now()
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted,
            connector_id=connector_id,
            schedule_start=start,
            charging_schedule={
                "duration": duration,
                "start_schedule": start,
                "charging_rate_unit": schedule["charging_rate_unit"],
                "charging_schedule_period": periods,
            },
        )

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, connector_id=None, **kwargs):
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message, connector_id=None, **kwargs):
        # OCPP 1.6 §5.17: the triggered message follows the TriggerMessage.conf.
        try:
            await self.send_triggered(requested_message, connector_id)
        except Exception:  # noqa: BLE001 - a detached task; log, do not lose it
            logging.getLogger("charger16").exception("triggered %s failed", requested_message)

    async def send_triggered(self, requested_message, connector_id):
        if requested_message == MessageTrigger.boot_notification:
            await self.request(
                call.BootNotification(
                    charge_point_vendor=VENDOR,
                    charge_point_model=MODEL,
                    charge_point_serial_number="PY-0001",
                    firmware_version=FIRMWARE,
                )
            )
        elif requested_message == MessageTrigger.heartbeat:
            await self.request(call.Heartbeat())
        elif requested_message == MessageTrigger.status_notification:
            targets = [connector_id] if connector_id is not None else list(self.status)
            for c in targets:
                await self.set_status(c, self.status.get(c, ChargePointStatus.available))
        elif requested_message == MessageTrigger.meter_values:
            await self.request(
                call.MeterValues(
                    connector_id=connector_id if connector_id is not None else 0,
                    meter_value=[register(self.meter_wh, ReadingContext.trigger)],
                )
            )
        elif requested_message == MessageTrigger.diagnostics_status_notification:
            await self.request(
                call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle)
            )
        elif requested_message == MessageTrigger.firmware_status_notification:
            await self.request(call.FirmwareStatusNotification(status=FirmwareStatus.idle))


if __name__ == "__main__":
    sys.exit(main("charger16", __doc__.splitlines()[0], "ocpp1.6", InteropChargePoint))
