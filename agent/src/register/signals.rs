//! SIGTERM and SIGINT during a run: systemd sends SIGTERM at shutdown, on `systemctl stop` and
//! when the unit's start timeout passes; a person at a terminal presses Ctrl-C. Either stops the
//! work where it is (a write in flight is ambiguous, which the next run re-checks like any crash),
//! then the run still revokes its GitHub App installation token (bounded by the request timeout),
//! logs `registration.failed` with kind `interrupted`, records the attempt and exits 75.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals a run listens for.
pub struct Stop {
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Stop {
    /// Listens for SIGTERM and SIGINT from now on (the binary). A listener that cannot be set up
    /// is left out with a debug line: the signal then ends the process as it did before.
    pub fn listen() -> Stop {
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                log::debug!("cannot listen for {name}: {e}");
                None
            }
        };
        Stop {
            term: install(SignalKind::terminate(), "SIGTERM"),
            int: install(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Never stops (the library entry point in tests).
    pub fn never() -> Stop {
        Stop {
            term: None,
            int: None,
        }
    }

    /// Waits for a signal; its name.
    pub async fn wait(&mut self) -> &'static str {
        tokio::select! {
            () = recv(&mut self.term) => "SIGTERM",
            () = recv(&mut self.int) => "SIGINT",
        }
    }
}

async fn recv(signal: &mut Option<Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
