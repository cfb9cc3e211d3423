//! Time as a seam: the wall clock (for the "clock before build date" check and timestamps), a
//! monotonic elapsed time (for the readiness deadline), sleeping, and jitter. Production uses
//! [`SystemClock`]; tests use a clock that records sleeps instead of taking them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Time source for the registration engine.
pub trait Clock: Send + Sync {
    /// Wall-clock now.
    fn now(&self) -> SystemTime;
    /// Monotonic time since the run started.
    fn elapsed(&self) -> Duration;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
    /// A pseudo-random number in `0..=max` for jitter.
    fn jitter(&self, max: Duration) -> Duration;
}

/// The real clock, with jitter from a SplitMix64 seeded by time and pid (no crate needed for this).
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
    rng: Mutex<SplitMix64>,
}

impl Default for SystemClock {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        SystemClock {
            start: Instant::now(),
            rng: Mutex::new(SplitMix64(
                nanos ^ u64::from(std::process::id()).rotate_left(32),
            )),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }

    fn jitter(&self, max: Duration) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        rng.duration_up_to(max)
    }
}

/// SplitMix64: tiny, seedable, good enough for spreading retries.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// Next pseudo-random value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration in `0..=max`, millisecond resolution.
    pub fn duration_up_to(&mut self, max: Duration) -> Duration {
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if max_ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next_u64() % max_ms.saturating_add(1))
    }
}
