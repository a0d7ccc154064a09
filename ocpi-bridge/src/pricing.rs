//! Pricing a charging session by an OCPI 2.2.1 tariff: the CDR's charging periods, totals and
//! costs, from what the meter said and when (OCPI 2.2.1 Tariffs: tariff element and price
//! component rules; CDRs: ChargingPeriod and CdrDimension).
//!
//! Pure: no storage, no clock. The core gathers the session's meter readings and the tariff; the
//! CDR is built from the answer.
//!
//! How the spec is read where it leaves room (each rule is tested below; the totals are checked
//! against ocpi-tariffs in `tests/pricing_oracle.rs`, which lists where it reads differently):
//! - Periods are cut wherever an element's restrictions may start or stop holding: local times
//!   of day and midnights in the location's time zone (DST gaps and overlaps included), the
//!   moments the consumed energy reaches a `min_kwh`/`max_kwh` (to the next whole second), the
//!   `min_duration`/`max_duration` moments, every meter reading (charging turns into parking
//!   when the register stops rising; power and current change). Slices in which the same
//!   components apply are merged back. Each period is judged at its start.
//! - Volumes carry OCPI's 4 decimals, taken as differences of rounded running totals so they add
//!   up to the totals exactly; costs are computed from those volumes, so the CDR re-prices to its
//!   own totals. Each cost total is rounded to 4 decimals once, half to even.
//! - VAT is per component. A component without `vat` has no VAT, and a total that includes such
//!   a part states no `incl_vat` (the spec's "first hour free" example).
//! - `step_size`: see `step_extra`. FLAT: once per session, from the first period with one.
//! - min_price/max_price: see `clamp`. A tariff not valid at the session's start
//!   (`start_date_time`/`end_date_time`) is refused; elements with a `reservation` restriction
//!   price reservations and never a session.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::port::tariffs::{
    DayOfWeek, Price, PriceComponent, Tariff, TariffDimensionType, TariffRestrictions,
};

/// One meter reading of the session, as the station sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterPoint {
    /// When it was read.
    pub at: DateTime<Utc>,
    /// The energy register (Energy.Active.Import.Register), in Wh; absent when the sample had
    /// no register value.
    pub energy_wh: Option<Decimal>,
    /// Active power import, in W, where metered.
    pub power_w: Option<Decimal>,
    /// Current import, in A, summed over the phases (as `min_current`/`max_current` are), where
    /// metered.
    pub current_a: Option<Decimal>,
}

/// What happened in a session, for pricing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUsage {
    /// When the session started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// The register at start, in Wh.
    pub meter_start_wh: Decimal,
    /// The register at stop, in Wh.
    pub meter_stop_wh: Decimal,
    /// The readings in between, in time order.
    pub points: Vec<MeterPoint>,
}

/// CdrDimensionType enum (OCPI 2.2.1 CDRs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum CdrDimensionType {
    Current,
    Energy,
    EnergyExport,
    EnergyImport,
    MaxCurrent,
    MinCurrent,
    MaxPower,
    MinPower,
    ParkingTime,
    Power,
    ReservationTime,
    StateOfCharge,
    Time,
}

/// CdrDimension class: one volume in a charging period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrDimension {
    /// What is measured.
    #[serde(rename = "type")]
    pub dimension: CdrDimensionType,
    /// How much: kWh, hours, A or kW by the dimension.
    #[serde(with = "crate::port::tariffs::decimal_number")]
    pub volume: Decimal,
}

/// ChargingPeriod class: from `start_date_time` until the next period's start (or the end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingPeriod {
    /// When the period starts.
    pub start_date_time: DateTime<Utc>,
    /// At least one dimension.
    pub dimensions: Vec<CdrDimension>,
    /// The tariff that priced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_id: Option<String>,
}

/// A priced session: what goes into the CDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedSession {
    /// The periods, in time order.
    pub charging_periods: Vec<ChargingPeriod>,
    /// kWh.
    pub total_energy: Decimal,
    /// Hours.
    pub total_time: Decimal,
    /// Hours not charging.
    pub total_parking_time: Decimal,
    /// The whole session, after min/max price.
    pub total_cost: Price,
    /// FLAT components.
    pub total_fixed_cost: Option<Price>,
    /// ENERGY components.
    pub total_energy_cost: Option<Price>,
    /// TIME components.
    pub total_time_cost: Option<Price>,
    /// PARKING_TIME components.
    pub total_parking_cost: Option<Price>,
}

/// Why a session could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The location's time zone is not an IANA name.
    #[error("unknown time zone {0}")]
    TimeZone(String),
    /// The session ends before it starts.
    #[error("the session ends before it starts")]
    Interval,
    /// The tariff's `start_date_time`/`end_date_time` do not include the session's start (OCPI
    /// 2.2.1 Tariffs: the tariff valid when the session starts is the one the driver accepted).
    #[error("tariff {0} is not valid when the session starts")]
    TariffNotActive(String),
}

/// Prices `usage` by `tariff` (none: free) in the location's IANA `time_zone`.
///
/// The session is cut into charging periods wherever the applicable tariff element may change;
/// each period is priced by the first element per dimension whose restrictions hold at its start.
/// Volumes are stated with 4 decimals (OCPI number) and the costs are computed from exactly those
/// volumes, so a receiver that re-prices the CDR arrives at the same totals. Money is rounded to
/// 4 decimals, half to even, once per total.
pub fn price_session(
    tariff: Option<&Tariff>,
    time_zone: &str,
    usage: &SessionUsage,
) -> Result<PricedSession, PricingError> {
    let zone: Tz = time_zone
        .parse()
        .map_err(|_| PricingError::TimeZone(time_zone.to_owned()))?;
    if usage.end < usage.start {
        return Err(PricingError::Interval);
    }
    if let Some(t) = tariff {
        let after_start = t.terms.start_date_time.is_none_or(|s| usage.start >= s);
        let before_end = t.terms.end_date_time.is_none_or(|e| usage.start < e);
        if !(after_start && before_end) {
            return Err(PricingError::TariffNotActive(t.id.clone()));
        }
    }
    let meter = Meter::new(usage);
    let sliced = slice_session(tariff, zone, usage, &meter);
    let stretches = merge_slices(&sliced);
    Ok(price_periods(tariff, &sliced, &stretches))
}

/// OCPI numbers carry 4 decimals (OCPI 2.2.1 Types: number). Half to even, as ocpi-tariffs
/// rounds, so both sides of a CDR agree on the last digit.
fn ocpi_round(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven)
}

const WH_PER_KWH: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
const W_PER_KW: Decimal = WH_PER_KWH;
const SECONDS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);
const NANOS_PER_SECOND: i64 = 1_000_000_000;

fn nanos(delta: TimeDelta) -> Decimal {
    // Sessions last far less than the ±292 years an i64 of nanoseconds holds.
    Decimal::from(delta.num_nanoseconds().unwrap_or(i64::MAX))
}

