//! The lease that keeps two syncs of one selection apart (and two migrations of the schema).
//!
//! CockroachDB has no advisory locks, so the lock is a row in `sync_leases`, keyed by the
//! selection hash (or `schema`), with an expiry in the database's clock (one clock for every
//! client). Taking it is one statement that inserts the row, or takes it over when the holder's
//! lease has expired:
//!
//! ```sql
//! INSERT … ON CONFLICT (selection_hash) DO UPDATE SET … WHERE sync_leases.expires_at < now()
//! RETURNING holder
//! ```
//!
//! No row back means someone else holds it: the second sync polls until [`Timing::wait`] runs out
//! and then refuses (exit 75, retry later).
//!
//! **Heartbeat** (issue 29). While a sync or a migration works, a [`Heartbeat`] renews the lease
//! every third of its lifetime, whatever the work is doing (a slow chunk, reconcile's analysis,
//! a long schema change). It runs on a connection of its own: the run's connection spends its
//! time inside transactions, and a renewal sent there would commit or roll back with them. So
//! the lifetime can be short ([`Timing::default`]: 30 s) and a killed sync blocks the next one
//! for at most that long. The renewal uses `clock_timestamp()`, the time it runs, not the start
//! of a transaction it may have waited behind.
//!
//! **Fencing.** Each chunk transaction reads the lease row first ([`check`]): when it is no
//! longer ours (it expired and was taken over), the chunk writes nothing. The read takes no lock
//! — on PostgreSQL a renewal (an `UPDATE`) would wait behind a row lock, and on CockroachDB behind
//! a write intent, until the chunk commits, so a chunk longer than the lifetime would lose the
//! lease it is working under. A read cannot be fenced as tightly as a lock under PostgreSQL's
//! READ COMMITTED (a take-over could commit between the read and the chunk's commit), so
//! sightings only ever move forward ([`super::upsert`]: an older run never overwrites a newer
//! one's) and the **completion**, the one write readers trust, renews the lease with a locking
//! `UPDATE` inside its transaction ([`fence`]): on PostgreSQL the row lock holds off a take-over
//! until it commits; under SERIALIZABLE (CockroachDB's only level) the read alone is enough.
use std::time::{Duration, Instant};

use tokio_postgres::{Client, GenericClient};

use super::SyncError;
use super::connect::Target;
use super::session::Session;

/// How long a lease lasts and how long a second sync waits for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Lease lifetime; the [`Heartbeat`] renews it every third of it. A killed sync blocks its
    /// selection (a killed migration every sync) for at most this long.
    pub ttl: Duration,
    /// How long a sync waits for another sync of the same selection (or a schema change) before
    /// refusing.
    pub wait: Duration,
}

/// The shortest `ENLIST_SYNC_LEASE_TTL_SECS`: below a second the heartbeat's round trips (every
/// third of it) would be most of what a sync does.
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// The longest `ENLIST_SYNC_LEASE_TTL_SECS`: an hour; longer only blocks the next sync longer
/// after a crash (the heartbeat keeps a live sync's lease whatever the lifetime).
pub const MAX_TTL: Duration = Duration::from_secs(3600);

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            // Renewed by the heartbeat every 10 s, so a live sync keeps it however long it runs;
            // two missed renewals in a row (a database restart) are still survived, and a killed
            // sync blocks the next one for half a minute.
            ttl: Duration::from_secs(30),
            // Long enough to wait for a live sync of 100,000 nodes over a WAN to finish.
            wait: Duration::from_secs(360),
        }
    }
}

/// What a lease guards: what a waiting sync is told, and how it refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One selection's syncs.
    Selection,
    /// Creating or migrating the schema.
    Schema,
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

