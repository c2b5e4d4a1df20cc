//! Clocks for tests: the [`Clock`] port itself and the system clock live in
//! [`crate::ports`]; this one only moves when a test says so.

use chrono::{DateTime, Utc};

use crate::ports::Clock;

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(start))
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|p| *p.into_inner())
    }
}