fn seconds(delta: TimeDelta) -> Decimal {
    nanos(delta) / Decimal::from(NANOS_PER_SECOND)
}

/// What the meter said, as functions of time.
///
/// Energy: the register is known only at the readings; between two readings it is taken to rise
/// linearly (constant power), which is the best estimate without a power profile and keeps
/// every period's energy non-negative. Readings with a register below the start value, above
/// the stop value, or below an earlier reading are clamped, so the periods always add up to the
/// register delta `meter_stop_wh - meter_start_wh`.
///
/// Power and current: a reading holds until the next one; before the first reading, the first
/// reading stands for the start of the session.
struct Meter {
    /// `(time, kWh since the start)`, time-ordered, from `start` to `end`, non-decreasing.
    knots: Vec<(DateTime<Utc>, Decimal)>,
    /// kWh over the session, exact.
    total_kwh: Decimal,
    /// `(time, kW)`.
    power: Vec<(DateTime<Utc>, Decimal)>,
    /// `(time, A)`.
    current: Vec<(DateTime<Utc>, Decimal)>,
}

impl Meter {
    fn new(usage: &SessionUsage) -> Self {
        let total_kwh =
            ((usage.meter_stop_wh - usage.meter_start_wh) / WH_PER_KWH).max(Decimal::ZERO);
        let mut points: Vec<&MeterPoint> = usage.points.iter().collect();
        points.sort_by_key(|p| p.at);
        let mut knots = vec![(usage.start, Decimal::ZERO)];
        let mut high = Decimal::ZERO;
        for p in &points {
            let Some(wh) = p.energy_wh else { continue };
            if p.at <= usage.start || p.at >= usage.end {
                continue;
            }
            let kwh = ((wh - usage.meter_start_wh) / WH_PER_KWH).clamp(Decimal::ZERO, total_kwh);
            high = high.max(kwh);
            match knots.last_mut() {
                Some(last) if last.0 == p.at => last.1 = high,
                _ => knots.push((p.at, high)),
            }
        }
        if usage.end > usage.start {
            knots.push((usage.end, total_kwh));
        }
        let within =
            |p: &&&MeterPoint| p.at < usage.end || (p.at == usage.end && usage.end == usage.start);
        let power = points
            .iter()
            .filter(within)
            .filter_map(|p| p.power_w.map(|w| (p.at, w / W_PER_KW)))
            .collect();
        let current = points
            .iter()
            .filter(within)
            .filter_map(|p| p.current_a.map(|a| (p.at, a)))
            .collect();
        Meter {
            knots,
            total_kwh,
            power,
            current,
        }
    }

    /// kWh since the start at `at`, exact, by linear interpolation between readings.
    fn energy_at(&self, at: DateTime<Utc>) -> Decimal {
        // The first knot at or after `at`; the segment before it holds `at`.
        let next = self.knots.partition_point(|(t, _)| *t < at);
        match (
            next.checked_sub(1).and_then(|i| self.knots.get(i)),
            self.knots.get(next),
        ) {
            (Some(&(t0, v0)), Some(&(t1, v1))) if t1 > t0 => {
                // The fraction first: it is at most 1, so no product can overflow.
                v0 + (v1 - v0) * (nanos(at - t0) / nanos(t1 - t0))
            }
            (_, Some(&(_, v))) => v,
            (Some(_), None) => self.total_kwh,
            (None, None) => Decimal::ZERO,
        }
    }

    /// The first whole second at which the consumed energy reaches `kwh`, if it does within the
    /// session after its start.
    fn reaches(&self, kwh: Decimal) -> Option<DateTime<Utc>> {
        if kwh <= Decimal::ZERO {
            return None;
        }
        self.knots.windows(2).find_map(|pair| {
            let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
            if !(v0 < kwh && kwh <= v1) {
                return None;
            }
            let offset = (kwh - v0) / (v1 - v0) * seconds(t1 - t0);
            let whole = offset.ceil();
            let secs = i64::try_from(whole).ok()?;
            Some((t0 + TimeDelta::seconds(secs)).min(t1))
        })
    }

    /// The reading in force at `at`: the last one at or before it, else the first one.
    fn held(readings: &[(DateTime<Utc>, Decimal)], at: DateTime<Utc>) -> Option<Decimal> {
        let after = readings.partition_point(|(t, _)| *t <= at);
        after
            .checked_sub(1)
            .and_then(|i| readings.get(i))
            .or(readings.first())
            .map(|(_, v)| *v)
    }
}

/// What a tariff element's restrictions are judged against, at the start of a slice of the
/// session.
struct Moment {
    local: NaiveDateTime,
    /// kWh consumed before, as the CDR states it (sum of the earlier periods' volumes).
    energy_kwh: Decimal,
    elapsed: TimeDelta,
    power_kw: Option<Decimal>,
    current_a: Option<Decimal>,
}

fn weekday(day: DayOfWeek) -> Weekday {
    match day {
        DayOfWeek::Monday => Weekday::Mon,
        DayOfWeek::Tuesday => Weekday::Tue,
        DayOfWeek::Wednesday => Weekday::Wed,
        DayOfWeek::Thursday => Weekday::Thu,
        DayOfWeek::Friday => Weekday::Fri,
        DayOfWeek::Saturday => Weekday::Sat,
        DayOfWeek::Sunday => Weekday::Sun,
    }
}

/// Whether every restriction holds at `m` (OCPI 2.2.1 Tariffs: TariffRestrictions class).
/// Lower bounds are inclusive and upper bounds exclusive. An end time before the start time
/// wraps midnight. Power and current restrictions that nothing was metered for do not restrict
/// (as ocpi-tariffs judges them). A reservation element prices reservations, never a session.
fn restrictions_hold(r: &TariffRestrictions, m: &Moment) -> bool {
    let time = m.local.time();
    let date = m.local.date();
    let time_ok = match (r.start_time, r.end_time) {
        (Some(s), Some(e)) if e < s => time >= s || time < e,
        (s, e) => s.is_none_or(|s| time >= s) && e.is_none_or(|e| time < e),
    };
    let lower = |limit: Option<Decimal>, value: Option<Decimal>| match (limit, value) {
        (Some(l), Some(v)) => v >= l,
        _ => true,
    };
    let upper = |limit: Option<Decimal>, value: Option<Decimal>| match (limit, value) {
        (Some(l), Some(v)) => v < l,
        _ => true,
    };
    let duration = |s: u32| TimeDelta::seconds(i64::from(s));
    time_ok
        && r.start_date.is_none_or(|d| date >= d)
        && r.end_date.is_none_or(|d| date < d)
        && lower(r.min_kwh, Some(m.energy_kwh))
        && upper(r.max_kwh, Some(m.energy_kwh))
        && lower(r.min_power, m.power_kw)
        && upper(r.max_power, m.power_kw)
        && lower(r.min_current, m.current_a)
        && upper(r.max_current, m.current_a)
        && r.min_duration.is_none_or(|s| m.elapsed >= duration(s))
        && r.max_duration.is_none_or(|s| m.elapsed < duration(s))
        && (r.day_of_week.is_empty()
            || r.day_of_week
                .iter()
                .any(|d| weekday(*d) == m.local.weekday()))
        && r.reservation.is_none()
}

