//! One sync's connection to the database, and the only way it runs transactions.
//!
//! [`Session::transaction`] runs a step inside `BEGIN … COMMIT` and runs the whole step again —
//! with the waits of [`super::retry`], inside the retry budget — when the database aborted it to
//! stay serializable (40001), broke a deadlock (40P01), could not tell whether the commit happened
//! (40003), or the connection was lost (then on a new connection). So each step must be safe to
//! run twice: every write of a sync is an upsert or a delete by key, the run's id is drawn before
//! the run row is inserted, and the step that completes a run first reads whether it already did.
//!
//! **A lost connection** (issue 29: SQLSTATE class 08 or 57, a closed socket — a
//! `pg_terminate_backend`, a server restart, a CockroachDB node drain) is one more reason to run
//! the step again: after the wait, on a new connection. While the server is still down or
//! starting up (refused, 57P03), the next wait follows, until the transaction's retry budget
//! ([`super::retry::Policy::budget`], `ENLIST_SYNC_RETRY_SECS`) is spent. The chunks committed
//! before stay committed, so the run resumes at the chunk that was cut off. When the budget is
//! spent, the error is [`SyncError::ConnectionLost`] (exit 75), and the run's last steps (mark it
//! failed, release the lease) go through [`Session::last_words`] on a fresh connection.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, Transaction};

use super::SyncError;
use super::connect::Target;
use super::retry::{Backoff, Jitter, Policy};

/// A connection that survives conflicts and reconnects.
pub struct Session {
    target: Target,
    client: Client,
    policy: Policy,
    jitter: Jitter,
    retries: u32,
    reconnects: u32,
    /// The connection failed and was not replaced yet: the next attempt opens a new one.
    broken: bool,
}

/// The retry budget of the steps after a run gave up (mark it failed, release the lease): short,
/// since the run already spent a whole budget failing; long enough to reconnect once to a server
/// that is back.
pub const LAST_WORDS_BUDGET: Duration = Duration::from_secs(10);

