//! When and how long to wait before running a transaction again.
//!
//! Under SERIALIZABLE isolation — CockroachDB's only level, and PostgreSQL's when
//! `default_transaction_isolation = serializable` — the database aborts one of two overlapping
//! transactions with SQLSTATE 40001 and expects the client to run it again; PostgreSQL also
//! breaks deadlocks with 40P01. CockroachDB answers 40003 when it cannot tell whether a commit
//! happened. enlist runs **every** transaction again in those cases (each of its transactions is
//! written so that running it twice is the same as once, and the completion re-reads the run
//! first, so a re-run *is* the re-check), and after a lost connection too, on a new one.
//!
//! The waits grow exponentially from [`Policy::first`] to [`Policy::max`], each drawn at random
//! from the upper half of its step ("equal jitter"), so syncs that collided once do not collide
//! again in lockstep, yet each waits at least half its step. One transaction gives up when the
//! next wait would end past [`Policy::budget`] from its first attempt. The jitter is drawn from a
//! seeded generator: production seeds it from the system's random source, tests with a constant.

use std::time::Duration;

use crate::clock::SplitMix64;

/// How long and how often a transaction is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Total time one transaction may take, retries and waits included.
    pub budget: Duration,
    /// The first wait's step.
    pub first: Duration,
    /// The largest step.
    pub max: Duration,
}

/// Per transaction: long enough to outlast a burst of conflicts between several CI jobs syncing
/// overlapping selections at once (measured: four 2,000-node syncs under SERIALIZABLE need a few
/// seconds), short enough that a stuck database fails the job within minutes. Overridden by
/// `ENLIST_SYNC_RETRY_SECS`.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            budget: DEFAULT_BUDGET,
            // A conflicting transaction of another sync usually commits within tens of ms.
            first: Duration::from_millis(20),
            // Beyond a few seconds waiting longer does not help: the other sync's transactions
            // are small (one chunk), so a retry soon finds the rows free.
            max: Duration::from_secs(4),
        }
    }
}

/// The waits' generator: the crate's [`SplitMix64`], seeded per process or by a test.
#[derive(Clone, Debug)]
pub struct Jitter(SplitMix64);

impl Jitter {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Jitter {
        Jitter(SplitMix64(seed))
    }

    /// Seeded from the system's random source (the process id and time if that fails).
    pub fn from_entropy() -> Jitter {
        let mut bytes = [0u8; 8];
        let seed =
            match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes) {
                Ok(()) => u64::from_le_bytes(bytes),
                Err(_) => {
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or_default();
                    (u64::from(std::process::id()) << 32) | u64::from(nanos)
                }
            };
        Jitter::new(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// The waits of one transaction's retries.
#[derive(Debug)]
pub struct Backoff {
    policy: Policy,
    jitter: Jitter,
    attempts: u32,
}

impl Backoff {
    /// Backoff for one transaction.
    pub fn new(policy: Policy, jitter: Jitter) -> Backoff {
        Backoff {
            policy,
            jitter,
            attempts: 0,
        }
    }

    /// How many waits were handed out.
    pub fn retries(&self) -> u32 {
        self.attempts
    }

    /// The wait before the next attempt, given how long the transaction has taken so far; `None`
    /// when that wait would end past the budget (give up).
    pub fn next_wait(&mut self, elapsed: Duration) -> Option<Duration> {
        let step = self
            .policy
            .first
            .saturating_mul(1u32 << self.attempts.min(20))
            .min(self.policy.max);
        let half = step / 2;
        let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            self.jitter.next_u64() % (spread + 1)
        };
        let wait = half + Duration::from_micros(extra);
        if elapsed.saturating_add(wait) > self.policy.budget {
            return None;
        }
        self.attempts += 1;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(seed: u64, policy: Policy) -> Vec<Duration> {
        let mut backoff = Backoff::new(policy, Jitter::new(seed));
        let mut elapsed = Duration::ZERO;
        let mut out = Vec::new();
        while let Some(wait) = backoff.next_wait(elapsed) {
            elapsed += wait;
            out.push(wait);
        }
        assert_eq!(backoff.retries() as usize, out.len());
        out
    }

    #[test]
    fn waits_grow_exponentially_with_jitter_up_to_the_cap_and_stop_at_the_budget() {
        let policy = Policy {
            budget: Duration::from_secs(30),
            first: Duration::from_millis(100),
            max: Duration::from_secs(4),
        };
        let got = waits(7, policy);
        for (i, wait) in got.iter().enumerate() {
            let step = (Duration::from_millis(100) * (1 << i.min(20))).min(policy.max);
            assert!(
                *wait >= step / 2 && *wait <= step,
                "wait {i}: {wait:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
        // Capped: the late waits are between 2 s and 4 s.
        assert!(got[8..].iter().all(|w| *w >= Duration::from_secs(2)));
        let total: Duration = got.iter().sum();
        assert!(total <= policy.budget, "{total:?}");
        assert!(
            total > policy.budget - policy.max,
            "used the budget: {total:?}"
        );
        // Deterministic per seed, different across seeds (the point of jitter).
        assert_eq!(got, waits(7, policy));
        assert_ne!(got, waits(8, policy));
    }

    #[test]
    fn no_budget_means_no_retry() {
        let policy = Policy {
            budget: Duration::ZERO,
            ..Policy::default()
        };
        assert!(waits(1, policy).is_empty());
    }
}
