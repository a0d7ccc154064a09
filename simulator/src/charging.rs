//! The electrical side of a virtual charger: what the car draws over a session, capped by charging
//! profiles, and the energy register that integrates it.

/// Nominal line voltage used to turn ampere limits into watts.
pub const VOLTS: f64 = 230.0;

/// A car's charging curve: a ramp up, a plateau at the connector's maximum, then a taper as the
/// battery fills (the constant-voltage phase of a lithium-ion charge).
#[derive(Debug, Clone, Copy)]
pub struct PowerCurve {
    /// Highest power the connector delivers, in W.
    pub max_w: f64,
    /// Seconds from plug-in to full power.
    pub ramp_s: f64,
    /// Fraction of the session after which the taper starts (0..1).
    pub taper_from: f64,
    /// Power at the very end of the session as a fraction of `max_w`.
    pub taper_to: f64,
}

impl Default for PowerCurve {
    fn default() -> Self {
        PowerCurve {
            max_w: 11_000.0,
            ramp_s: 60.0,
            taper_from: 0.7,
            taper_to: 0.3,
        }
    }
}

impl PowerCurve {
    /// Power drawn `elapsed_s` into a session planned to last `total_s`, before any cap.
    pub fn power_at(&self, elapsed_s: f64, total_s: f64) -> f64 {
        let ramp = if self.ramp_s > 0.0 {
            (elapsed_s / self.ramp_s).clamp(0.05, 1.0)
        } else {
            1.0
        };
        let progress = if total_s > 0.0 {
            (elapsed_s / total_s).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let taper = if progress > self.taper_from && self.taper_from < 1.0 {
            let t = (progress - self.taper_from) / (1.0 - self.taper_from);
            1.0 - t * (1.0 - self.taper_to)
        } else {
            1.0
        };
        self.max_w * ramp * taper
    }
}

/// A charging-profile limit as the station applies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Watts.
    Watts(f64),
    /// Amperes per phase, with the number of phases.
    Amps(f64, u32),
}

impl Limit {
    /// The limit in watts.
    pub fn watts(self) -> f64 {
        match self {
            Limit::Watts(w) => w,
            Limit::Amps(a, phases) => a * VOLTS * f64::from(phases.max(1)),
        }
    }
}

/// Whole watt-hours delivered at `power_w` over `seconds`.
pub fn energy_wh(power_w: f64, seconds: f64) -> u64 {
    (power_w.max(0.0) * seconds / 3600.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_holds_and_tapers() {
        let curve = PowerCurve::default();
        assert!(curve.power_at(10.0, 3600.0) < curve.max_w);
        assert_eq!(curve.power_at(600.0, 3600.0), curve.max_w);
        let end = curve.power_at(3600.0, 3600.0);
        assert!((end - curve.max_w * 0.3).abs() < 1.0);
    }

    #[test]
    fn amp_limits_become_watts() {
        assert_eq!(Limit::Amps(16.0, 3).watts(), 16.0 * 230.0 * 3.0);
        assert_eq!(energy_wh(11_000.0, 3600.0), 11_000);
    }
}
