//! A virtual clock: sleeping advances time instantly and is recorded, so tests can assert how long
//! the client *would* have waited (retry-after, backoff) without waiting.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use enlist::clock::{Clock, Sleep, SplitMix64};

/// Virtual time.
pub struct VirtualClock {
    inner: Mutex<Inner>,
}

struct Inner {
    now: SystemTime,
    elapsed: Duration,
    sleeps: Vec<Duration>,
    rng: SplitMix64,
}

impl VirtualClock {
    /// Starts at 2026-11-21T12:00:00Z.
    pub fn new() -> VirtualClock {
        VirtualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400))
    }

    /// Starts at `now`.
    pub fn at(now: SystemTime) -> VirtualClock {
        VirtualClock {
            inner: Mutex::new(Inner {
                now,
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
                rng: SplitMix64(7),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every sleep requested so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Total virtual time slept.
    pub fn slept(&self) -> Duration {
        self.lock().sleeps.iter().sum()
    }

    /// Moves the wall clock (not the elapsed time), e.g. to simulate time sync.
    pub fn set_now(&self, now: SystemTime) {
        self.lock().now = now;
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        self.lock().now
    }

    fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut inner = self.lock();
        inner.sleeps.push(duration);
        inner.elapsed += duration;
        inner.now += duration;
        Box::pin(std::future::ready(()))
    }

    fn jitter(&self, max: Duration) -> Duration {
        self.lock().rng.duration_up_to(max)
    }
}

/// Real time running `scale` times faster: sleeping `d` takes `d / scale` of real time, and the
/// wall clock and elapsed time advance `scale` times faster. For the fleet simulation, where
/// hundreds of nodes really run concurrently against a fake whose limits are scaled the same way.
pub struct ScaledClock {
    start: std::time::Instant,
    epoch: SystemTime,
    scale: f64,
    rng: Mutex<SplitMix64>,
}

impl ScaledClock {
    /// A clock `scale` times faster than real time, starting now at 2026-11-21T12:00:00Z.
    pub fn new(scale: f64, seed: u64) -> ScaledClock {
        ScaledClock {
            start: std::time::Instant::now(),
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400),
            scale,
            rng: Mutex::new(SplitMix64(seed)),
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> SystemTime {
        self.epoch + self.elapsed()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed().mul_f64(self.scale)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration.div_f64(self.scale)))
    }

    fn jitter(&self, max: Duration) -> Duration {
        self.rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .duration_up_to(max)
    }
}