/// The dimensions a tariff prices, in the order of [`Applied`].
const PRICED: [TariffDimensionType; 4] = [
    TariffDimensionType::Energy,
    TariffDimensionType::Time,
    TariffDimensionType::ParkingTime,
    TariffDimensionType::Flat,
];

/// Per priced dimension (see [`PRICED`]), the `(element, component)` that applies.
type Applied = [Option<(usize, usize)>; 4];

/// The first element whose restrictions hold and that has a component of the dimension, per
/// dimension (OCPI 2.2.1 Tariffs: Tariff object).
fn applied_components(tariff: Option<&Tariff>, m: &Moment) -> Applied {
    let mut applied: Applied = [None; 4];
    let Some(tariff) = tariff else {
        return applied;
    };
    for (e, element) in tariff.terms.elements.iter().enumerate() {
        if !element
            .restrictions
            .as_ref()
            .is_none_or(|r| restrictions_hold(r, m))
        {
            continue;
        }
        for (slot, dimension) in applied.iter_mut().zip(PRICED) {
            if slot.is_none() {
                *slot = element
                    .price_components
                    .iter()
                    .position(|c| c.dimension == dimension)
                    .map(|c| (e, c));
            }
        }
    }
    applied
}

/// The component an [`Applied`] entry points at.
fn component(tariff: Option<&Tariff>, at: Option<(usize, usize)>) -> Option<&PriceComponent> {
    let (e, c) = at?;
    tariff?.terms.elements.get(e)?.price_components.get(c)
}

/// The instant(s) at which local `date` `time` happens. In a DST gap, the first instant after it
/// (the moment a "from this time" restriction starts to hold); in an overlap, both.
fn local_instants(zone: Tz, date: NaiveDate, time: NaiveTime) -> Vec<DateTime<Utc>> {
    let wanted = date.and_time(time);
    match zone.from_local_datetime(&wanted) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => {
            // Walk back to the last minute before the gap; the gap ends one minute after it.
            (1..=24 * 60)
                .find_map(|back| {
                    zone.from_local_datetime(&(wanted - TimeDelta::minutes(back)))
                        .earliest()
                })
                .map(|before| {
                    let minute = before.with_timezone(&Utc) + TimeDelta::minutes(1);
                    vec![minute]
                })
                .unwrap_or_default()
        }
    }
}

/// A stretch of the session in which nothing a tariff looks at changes.
struct Slice {
    /// Index into the boundaries of its start (its end is the next one).
    from: usize,
    charging: bool,
    applied: Applied,
    power_kw: Option<Decimal>,
    current_a: Option<Decimal>,
}

/// The session's boundaries and slices, and the CDR's cumulative volumes at each boundary.
struct Sliced {
    bounds: Vec<DateTime<Utc>>,
    /// kWh consumed up to each boundary, rounded to 4 decimals.
    energy: Vec<Decimal>,
    /// Hours since the start at each boundary, rounded to 4 decimals.
    hours: Vec<Decimal>,
    slices: Vec<Slice>,
    /// Whether the tariff restricts power or current (then periods keep one reading each).
    by_power: bool,
}

/// Cuts the session wherever what a tariff looks at may change, and judges each slice.
fn slice_session(tariff: Option<&Tariff>, zone: Tz, usage: &SessionUsage, meter: &Meter) -> Sliced {
    let (start, end) = (usage.start, usage.end);
    let mut cuts: Vec<DateTime<Utc>> = meter.knots.iter().map(|(t, _)| *t).collect();
    cuts.extend(meter.power.iter().chain(&meter.current).map(|(t, _)| *t));
    let restrictions: Vec<&TariffRestrictions> = tariff
        .map(|t| {
            t.terms
                .elements
                .iter()
                .filter_map(|e| e.restrictions.as_ref())
                .collect()
        })
        .unwrap_or_default();
    if !restrictions.is_empty() {
        // Local midnights (dates, days of week) and the restrictions' times of day, on every
        // local day the session touches.
        let mut times = vec![NaiveTime::MIN];
        times.extend(
            restrictions
                .iter()
                .flat_map(|r| [r.start_time, r.end_time])
                .flatten(),
        );
        let first = start.with_timezone(&zone).date_naive() - TimeDelta::days(1);
        let last = end.with_timezone(&zone).date_naive() + TimeDelta::days(1);
        let mut day = first;
        while day <= last {
            for time in &times {
                cuts.extend(local_instants(zone, day, *time));
            }
            day += TimeDelta::days(1);
        }
        for r in &restrictions {
            for kwh in [r.min_kwh, r.max_kwh].into_iter().flatten() {
                cuts.extend(meter.reaches(kwh));
            }
            for s in [r.min_duration, r.max_duration].into_iter().flatten() {
                cuts.push(start + TimeDelta::seconds(i64::from(s)));
            }
        }
    }
    let mut bounds = vec![start];
    cuts.retain(|t| *t > start && *t < end);
    cuts.sort();
    cuts.dedup();
    bounds.extend(cuts);
    bounds.push(end);

    let last = bounds.len() - 1;
    let total_kwh = ocpi_round(meter.total_kwh);
    let energy: Vec<Decimal> = bounds
        .iter()
        .enumerate()
        .map(|(i, t)| match i {
            0 => Decimal::ZERO,
            i if i == last => total_kwh,
            _ => ocpi_round(meter.energy_at(*t)).min(total_kwh),
        })
        .collect();
    let hours: Vec<Decimal> = bounds
        .iter()
        .map(|t| ocpi_round(seconds(*t - start) / SECONDS_PER_HOUR))
        .collect();
    let by_power = restrictions.iter().any(|r| {
        r.min_power.is_some()
            || r.max_power.is_some()
            || r.min_current.is_some()
            || r.max_current.is_some()
    });
    let slices = (0..last)
        .map(|i| {
            let (a, b) = (bounds[i], bounds[i + 1]);
            let charging = if a == b {
                meter.total_kwh > Decimal::ZERO
            } else {
                meter.energy_at(b) > meter.energy_at(a)
            };
            let power_kw = Meter::held(&meter.power, a);
            let current_a = Meter::held(&meter.current, a);
            let moment = Moment {
                local: a.with_timezone(&zone).naive_local(),
                energy_kwh: energy[i],
                elapsed: a - start,
                power_kw,
                current_a,
            };
            Slice {
                from: i,
                charging,
                applied: applied_components(tariff, &moment),
                power_kw,
                current_a,
            }
        })
        .collect();
    Sliced {
        bounds,
        energy,
        hours,
        slices,
        by_power,
    }
}

