//! A station's configuration, as both versions see it: 1.6 configuration keys and 2.0.1
//! component/variable pairs are one store, so a value changed in one vocabulary reads back in the
//! other and drives the station's behaviour (heartbeat and meter intervals).

/// One setting.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The 1.6 configuration key.
    pub key: &'static str,
    /// The 2.0.1 component.
    pub component: &'static str,
    /// The 2.0.1 variable.
    pub variable: &'static str,
    /// Current value.
    pub value: String,
    /// Read-only settings are reported but refuse changes.
    pub readonly: bool,
}

/// What a change request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Stored and in effect.
    Accepted,
    /// Read-only or an invalid value.
    Rejected,
    /// No such setting.
    Unknown,
}

/// The per-station settings store.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    settings: Vec<Setting>,
}

impl ConfigStore {
    /// The defaults of a freshly installed station.
    pub fn new(connectors: u32, heartbeat_s: u64, meter_interval_s: u64) -> ConfigStore {
        let s = |key, component, variable, value: String, readonly| Setting {
            key,
            component,
            variable,
            value,
            readonly,
        };
        ConfigStore {
            settings: vec![
                s(
                    "HeartbeatInterval",
                    "OCPPCommCtrlr",
                    "HeartbeatInterval",
                    heartbeat_s.to_string(),
                    false,
                ),
                s(
                    "MeterValueSampleInterval",
                    "SampledDataCtrlr",
                    "TxUpdatedInterval",
                    meter_interval_s.to_string(),
                    false,
                ),
                s(
                    "ConnectionTimeOut",
                    "TxCtrlr",
                    "EVConnectionTimeOut",
                    "60".into(),
                    false,
                ),
                s(
                    "LocalAuthorizeOffline",
                    "AuthCtrlr",
                    "LocalAuthorizeOffline",
                    "true".into(),
                    false,
                ),
                s(
                    "AuthorizeRemoteTxRequests",
                    "AuthCtrlr",
                    "AuthorizeRemoteStart",
                    "false".into(),
                    false,
                ),
                s(
                    "LocalAuthListEnabled",
                    "LocalAuthListCtrlr",
                    "Enabled",
                    "true".into(),
                    false,
                ),
                s(
                    "MeterValuesSampledData",
                    "SampledDataCtrlr",
                    "TxUpdatedMeasurands",
                    "Energy.Active.Import.Register,Power.Active.Import".into(),
                    false,
                ),
                s(
                    "NumberOfConnectors",
                    "ChargingStation",
                    "NumberOfConnectors",
                    connectors.to_string(),
                    true,
                ),
                s(
                    "SupportedFeatureProfiles",
                    "ChargingStation",
                    "SupportedFeatureProfiles",
                    "Core,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging".into(),
                    true,
                ),
            ],
        }
    }

    /// All settings, in a stable order.
    pub fn all(&self) -> &[Setting] {
        &self.settings
    }

    /// A setting by 1.6 key.
    pub fn by_key(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// A setting by 2.0.1 component and variable (names compared case-insensitively, as the
    /// device model does).
    pub fn by_variable(&self, component: &str, variable: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| {
            s.component.eq_ignore_ascii_case(component) && s.variable.eq_ignore_ascii_case(variable)
        })
    }

    /// Whether any setting belongs to `component`.
    pub fn knows_component(&self, component: &str) -> bool {
        self.settings
            .iter()
            .any(|s| s.component.eq_ignore_ascii_case(component))
    }

    /// Changes the setting with 1.6 key `key`.
    pub fn set_key(&mut self, key: &str, value: &str) -> Change {
        match self.settings.iter().position(|s| s.key == key) {
            Some(i) => self.set(i, value),
            None => Change::Unknown,
        }
    }

    /// Changes the setting at `component`/`variable`.
    pub fn set_variable(&mut self, component: &str, variable: &str, value: &str) -> Change {
        match self.settings.iter().position(|s| {
            s.component.eq_ignore_ascii_case(component) && s.variable.eq_ignore_ascii_case(variable)
        }) {
            Some(i) => self.set(i, value),
            None => Change::Unknown,
        }
    }

    fn set(&mut self, i: usize, value: &str) -> Change {
        let setting = &mut self.settings[i];
        if setting.readonly {
            return Change::Rejected;
        }
        // Intervals must be whole seconds; a station refuses anything else.
        let numeric = matches!(
            setting.key,
            "HeartbeatInterval" | "MeterValueSampleInterval" | "ConnectionTimeOut"
        );
        if numeric && value.parse::<u64>().is_err() {
            return Change::Rejected;
        }
        setting.value = value.to_owned();
        Change::Accepted
    }

    /// A numeric setting by 1.6 key.
    pub fn seconds(&self, key: &str) -> Option<u64> {
        self.by_key(key).and_then(|s| s.value.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_vocabularies_share_one_value() {
        let mut store = ConfigStore::new(2, 300, 60);
        assert_eq!(
            store.set_key("MeterValueSampleInterval", "15"),
            Change::Accepted
        );
        assert_eq!(
            store
                .by_variable("SampledDataCtrlr", "TxUpdatedInterval")
                .map(|s| s.value.as_str()),
            Some("15")
        );
        assert_eq!(store.set_key("NumberOfConnectors", "4"), Change::Rejected);
        assert_eq!(store.set_key("HeartbeatInterval", "soon"), Change::Rejected);
        assert_eq!(store.set_variable("Foo", "Bar", "1"), Change::Unknown);
    }
}