/// Takes the lease of `key` (a selection hash, or `schema`), waiting up to `timing.wait` for
/// another holder. Each attempt is one transaction, retried on conflicts like every other
/// ([`Session::transaction`]).
pub async fn acquire(
    session: &mut Session,
    key: &str,
    holder: &str,
    timing: Timing,
    scope: Scope,
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
                        &[&key, &holder, &ttl_secs],
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
                        &[&key],
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
                    selection_hash: key.to_owned(),
                    holder: holder.to_owned(),
                    ttl: timing.ttl,
                });
            }
            Some(None) => continue,
            Some(Some(current)) => current,
        };
        let waited = started.elapsed();
        if waited >= timing.wait {
            let waited_secs = waited.as_secs();
            return Err(match scope {
                Scope::Selection => SyncError::LeaseHeld {
                    holder: other,
                    since,
                    expires,
                    waited_secs,
                },
                Scope::Schema => SyncError::SchemaChangeInProgress {
                    holder: other,
                    since,
                    expires,
                    waited_secs,
                },
            });
        }
        if !announced {
            let what = match scope {
                Scope::Selection => "another sync of this selection is running",
                Scope::Schema => "a schema change is in progress",
            };
            log::info!(
                "{what} ({other}, since {since}); waiting up to {}s for it to finish (its lease \
                 expires {expires})",
                timing.wait.as_secs()
            );
            announced = true;
        }
        tokio::time::sleep(poll.min(timing.wait.saturating_sub(waited))).await;
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// Inside a chunk transaction: checks the lease is still ours, without locking its row (see the
/// module docs). Nothing back means it expired and was taken over: the caller must roll back.
pub async fn check(
    tx: &impl GenericClient,
    target: &Target,
    lease: &Lease,
) -> Result<(), SyncError> {
    let held = tx
        .query_opt(
            "SELECT holder FROM sync_leases WHERE selection_hash = $1::TEXT AND holder = $2::TEXT",
            &[&lease.selection_hash, &lease.holder],
        )
        .await
        .map_err(|e| target.classify(&e, "checking the sync lease"))?;
    if held.is_none() {
        return Err(SyncError::LeaseLost {
            ttl_secs: lease.ttl.as_secs(),
        });
    }
    Ok(())
}

/// Inside the completion's transaction: checks the lease is still ours and renews it, holding
/// its row until commit (see the module docs). Zero rows means it expired and was taken over:
/// the caller must roll back.
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

/// Gives the lease back (best effort, within [`Session::last_words`]: on a fresh connection when
/// the run's was lost; an unreleased lease expires on its own).
pub async fn release(session: &mut Session, lease: &Lease) {
    let target = session.target().clone();
    let released = session
        .last_words("releasing the sync lease", async |tx| {
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

/// How often the [`Heartbeat`] renews a lease of lifetime `ttl`: a third of it, so two renewals
/// in a row may fail (a database restart) before it expires.
pub fn heartbeat_interval(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100))
}

/// The renewal: from the time it runs (`clock_timestamp()`, on both databases), so a renewal
/// that waited behind the completion's row lock still extends the lease from now.
const RENEW: &str = "UPDATE sync_leases SET expires_at = clock_timestamp() + $3::FLOAT8 * \
                     INTERVAL '1 second' WHERE selection_hash = $1::TEXT AND holder = $2::TEXT";

/// Renews a held lease from a connection of its own until stopped (see the module docs). A lost
/// connection is opened again at the next beat; a lease found taken over ends the heartbeat (the
/// run's next [`check`] then stops the run).
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    /// Starts renewing `lease` on the current runtime.
    pub fn start(target: &Target, lease: &Lease) -> Heartbeat {
        let task = tokio::spawn(beat(target.clone(), lease.clone()));
        Heartbeat { task }
    }

    /// Stops renewing (before the lease is released).
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn beat(target: Target, lease: Lease) {
    let every = heartbeat_interval(lease.ttl);
    // After a failure: sooner than the next beat, so one failed renewal is made up for.
    let again = (every / 4).max(Duration::from_millis(100));
    let mut client: Option<Client> = None;
    let mut failing = false;
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        wait = every;
        let connected = match client.take().filter(|c| !c.is_closed()) {
            Some(c) => Ok(c),
            None => target.connect().await,
        };
        let renewed = match connected {
            Ok(c) => {
                let renewed = c
                    .execute(
                        RENEW,
                        &[
                            &lease.selection_hash,
                            &lease.holder,
                            &lease.ttl.as_secs_f64(),
                        ],
                    )
                    .await
                    .map_err(|e| target.classify(&e, "renewing the sync lease"));
                client = Some(c);
                renewed
            }
            Err(e) => Err(e),
        };
        match renewed {
            Ok(0) => {
                log::warn!(
                    "the sync lease ({}) was taken over by another sync: this sync stops at its \
                     next transaction",
                    lease.holder
                );
                return;
            }
            Ok(_) => {
                if failing {
                    log::info!("lease heartbeat: renewed again");
                    failing = false;
                } else {
                    log::debug!("lease heartbeat: renewed for {}s", lease.ttl.as_secs());
                }
            }
            Err(e) => {
                if !failing {
                    log::info!(
                        "lease heartbeat: could not renew the lease ({e}); trying again in \
                         {again:.2?}"
                    );
                }
                failing = true;
                wait = again;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_renews_three_times_per_lifetime() {
        assert_eq!(
            heartbeat_interval(Timing::default().ttl),
            Duration::from_secs(10)
        );
        assert_eq!(heartbeat_interval(MIN_TTL), MIN_TTL / 3);
        assert!(heartbeat_interval(Duration::ZERO) >= Duration::from_millis(100));
        // A killed sync blocks the next one about a minute at most (SPEC §5b).
        assert!(Timing::default().ttl <= Duration::from_secs(60));
    }
}