/// A charging period under construction: consecutive slices with the same state.
struct Stretch {
    from: usize,
    to: usize,
    charging: bool,
    applied: Applied,
    power_kw: Vec<Decimal>,
    current_a: Vec<Decimal>,
}

/// Joins neighbouring slices that are priced alike into charging periods.
fn merge_slices(sliced: &Sliced) -> Vec<Stretch> {
    let mut stretches: Vec<Stretch> = Vec::new();
    for s in &sliced.slices {
        if let Some(last) = stretches.last_mut() {
            let same_reading = !sliced.by_power
                || (last.power_kw.last().copied() == s.power_kw
                    && last.current_a.last().copied() == s.current_a);
            if last.charging == s.charging && last.applied == s.applied && same_reading {
                last.to = s.from + 1;
                last.power_kw.extend(s.power_kw);
                last.current_a.extend(s.current_a);
                continue;
            }
        }
        stretches.push(Stretch {
            from: s.from,
            to: s.from + 1,
            charging: s.charging,
            applied: s.applied,
            power_kw: s.power_kw.into_iter().collect(),
            current_a: s.current_a.into_iter().collect(),
        });
    }
    stretches
}

/// A cost, exact until the totals are rounded. `incl_vat` is unknown (`None`) once any part
/// came from a component without a VAT percentage: the spec says no VAT is applicable then,
/// and its own example ("first hour free") concludes that the total including VAT cannot be
/// given. (ocpi-tariffs takes the price including VAT to equal the price excluding it.)
#[derive(Debug, Clone, Copy)]
struct Cost {
    excl_vat: Decimal,
    incl_vat: Option<Decimal>,
}

impl Cost {
    const ZERO: Cost = Cost {
        excl_vat: Decimal::ZERO,
        incl_vat: Some(Decimal::ZERO),
    };

    /// `volume` units at `c`'s price.
    fn of(volume: Decimal, c: &PriceComponent) -> Cost {
        Cost::at_vat(volume * c.price, c)
    }

    /// An amount excl. VAT, with `c`'s VAT.
    fn at_vat(excl_vat: Decimal, c: &PriceComponent) -> Cost {
        let incl_vat = c
            .vat
            .map(|vat| excl_vat * (Decimal::ONE + vat / Decimal::ONE_HUNDRED));
        Cost { excl_vat, incl_vat }
    }

    fn plus(self, other: Cost) -> Cost {
        Cost {
            excl_vat: self.excl_vat + other.excl_vat,
            incl_vat: self.incl_vat.zip(other.incl_vat).map(|(a, b)| a + b),
        }
    }

    fn add(total: &mut Option<Cost>, cost: Cost) {
        *total = Some(total.unwrap_or(Cost::ZERO).plus(cost));
    }

    fn price(self) -> Price {
        Price {
            excl_vat: ocpi_round(self.excl_vat),
            incl_vat: self.incl_vat.map(ocpi_round),
        }
    }
}

fn dimension(dimension: CdrDimensionType, volume: Decimal) -> CdrDimension {
    CdrDimension { dimension, volume }
}

/// A volume of one billed dimension in one period, and the component that prices it.
struct Line<'t> {
    /// ENERGY, TIME or PARKING_TIME, as the first three of [`PRICED`].
    slot: usize,
    /// kWh or hours.
    volume: Decimal,
    component: Option<&'t PriceComponent>,
}

const ENERGY: usize = 0;
const TIME: usize = 1;
const PARKING: usize = 2;
const FLAT: usize = 3;

fn price_periods(tariff: Option<&Tariff>, sliced: &Sliced, stretches: &[Stretch]) -> PricedSession {
    let mut lines: Vec<Line> = Vec::new();
    let mut flat: Option<Cost> = None;
    let mut charging_periods = Vec::with_capacity(stretches.len());
    let mut total_parking_time = Decimal::ZERO;

    for s in stretches {
        let energy = sliced.energy[s.to] - sliced.energy[s.from];
        let hours = sliced.hours[s.to] - sliced.hours[s.from];
        let line = |slot: usize, volume: Decimal| Line {
            slot,
            volume,
            component: component(tariff, s.applied[slot]),
        };
        let mut dimensions = Vec::new();
        if s.charging {
            dimensions.push(dimension(CdrDimensionType::Energy, energy));
            dimensions.push(dimension(CdrDimensionType::Time, hours));
            lines.push(line(ENERGY, energy));
            lines.push(line(TIME, hours));
        } else {
            dimensions.push(dimension(CdrDimensionType::ParkingTime, hours));
            total_parking_time += hours;
            lines.push(line(PARKING, hours));
        }
        // FLAT: once per session, by the first period that has one (OCPI 2.2.1 Tariffs).
        if flat.is_none() {
            flat = component(tariff, s.applied[FLAT]).map(|c| Cost::of(Decimal::ONE, c));
        }
        if let (Some(min), Some(max)) = (s.power_kw.iter().min(), s.power_kw.iter().max()) {
            dimensions.push(dimension(CdrDimensionType::MinPower, *min));
            dimensions.push(dimension(CdrDimensionType::MaxPower, *max));
        }
        if let (Some(min), Some(max)) = (s.current_a.iter().min(), s.current_a.iter().max()) {
            dimensions.push(dimension(CdrDimensionType::MinCurrent, *min));
            dimensions.push(dimension(CdrDimensionType::MaxCurrent, *max));
        }
        charging_periods.push(ChargingPeriod {
            start_date_time: sliced.bounds[s.from],
            dimensions,
            tariff_id: tariff.map(|t| t.id.clone()),
        });
    }

    let mut costs: [Option<Cost>; 4] = [None, None, None, flat];
    for slot in [ENERGY, TIME, PARKING] {
        if let Some(extra) = step_extra(&lines, slot) {
            Cost::add(&mut costs[slot], extra);
        }
    }
    for line in &lines {
        if let Some(c) = line.component {
            Cost::add(&mut costs[line.slot], Cost::of(line.volume, c));
        }
    }

    let total = costs
        .iter()
        .flatten()
        .fold(Cost::ZERO, |sum, c| sum.plus(*c));
    let mut total_cost = total.price();
    if let Some(t) = tariff {
        clamp(
            &mut total_cost,
            t.terms.min_price.as_ref(),
            t.terms.max_price.as_ref(),
        );
    }
    let last = sliced.bounds.len() - 1;
    PricedSession {
        charging_periods,
        total_energy: sliced.energy[last],
        total_time: sliced.hours[last],
        total_parking_time,
        total_cost,
        total_fixed_cost: costs[FLAT].map(Cost::price),
        total_energy_cost: costs[ENERGY].map(Cost::price),
        total_time_cost: costs[TIME].map(Cost::price),
        total_parking_cost: costs[PARKING].map(Cost::price),
    }
}