impl Session {
    /// Connects. A server that cannot be reached is not waited for (the URL or the server is
    /// wrong: exit 69 at once); one that answers "starting up" or "shutting down" (57P03) is,
    /// within the retry budget.
    pub async fn open(
        target: &Target,
        policy: Policy,
        mut jitter: Jitter,
    ) -> Result<Session, SyncError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(policy, Jitter::new(jitter.next_u64()));
        let client = loop {
            match target.connect().await {
                Ok(client) => break client,
                Err(error @ SyncError::ConnectionLost { .. }) => {
                    let Some(wait) = backoff.next_wait(started.elapsed()) else {
                        return Err(gave_up(error, backoff.retries(), started, "connecting"));
                    };
                    log::info!("connecting: {error}; trying again in {wait:.2?}");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        };
        Ok(Session {
            target: target.clone(),
            client,
            policy,
            jitter,
            retries: 0,
            reconnects: 0,
            broken: false,
        })
    }

    /// The connection, for statements that need no retry (schema setup runs its own).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The parsed URL (for classifying errors).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How many times a transaction was run again so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// How many times the connection was replaced after it was lost.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// Whether the connection is known to be gone (then statements outside
    /// [`Session::transaction`] would fail).
    pub fn is_broken(&self) -> bool {
        self.broken || self.client.is_closed()
    }

    /// Runs `step` in a transaction and commits; runs it again after a conflict, an ambiguous
    /// commit or a lost connection (see the module docs), within the retry budget. `during`
    /// names the step in messages.
    pub async fn transaction<T>(
        &mut self,
        during: &'static str,
        step: impl AsyncFnMut(&Transaction<'_>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let budget = self.policy.budget;
        self.transaction_within(budget, during, step).await
    }

    /// [`Session::transaction`] for the steps after a run gave up (mark it failed, release the
    /// lease): within [`LAST_WORDS_BUDGET`], on a fresh connection when the old one is gone.
    pub async fn last_words<T>(
        &mut self,
        during: &'static str,
        step: impl AsyncFnMut(&Transaction<'_>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let budget = self.policy.budget.min(LAST_WORDS_BUDGET);
        // A gone connection is replaced first (and waited for, within the budget).
        self.broken = self.is_broken();
        self.transaction_within(budget, during, step).await
    }

    async fn transaction_within<T>(
        &mut self,
        budget: Duration,
        during: &'static str,
        mut step: impl AsyncFnMut(&Transaction<'_>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let started = Instant::now();
        let policy = Policy {
            budget,
            ..self.policy
        };
        let mut backoff = Backoff::new(policy, Jitter::new(self.jitter.next_u64()));
        loop {
            let error = if self.broken {
                // The connection is gone: a new one before running the step.
                match self.reconnect(during).await {
                    Ok(()) => None,
                    Err(e @ SyncError::ConnectionLost { .. }) => Some(e),
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            let error = match error {
                Some(error) => error,
                None => match self.attempt(during, &mut step).await {
                    Ok(value) => return Ok(value),
                    Err(error) => error,
                },
            };
            let lost = self.broken
                || self.client.is_closed()
                || matches!(error, SyncError::ConnectionLost { .. });
            if !(lost || is_retryable(&error)) {
                return Err(error);
            }
            if lost {
                self.broken = true;
            }
            let Some(wait) = backoff.next_wait(started.elapsed()) else {
                return Err(gave_up(error, backoff.retries(), started, during));
            };
            log::info!(
                "{during}: {}; running the transaction again in {wait:.2?} (retry {})",
                if lost {
                    format!("the connection was lost ({error})")
                } else {
                    error.to_string()
                },
                backoff.retries()
            );
            self.retries += 1;
            tokio::time::sleep(wait).await;
        }
    }

    /// Replaces a lost connection. A server that is still down (refused) or starting up (57P03)
    /// leaves the session broken for the next round; anything else (the login is refused now,
    /// the database is gone) is final.
    async fn reconnect(&mut self, during: &'static str) -> Result<(), SyncError> {
        match self.target.connect().await {
            Ok(client) => {
                self.client = client;
                self.broken = false;
                self.reconnects += 1;
                log::info!("{during}: reconnected to the database");
                Ok(())
            }
            Err(e @ (SyncError::Unreachable { .. } | SyncError::ConnectionLost { .. })) => {
                self.broken = true;
                Err(SyncError::ConnectionLost {
                    during,
                    message: format!("reconnecting failed: {e}"),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn attempt<T>(
        &mut self,
        during: &'static str,
        step: &mut impl AsyncFnMut(&Transaction<'_>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let target = &self.target;
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| target.classify(&e, during))?;
        // An error drops `tx`, which rolls it back.
        let value = step(&tx).await?;
        tx.commit().await.map_err(|e| target.classify(&e, during))?;
        Ok(value)
    }
}

/// Errors a transaction is run again for (besides a lost connection).
pub fn is_retryable(error: &SyncError) -> bool {
    matches!(
        error,
        SyncError::Conflict { .. } | SyncError::Ambiguous { .. }
    )
}

/// The error after the budget ran out: what kept failing, and for how long.
fn gave_up(error: SyncError, retries: u32, started: Instant, during: &'static str) -> SyncError {
    let after = format!(
        "gave up after {retries} retries in {:.1?}",
        started.elapsed()
    );
    match error {
        SyncError::Conflict { message, .. } | SyncError::Ambiguous { message, .. } => {
            SyncError::Conflict {
                during,
                message: format!("{message}; {after}"),
            }
        }
        SyncError::ConnectionLost { message, .. } => SyncError::ConnectionLost {
            during,
            message: format!("{message}; {after}"),
        },
        // Any other error of an attempt on a connection that then closed.
        other => SyncError::ConnectionLost {
            during,
            message: format!("{other}; {after}"),
        },
    }
}
