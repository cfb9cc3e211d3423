//! The lease that keeps two syncs of one selection apart.
//!
//! CockroachDB has no advisory locks, so the lock is a row in `sync_leases`, keyed by the
//! selection hash, with an expiry in the database's clock (one clock for every client). Taking it
//! is one statement that inserts the row, or takes it over when the holder's lease has expired
//! (a sync that crashed blocks others for at most [`Timing::ttl`]):
//!
//! ```sql
//! INSERT … ON CONFLICT (selection_hash) DO UPDATE SET … WHERE sync_leases.expires_at < now()
//! RETURNING holder
//! ```
//!
//! No row back means someone else holds it: the second sync polls until [`Timing::wait`] runs out
//! and then refuses (exit 75, retry later). The data transaction re-checks and extends the lease
//! inside itself ([`fence`]): if the lease was lost (expired and taken over), it writes nothing.
//! On PostgreSQL the fence's `UPDATE` also row-locks the lease until commit, so a take-over
//! cannot slip in between the check and the commit; on CockroachDB serializable isolation gives
//! the same guarantee.

use std::time::{Duration, Instant};

use tokio_postgres::GenericClient;

use super::SyncError;
use super::connect::Target;
use super::session::Session;

/// How long a lease lasts and how long a second sync waits for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Lease lifetime; the data transaction extends it. A crashed sync blocks its selection for
    /// at most this long.
    pub ttl: Duration,
    /// How long a sync waits for another sync of the same selection before refusing.
    pub wait: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            // Long enough for a 100k-node sync over a WAN; short enough that a crashed CI job
            // does not block the next merge for long.
            ttl: Duration::from_secs(300),
            // Longer than the ttl: a waiting sync outlives a crashed holder's lease.
            wait: Duration::from_secs(360),
        }
    }
}

/// A held lease.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The selection it covers.
    pub selection_hash: String,
    /// Who holds it (host, pid, random suffix).
    pub holder: String,
    /// Its lifetime.
    pub ttl: Duration,
}

/// First poll interval when the lease is held; doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(2);

/// Takes the lease of `selection_hash`, waiting up to `timing.wait` for another holder. Each
/// attempt is one transaction, retried on conflicts like every other ([`Session::transaction`]).
pub async fn acquire(
    session: &mut Session,
    selection_hash: &str,
    holder: &str,
    timing: Timing,
) -> Result<Lease, SyncError> {
    let started = Instant::now();
    let mut poll = FIRST_POLL;
    let mut announced = false;
    let ttl_secs = timing.ttl.as_secs_f64();
    let target = session.target().clone();
    loop {
        // Taken, or who holds it (a row released in between reads as nobody: try again at once).
        let state = session
            .transaction("taking the sync lease", async |tx| {
                let taken = tx
                    .query_opt(
                        "INSERT INTO sync_leases (selection_hash, holder, acquired_at, expires_at) \
                         VALUES ($1, $2, now(), now() + $3::FLOAT8 * INTERVAL '1 second') \
                         ON CONFLICT (selection_hash) DO UPDATE SET holder = excluded.holder, \
                         acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
                         WHERE sync_leases.expires_at < now() \
                         RETURNING holder",
                        &[&selection_hash, &holder, &ttl_secs],
                    )
                    .await
                    .map_err(|e| target.classify(&e, "taking the sync lease"))?;
                if taken.is_some() {
                    return Ok(None);
                }
                let current = tx
                    .query_opt(
                        "SELECT holder, acquired_at::TEXT, expires_at::TEXT FROM sync_leases \
                         WHERE selection_hash = $1",
                        &[&selection_hash],
                    )
                    .await
                    .map_err(|e| target.classify(&e, "reading the sync lease"))?;
                Ok(Some(current.map(|row| {
                    (
                        row.get::<_, String>(0),
                        row.get::<_, String>(1),
                        row.get::<_, String>(2),
                    )
                })))
            })
            .await?;
        let (other, since, expires) = match state {
            None => {
                return Ok(Lease {
                    selection_hash: selection_hash.to_owned(),
                    holder: holder.to_owned(),
                    ttl: timing.ttl,
                });
            }
            Some(None) => continue,
            Some(Some(current)) => current,
        };
        let waited = started.elapsed();
        if waited >= timing.wait {
            return Err(SyncError::LeaseHeld {
                holder: other,
                since,
                expires,
                waited_secs: waited.as_secs(),
            });
        }
        if !announced {
            log::info!(
                "another sync of this selection is running ({other}, since {since}); waiting up to \
                 {}s for it to finish (its lease expires {expires})",
                timing.wait.as_secs()
            );
            announced = true;
        }
        tokio::time::sleep(poll.min(timing.wait.saturating_sub(waited))).await;
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// Inside the data transaction: checks the lease is still ours and extends it. Zero rows means
/// it expired and was taken over: the caller must roll back.
pub async fn fence(
    tx: &impl GenericClient,
    target: &Target,
    lease: &Lease,
) -> Result<(), SyncError> {
    let updated = tx
        .execute(
            "UPDATE sync_leases SET expires_at = now() + $3::FLOAT8 * INTERVAL '1 second' \
             WHERE selection_hash = $1 AND holder = $2",
            &[
                &lease.selection_hash,
                &lease.holder,
                &lease.ttl.as_secs_f64(),
            ],
        )
        .await
        .map_err(|e| target.classify(&e, "renewing the sync lease"))?;
    if updated == 0 {
        return Err(SyncError::LeaseLost {
            ttl_secs: lease.ttl.as_secs(),
        });
    }
    Ok(())
}

/// Gives the lease back (best effort: an unreleased lease expires on its own).
pub async fn release(session: &mut Session, lease: &Lease) {
    let target = session.target().clone();
    let released = session
        .transaction("releasing the sync lease", async |tx| {
            tx.execute(
                "DELETE FROM sync_leases WHERE selection_hash = $1 AND holder = $2",
                &[&lease.selection_hash, &lease.holder],
            )
            .await
            .map_err(|e| target.classify(&e, "releasing the sync lease"))
        })
        .await;
    if let Err(e) = released {
        log::warn!(
            "could not release the sync lease ({e}); it expires on its own within {}s",
            lease.ttl.as_secs()
        );
    }
}

/// A holder name that says where the sync runs and cannot collide: `host pid 1234 #a1b2c3d4`.
pub fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    let mut nonce = [0u8; 4];
    let random = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map(|()| crate::hash::hex(&nonce))
        .unwrap_or_else(|_| format!("{:08x}", std::process::id()));
    format!("{host} pid {} #{random}", std::process::id())
}