/// step_size (OCPI 2.2.1 Tariffs: PriceComponent class and its step_size examples): the step
/// of the component that priced the dimension last applies, to the session's whole volume of the
/// dimension; the steps of components before a switch do not (example #2: 25 min at the first
/// price, 10 min at the second, billed as 45 min in all). Returns the cost of the extra volume
/// at that component's price.
///
/// Each dimension is stepped on its own. The spec's step_size example #1 lets two minutes of
/// parking vanish into the charging time its TIME step added; its "complex tariff" example bills
/// both steps in full (147 min charging as 150, 42 min parking as 45). The two cannot both hold;
/// we follow the latter, which matches the per-dimension wording of the PriceComponent class.
fn step_extra(lines: &[Line], slot: usize) -> Option<Cost> {
    let c = lines
        .iter()
        .rev()
        .filter(|l| l.slot == slot)
        .find_map(|l| l.component)?;
    if c.step_size == 0 {
        return None;
    }
    let unit = if slot == ENERGY {
        WH_PER_KWH
    } else {
        SECONDS_PER_HOUR
    };
    let used: Decimal = lines
        .iter()
        .filter(|l| l.slot == slot)
        .map(|l| l.volume)
        .sum::<Decimal>()
        * unit;
    let step = Decimal::from(c.step_size);
    let extra = (used / step).ceil() * step - used;
    // Multiply before dividing: seconds x price / 3600 stays exact where the result is.
    (extra > Decimal::ZERO).then(|| Cost::at_vat(extra * c.price / unit, c))
}

