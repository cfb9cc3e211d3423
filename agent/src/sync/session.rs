//! One sync's connection to the database, and the only way it runs transactions.
//!
//! [`Session::transaction`] runs a step inside `BEGIN … COMMIT` and runs the whole step again —
//! with the waits of [`super::retry`], inside the retry budget — when the database aborted it to
//! stay serializable (40001), broke a deadlock (40P01), could not tell whether the commit happened
//! (40003), or the connection was lost (then on a new connection). So each step must be safe to
//! run twice: every write of a sync is an upsert or a delete by key, the run's id is drawn before
//! the run row is inserted, and the step that completes a run first reads whether it already did.

use std::time::Instant;

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
}

impl Session {
    /// Connects (a failure here is not retried: the URL or the server is wrong).
    pub async fn open(
        target: &Target,
        policy: Policy,
        jitter: Jitter,
    ) -> Result<Session, SyncError> {
        let client = target.connect().await?;
        Ok(Session {
            target: target.clone(),
            client,
            policy,
            jitter,
            retries: 0,
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

    /// Runs `step` in a transaction and commits; runs it again after a conflict, an ambiguous
    /// commit or a lost connection (see the module docs). `during` names the step in messages.
    pub async fn transaction<T>(
        &mut self,
        during: &'static str,
        mut step: impl AsyncFnMut(&Transaction<'_>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(self.policy, Jitter::new(self.jitter.next_u64()));
        loop {
            let error = match self.attempt(during, &mut step).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let lost = self.client.is_closed();
            if !(lost || is_retryable(&error)) {
                return Err(error);
            }
            let Some(wait) = backoff.next_wait(started.elapsed()) else {
                return Err(gave_up(error, backoff.retries(), started, during));
            };
            log::info!(
                "{during}: {}; running the transaction again in {wait:.2?} (retry {})",
                if lost {
                    "the connection was lost".to_owned()
                } else {
                    error.to_string()
                },
                backoff.retries()
            );
            self.retries += 1;
            tokio::time::sleep(wait).await;
            if lost {
                match self.target.connect().await {
                    Ok(client) => self.client = client,
                    // Still down: the next round waits longer (or gives up at the budget).
                    Err(e @ SyncError::Unreachable { .. }) => {
                        log::info!("{during}: reconnecting failed ({e})");
                    }
                    Err(e) => return Err(e),
                }
            }
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
    match error {
        SyncError::Conflict { message, .. } | SyncError::Ambiguous { message, .. } => {
            SyncError::Conflict {
                during,
                message: format!(
                    "{message}; gave up after {retries} retries in {:.1?}",
                    started.elapsed()
                ),
            }
        }
        other => other,
    }
}
