//! The core's clock: time is handed in by the shell, never read.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the daemon's monotonic clock: the time elapsed since an arbitrary origin the
/// shell picks (its start). Tests drive it by hand, which is what makes every timer testable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    pub const ZERO: Time = Time(Duration::ZERO);

    pub fn from_duration(since_origin: Duration) -> Time {
        Time(since_origin)
    }
    pub fn since_origin(self) -> Duration {
        self.0
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d))
    }
}