/// min_price and max_price bound the excl. and incl. VAT totals each on its own (OCPI 2.2.1
/// Tariffs: notes on min_price and max_price). A bound that moves the excl. VAT total but states
/// no incl. VAT leaves the incl. VAT total unknown. min_price applies even when no component
/// priced anything (ocpi-tariffs 0.48 then states no total and applies no bound).
fn clamp(total: &mut Price, min: Option<&Price>, max: Option<&Price>) {
    if let Some(min) = min {
        if total.excl_vat < min.excl_vat {
            total.excl_vat = min.excl_vat;
            if min.incl_vat.is_none() {
                total.incl_vat = None;
            }
        }
        if let (Some(t), Some(m)) = (total.incl_vat.as_mut(), min.incl_vat) {
            *t = (*t).max(m);
        }
    }
    if let Some(max) = max {
        if total.excl_vat > max.excl_vat {
            total.excl_vat = max.excl_vat;
            if max.incl_vat.is_none() {
                total.incl_vat = None;
            }
        }
        if let (Some(t), Some(m)) = (total.incl_vat.as_mut(), max.incl_vat) {
            *t = (*t).min(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 time")
    }

    fn tariff_with(terms: Value) -> Tariff {
        Tariff {
            id: "T1".to_owned(),
            terms: serde_json::from_value(terms).expect("tariff terms"),
            last_updated: at("2020-01-01T00:00:00Z"),
        }
    }

    fn tariff(elements: Value) -> Tariff {
        tariff_with(json!({ "currency": "EUR", "elements": elements }))
    }

    fn reading(time: &str, wh: Option<&str>, w: Option<&str>) -> MeterPoint {
        MeterPoint {
            at: at(time),
            energy_wh: wh.map(d),
            power_w: w.map(d),
            current_a: None,
        }
    }

    /// Charging at constant power from `start` for `charge_min` minutes, `kwh` in all, then
    /// parked for `park_min` minutes. The register starts at 1000 Wh.
    fn session(start: &str, charge_min: i64, kwh: &str, park_min: i64) -> SessionUsage {
        let start = at(start);
        let stop_wh = d("1000") + d(kwh) * d("1000");
        let charged = start + TimeDelta::minutes(charge_min);
        let points = if park_min > 0 {
            vec![MeterPoint {
                at: charged,
                energy_wh: Some(stop_wh),
                power_w: None,
                current_a: None,
            }]
        } else {
            Vec::new()
        };
        SessionUsage {
            start,
            end: charged + TimeDelta::minutes(park_min),
            meter_start_wh: d("1000"),
            meter_stop_wh: stop_wh,
            points,
        }
    }

    fn price(t: Option<&Tariff>, zone: &str, usage: &SessionUsage) -> PricedSession {
        price_session(t, zone, usage).expect("priced")
    }

    fn volume(p: &ChargingPeriod, dimension: CdrDimensionType) -> Option<Decimal> {
        p.dimensions
            .iter()
            .find(|x| x.dimension == dimension)
            .map(|x| x.volume)
    }

    fn excl(p: &PricedSession) -> Decimal {
        p.total_cost.excl_vat
    }

    fn starts(p: &PricedSession) -> Vec<DateTime<Utc>> {
        p.charging_periods
            .iter()
            .map(|c| c.start_date_time)
            .collect()
    }

    #[test]
    fn energy_time_and_flat_without_restrictions() {
        let t = tariff(json!([{ "price_components": [
            { "type": "FLAT", "price": 1.00, "vat": 20.0, "step_size": 1 },
            { "type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1 },
            { "type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 1 }
        ]}]));
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-06-01T10:00:00Z", 60, "10", 0),
        );
        assert_eq!(p.charging_periods.len(), 1);
        let only = &p.charging_periods[0];
        assert_eq!(volume(only, CdrDimensionType::Energy), Some(d("10")));
        assert_eq!(volume(only, CdrDimensionType::Time), Some(d("1")));
        assert_eq!(only.tariff_id.as_deref(), Some("T1"));
        assert_eq!(
            (p.total_energy, p.total_time, p.total_parking_time),
            (d("10"), d("1"), d("0"))
        );
        assert_eq!(
            p.total_energy_cost,
            Some(Price {
                excl_vat: d("2.50"),
                incl_vat: Some(d("2.75"))
            })
        );
        assert_eq!(
            p.total_time_cost,
            Some(Price {
                excl_vat: d("2"),
                incl_vat: Some(d("2.2"))
            })
        );
        assert_eq!(
            p.total_fixed_cost,
            Some(Price {
                excl_vat: d("1"),
                incl_vat: Some(d("1.2"))
            })
        );
        assert_eq!(p.total_parking_cost, None);
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("5.5"),
                incl_vat: Some(d("6.15"))
            }
        );
    }

    #[test]
    fn parking_starts_when_the_register_stops_rising() {
        let t = tariff(json!([{ "price_components": [
            { "type": "TIME", "price": 2.00, "step_size": 1 },
            { "type": "PARKING_TIME", "price": 5.00, "step_size": 1 }
        ]}]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 30, "10", 30),
        );
        assert_eq!(
            starts(&p),
            [at("2026-06-01T10:00:00Z"), at("2026-06-01T10:30:00Z")]
        );
        let parked = &p.charging_periods[1];
        assert_eq!(
            volume(parked, CdrDimensionType::ParkingTime),
            Some(d("0.5"))
        );
        assert_eq!(volume(parked, CdrDimensionType::Energy), None);
        assert_eq!((p.total_time, p.total_parking_time), (d("1"), d("0.5")));
        assert_eq!(p.total_time_cost.as_ref().map(|c| c.excl_vat), Some(d("1")));
        assert_eq!(
            p.total_parking_cost.as_ref().map(|c| c.excl_vat),
            Some(d("2.5"))
        );
        assert_eq!(excl(&p), d("3.5"));
        // No VAT percentage anywhere: the total including VAT cannot be stated.
        assert_eq!(p.total_cost.incl_vat, None);
    }

    #[test]
    fn without_a_tariff_the_session_is_free_but_its_periods_are_filled() {
        let p = price(None, "UTC", &session("2026-06-01T10:00:00Z", 30, "10", 30));
        assert_eq!(p.charging_periods.len(), 2);
        assert!(p.charging_periods.iter().all(|c| c.tariff_id.is_none()));
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("0"),
                incl_vat: Some(d("0"))
            }
        );
        assert_eq!(
            (p.total_energy, p.total_time, p.total_parking_time),
            (d("10"), d("1"), d("0.5"))
        );
        assert_eq!(p.total_energy_cost, None);
    }

    #[test]
    fn night_rate_wraps_midnight_in_local_time_on_a_dst_day() {
        // 2026-03-29: Amsterdam goes from CET to CEST at 02:00 local. The session runs from
        // 21:00 CET to 04:00 CEST, six real hours at 1 kWh per hour.
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.10, "step_size": 1 }],
              "restrictions": { "start_time": "22:00", "end_time": "06:00" } },
            { "price_components": [{ "type": "ENERGY", "price": 0.30, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-03-28T20:00:00Z", 360, "6", 0),
        );
        assert_eq!(
            starts(&p),
            [at("2026-03-28T20:00:00Z"), at("2026-03-28T21:00:00Z")]
        );
        assert_eq!(
            volume(&p.charging_periods[0], CdrDimensionType::Energy),
            Some(d("1"))
        );
        assert_eq!(
            volume(&p.charging_periods[1], CdrDimensionType::Energy),
            Some(d("5"))
        );
        assert_eq!(excl(&p), d("0.80"));
    }

    #[test]
    fn a_time_inside_the_dst_gap_takes_effect_when_the_gap_ends() {
        // 02:30 does not exist on 2026-03-29 in Amsterdam: the element starts at 03:00 CEST
        // (01:00 UTC) and ends at 03:30 CEST.
        let t = tariff(json!([
            { "price_components": [{ "type": "TIME", "price": 6.00, "step_size": 1 }],
              "restrictions": { "start_time": "02:30", "end_time": "03:30" } },
            { "price_components": [{ "type": "TIME", "price": 0, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-03-29T00:00:00Z", 120, "4", 0),
        );
        assert_eq!(
            starts(&p),
            [
                at("2026-03-29T00:00:00Z"),
                at("2026-03-29T01:00:00Z"),
                at("2026-03-29T01:30:00Z")
            ]
        );
        assert_eq!(excl(&p), d("3"));
    }

    #[test]
    fn a_time_that_happens_twice_when_dst_ends_applies_twice() {
        // 2026-11-01 in New York: 01:00 to 02:00 EDT, then 01:00 to 02:00 EST again.
        let t = tariff(json!([
            { "price_components": [{ "type": "TIME", "price": 4.00, "step_size": 1 }],
              "restrictions": { "start_time": "01:30", "end_time": "01:45" } },
            { "price_components": [{ "type": "TIME", "price": 0, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "America/New_York",
            &session("2026-11-01T05:00:00Z", 120, "10", 0),
        );
        assert_eq!(
            starts(&p),
            [
                at("2026-11-01T05:00:00Z"),
                at("2026-11-01T05:30:00Z"),
                at("2026-11-01T05:45:00Z"),
                at("2026-11-01T06:30:00Z"),
                at("2026-11-01T06:45:00Z")
            ]
        );
        assert_eq!(excl(&p), d("2"));
    }

    #[test]
    fn weekend_rate_by_local_day_of_week() {
        // Sunday 23:00 to Monday 02:00 in Amsterdam (CET), 1 kWh per hour.
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.20, "step_size": 1 }],
              "restrictions": { "day_of_week": ["SATURDAY", "SUNDAY"] } },
            { "price_components": [{ "type": "ENERGY", "price": 0.40, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-11-22T22:00:00Z", 180, "3", 0),
        );
        assert_eq!(
            starts(&p),
            [at("2026-11-22T22:00:00Z"), at("2026-11-22T23:00:00Z")]
        );
        assert_eq!(excl(&p), d("1.00"));
    }

    #[test]
    fn kwh_thresholds_split_where_the_interpolated_register_reaches_them() {
        // 2 kWh after 15 min, 4 kWh after 60 min (a sample without a register in between is
        // skipped): 3 kWh is reached at 37.5 min.
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.20, "step_size": 1 }],
              "restrictions": { "max_kwh": 3 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.30, "step_size": 1 }] }
        ]));
        let usage = SessionUsage {
            start: at("2026-06-01T10:00:00Z"),
            end: at("2026-06-01T11:00:00Z"),
            meter_start_wh: d("500"),
            meter_stop_wh: d("4500"),
            points: vec![
                reading("2026-06-01T10:15:00Z", Some("2500"), None),
                reading("2026-06-01T10:45:00Z", None, Some("2000")),
            ],
        };
        let p = price(Some(&t), "UTC", &usage);
        assert_eq!(
            starts(&p),
            [at("2026-06-01T10:00:00Z"), at("2026-06-01T10:37:30Z")]
        );
        assert_eq!(
            volume(&p.charging_periods[0], CdrDimensionType::Energy),
            Some(d("3"))
        );
        assert_eq!(
            volume(&p.charging_periods[1], CdrDimensionType::Energy),
            Some(d("1"))
        );
        assert_eq!(excl(&p), d("0.90"));
    }

    #[test]
    fn max_power_follows_the_metered_power() {
        // The spec's max_power example: 1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW.
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.20, "step_size": 1 }],
              "restrictions": { "max_power": 16.00 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.35, "step_size": 1 }],
              "restrictions": { "max_power": 32.00 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.50, "step_size": 1 }] }
        ]));
        let usage = SessionUsage {
            start: at("2026-06-01T10:00:00Z"),
            end: at("2026-06-01T11:07:30Z"),
            meter_start_wh: d("0"),
            meter_stop_wh: d("41500"),
            points: vec![
                reading("2026-06-01T10:00:00Z", None, Some("6000")),
                reading("2026-06-01T10:10:00Z", Some("1000"), Some("48000")),
                reading("2026-06-01T11:00:00Z", Some("41000"), Some("4000")),
            ],
        };
        let p = price(Some(&t), "UTC", &usage);
        assert_eq!(p.charging_periods.len(), 3);
        let max_power: Vec<_> = p
            .charging_periods
            .iter()
            .map(|c| volume(c, CdrDimensionType::MaxPower))
            .collect();
        assert_eq!(max_power, [Some(d("6")), Some(d("48")), Some(d("4"))]);
        assert_eq!(excl(&p), d("20.30"));
    }

    #[test]
    fn min_current_and_max_current_follow_the_metered_current() {
        let t = tariff(json!([
            { "price_components": [{ "type": "TIME", "price": 1.00, "step_size": 1 }],
              "restrictions": { "max_current": 32 } },
            { "price_components": [{ "type": "TIME", "price": 2.00, "step_size": 1 }],
              "restrictions": { "min_current": 32 } }
        ]));
        let mut usage = session("2026-06-01T10:00:00Z", 120, "20", 0);
        usage.points = vec![
            MeterPoint {
                at: at("2026-06-01T10:00:00Z"),
                energy_wh: None,
                power_w: None,
                current_a: Some(d("16")),
            },
            MeterPoint {
                at: at("2026-06-01T11:00:00Z"),
                energy_wh: None,
                power_w: None,
                current_a: Some(d("40")),
            },
        ];
        let p = price(Some(&t), "UTC", &usage);
        assert_eq!(
            starts(&p),
            [at("2026-06-01T10:00:00Z"), at("2026-06-01T11:00:00Z")]
        );
        assert_eq!(
            volume(&p.charging_periods[1], CdrDimensionType::MinCurrent),
            Some(d("40"))
        );
        assert_eq!(excl(&p), d("3"));
    }

    #[test]
    fn readings_that_change_nothing_priced_do_not_cut_periods() {
        // Power varies, but no element looks at it: one period, with the metered range.
        let t = tariff(json!([{ "price_components": [
            { "type": "ENERGY", "price": 0.30, "step_size": 1 } ] }]));
        let usage = SessionUsage {
            start: at("2026-06-01T10:00:00Z"),
            end: at("2026-06-01T11:00:00Z"),
            meter_start_wh: d("0"),
            meter_stop_wh: d("30000"),
            points: vec![
                reading("2026-06-01T10:00:00Z", None, Some("40000")),
                reading("2026-06-01T10:20:00Z", Some("13000"), Some("20000")),
                reading("2026-06-01T10:40:00Z", Some("20000"), Some("30000")),
            ],
        };
        let p = price(Some(&t), "UTC", &usage);
        assert_eq!(p.charging_periods.len(), 1);
        let only = &p.charging_periods[0];
        assert_eq!(volume(only, CdrDimensionType::MinPower), Some(d("20")));
        assert_eq!(volume(only, CdrDimensionType::MaxPower), Some(d("40")));
        assert_eq!(excl(&p), d("9"));
    }

    #[test]
    fn power_restrictions_do_not_restrict_without_power_readings() {
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.50, "step_size": 1 }],
              "restrictions": { "min_power": 50 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.20, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "10", 0),
        );
        assert_eq!(excl(&p), d("5"));
    }

    #[test]
    fn charging_again_after_parking_opens_a_new_charging_period() {
        let t = tariff(json!([{ "price_components": [
            { "type": "TIME", "price": 1.00, "step_size": 1 },
            { "type": "PARKING_TIME", "price": 3.00, "step_size": 1 } ] }]));
        let usage = SessionUsage {
            start: at("2026-06-01T10:00:00Z"),
            end: at("2026-06-01T11:30:00Z"),
            meter_start_wh: d("0"),
            meter_stop_wh: d("9000"),
            points: vec![
                reading("2026-06-01T10:30:00Z", Some("5000"), None),
                reading("2026-06-01T11:00:00Z", Some("5000"), None),
            ],
        };
        let p = price(Some(&t), "UTC", &usage);
        let kinds: Vec<bool> = p
            .charging_periods
            .iter()
            .map(|c| volume(c, CdrDimensionType::ParkingTime).is_some())
            .collect();
        assert_eq!(kinds, [false, true, false]);
        assert_eq!(
            volume(&p.charging_periods[2], CdrDimensionType::Energy),
            Some(d("4"))
        );
        assert_eq!((p.total_time, p.total_parking_time), (d("1.5"), d("0.5")));
        assert_eq!(excl(&p), d("2.5"));
    }

    #[test]
    fn max_duration_makes_the_first_half_hour_free() {
        // The spec's max_duration example: 5 kWh in 30 min, 1.2 kWh in the next 10.
        let t = tariff(json!([
            { "price_components": [{ "type": "ENERGY", "price": 0.00, "vat": 20.0, "step_size": 1 }],
              "restrictions": { "max_duration": 1800 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1 }],
              "restrictions": { "max_duration": 3600 } },
            { "price_components": [{ "type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1 }] }
        ]));
        let usage = SessionUsage {
            start: at("2026-06-01T10:00:00Z"),
            end: at("2026-06-01T10:40:00Z"),
            meter_start_wh: d("0"),
            meter_stop_wh: d("6200"),
            points: vec![reading("2026-06-01T10:30:00Z", Some("5000"), None)],
        };
        let p = price(Some(&t), "UTC", &usage);
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("0.30"),
                incl_vat: Some(d("0.36"))
            }
        );
    }

    fn step_size_tariff() -> Tariff {
        // The spec's step_size example: TIME 1.20/h (step 30 min) before 17:00 and 2.40/h
        // (step 15 min) after; PARKING_TIME 1.00/h (step 15 min) until 20:00.
        tariff(json!([
            { "price_components": [
                { "type": "TIME", "price": 1.20, "step_size": 1800 },
                { "type": "PARKING_TIME", "price": 1.00, "step_size": 900 } ],
              "restrictions": { "start_time": "00:00", "end_time": "17:00" } },
            { "price_components": [
                { "type": "TIME", "price": 2.40, "step_size": 900 },
                { "type": "PARKING_TIME", "price": 1.00, "step_size": 900 } ],
              "restrictions": { "start_time": "17:00", "end_time": "20:00" } },
            { "price_components": [{ "type": "TIME", "price": 2.40, "step_size": 900 }],
              "restrictions": { "start_time": "20:00", "end_time": "23:59" } }
        ]))
    }

    #[test]
    fn step_size_applies_to_the_whole_volume_at_the_last_component() {
        let t = step_size_tariff();
        // Example #2: 16:35 to 17:10 CEST, 35 min charging, billed as 45 min.
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-06-01T14:35:00Z", 35, "5", 0),
        );
        assert_eq!(excl(&p), d("1.30"));
        // Example #1: 10 min charging from 16:55, then 2 min parked. The spec leaves the parking
        // unbilled (0.50); we step each dimension on its own, so 15 min of parking is billed
        // too (see `step_extra`).
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-06-01T14:55:00Z", 10, "2", 2),
        );
        assert_eq!(excl(&p), d("0.75"));
        assert_eq!(p.total_parking_time, d("0.0333"));
        // Example #3: from 19:55; the parking after 20:00 is free.
        let p = price(
            Some(&t),
            "Europe/Amsterdam",
            &session("2026-06-01T17:55:00Z", 10, "2", 2),
        );
        assert_eq!(excl(&p), d("0.60"));
    }

    #[test]
    fn energy_step_size_rounds_up_the_wh() {
        // The spec's PriceComponent note: 115.2 Wh at 0.25/kWh.
        for (step, cost) in [(1, "0.029"), (25, "0.0312"), (500, "0.125")] {
            let t = tariff(json!([{ "price_components": [
                { "type": "ENERGY", "price": 0.25, "step_size": step } ] }]));
            let p = price(
                Some(&t),
                "UTC",
                &session("2026-06-01T10:00:00Z", 10, "0.1152", 0),
            );
            assert_eq!(excl(&p), d(cost), "step {step}");
        }
    }

    #[test]
    fn min_and_max_price_bound_the_total_with_and_without_vat() {
        let energy = json!({ "type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1 });
        let min = tariff_with(json!({ "currency": "EUR",
            "min_price": { "excl_vat": 0.50, "incl_vat": 0.55 },
            "elements": [{ "price_components": [energy] }] }));
        let p = price(
            Some(&min),
            "UTC",
            &session("2026-06-01T10:00:00Z", 10, "1", 0),
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("0.50"),
                incl_vat: Some(d("0.55"))
            }
        );
        let p = price(
            Some(&min),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "20", 0),
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("5.00"),
                incl_vat: Some(d("5.50"))
            }
        );

        let max = tariff_with(json!({ "currency": "EUR",
            "max_price": { "excl_vat": 10.00, "incl_vat": 11.00 },
            "elements": [{ "price_components": [
                { "type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1 }, energy ] }] }));
        let p = price(
            Some(&max),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "50", 0),
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("10"),
                incl_vat: Some(d("11"))
            }
        );
        let p = price(
            Some(&max),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "30", 0),
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("8.00"),
                incl_vat: Some(d("8.85"))
            }
        );
    }

    #[test]
    fn vat_is_applied_per_component() {
        // Start fee 0.50 at 20 % and 0.25/kWh at 10 %: 20 kWh cost 5.50, 6.10 with VAT.
        let t = tariff(json!([
            { "price_components": [{ "type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1 }] },
            { "price_components": [{ "type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "20", 0),
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("5.50"),
                incl_vat: Some(d("6.10"))
            }
        );
        // One component without VAT: its own total and the session's have no incl. VAT.
        let t = tariff(json!([{ "price_components": [
            { "type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1 },
            { "type": "ENERGY", "price": 0.25, "step_size": 1 } ] }]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "20", 0),
        );
        assert_eq!(
            p.total_fixed_cost,
            Some(Price {
                excl_vat: d("0.5"),
                incl_vat: Some(d("0.6"))
            })
        );
        assert_eq!(
            p.total_energy_cost,
            Some(Price {
                excl_vat: d("5"),
                incl_vat: None
            })
        );
        assert_eq!(
            p.total_cost,
            Price {
                excl_vat: d("5.50"),
                incl_vat: None
            }
        );
    }

    #[test]
    fn energy_is_the_register_delta_and_never_negative() {
        let mut usage = session("2026-06-01T10:00:00Z", 60, "0", 0);
        usage.meter_stop_wh = d("900");
        let p = price(None, "UTC", &usage);
        assert_eq!(p.total_energy, d("0"));
        assert_eq!(p.total_parking_time, d("1"));
        // Wh that are not a whole number of 0.1 Wh are rounded to OCPI's 4 decimals of kWh.
        let mut usage = session("2026-06-01T10:00:00Z", 60, "0", 0);
        usage.meter_stop_wh = d("13345.67");
        assert_eq!(price(None, "UTC", &usage).total_energy, d("12.3457"));
    }

    #[test]
    fn flat_fee_is_charged_once() {
        let t = tariff(json!([
            { "price_components": [{ "type": "FLAT", "price": 1.00, "step_size": 1 },
                                   { "type": "ENERGY", "price": 0.10, "step_size": 1 }],
              "restrictions": { "max_kwh": 5 } },
            { "price_components": [{ "type": "FLAT", "price": 2.00, "step_size": 1 },
                                   { "type": "ENERGY", "price": 0.20, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "10", 0),
        );
        assert_eq!(p.charging_periods.len(), 2);
        assert_eq!(
            p.total_fixed_cost.as_ref().map(|c| c.excl_vat),
            Some(d("1"))
        );
        assert_eq!(excl(&p), d("2.50"));
    }

    #[test]
    fn reservation_elements_do_not_price_the_session() {
        let t = tariff(json!([
            { "price_components": [{ "type": "TIME", "price": 5.00, "step_size": 1 }],
              "restrictions": { "reservation": "RESERVATION" } },
            { "price_components": [{ "type": "TIME", "price": 1.00, "step_size": 1 }] }
        ]));
        let p = price(
            Some(&t),
            "UTC",
            &session("2026-06-01T10:00:00Z", 60, "10", 0),
        );
        assert_eq!(excl(&p), d("1"));
    }

    #[test]
    fn refuses_what_it_cannot_price() {
        let usage = session("2026-06-01T10:00:00Z", 60, "10", 0);
        assert_eq!(
            price_session(None, "Mars/Olympus", &usage),
            Err(PricingError::TimeZone("Mars/Olympus".to_owned()))
        );
        let mut backwards = usage.clone();
        backwards.end = at("2026-06-01T09:00:00Z");
        assert_eq!(
            price_session(None, "UTC", &backwards),
            Err(PricingError::Interval)
        );
        let expired = tariff_with(json!({ "currency": "EUR",
            "end_date_time": "2026-06-01T10:00:00Z",
            "elements": [{ "price_components": [{ "type": "FLAT", "price": 1, "step_size": 1 }] }] }));
        assert_eq!(
            price_session(Some(&expired), "UTC", &usage),
            Err(PricingError::TariffNotActive("T1".to_owned()))
        );
        let future = tariff_with(json!({ "currency": "EUR",
            "start_date_time": "2026-06-01T09:59:59Z",
            "elements": [{ "price_components": [{ "type": "FLAT", "price": 1, "step_size": 1 }] }] }));
        assert_eq!(excl(&price(Some(&future), "UTC", &usage)), d("1"));
    }

    #[test]
    fn a_session_without_duration_has_one_period() {
        let usage = session("2026-06-01T10:00:00Z", 0, "0", 0);
        let p = price(None, "UTC", &usage);
        assert_eq!(p.charging_periods.len(), 1);
        assert_eq!(p.total_time, d("0"));
    }
}
