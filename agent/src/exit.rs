//! Exit codes (sysexits.h), the contract with the systemd unit: it restarts only on the transient
//! 69/73/75; every other code is final until the next boot (or the timer's next run). `main` maps every failure through here; registration errors through
//! [`of_register`], which the end-to-end tests also use to assert the documented codes.

use crate::doctor::DoctorError;
use crate::facts::FactsError;
use crate::forge::{AppError, ForgeError};
use crate::gate::GateError;
use crate::register::RegisterError;
use crate::register::planner::PlanError;
use crate::register::readiness::NotReady;
use crate::sync::SyncError;

/// Success (including "already registered", "pending", "rejected", dry run).
pub const OK: u8 = 0;
/// `reconcile` found invalid files/rows or duplicates (or, with `--strict`, gaps).
pub const FINDINGS: u8 = 1;
/// Usage error.
pub const USAGE: u8 = 64;
/// Data error: unresolvable node id collision, invalid upstream node.yaml.
pub const DATAERR: u8 = 65;
/// GitHub unreachable (or the clock never synced) within the readiness timeout.
pub const UNAVAILABLE: u8 = 69;
/// Internal error (a bug).
pub const SOFTWARE: u8 = 70;
/// The operating system would not tell us something (kernel facts, writing output).
pub const OSERR: u8 = 71;
/// The state directory cannot be created, locked or written.
pub const CANTCREAT: u8 = 73;
/// Temporary failure: retry later.
pub const TEMPFAIL: u8 = 75;
/// GitHub answered something enlist does not know how to handle.
pub const PROTOCOL: u8 = 76;
/// Permission: token rejected or lacking rights.
pub const NOPERM: u8 = 77;
/// Configuration error.
pub const CONFIG: u8 = 78;

/// The exit code of a failed registration.
pub fn of_register(error: &RegisterError) -> u8 {
    match error {
        RegisterError::Config(_)
        | RegisterError::LiveInstaller { .. }
        | RegisterError::Hostname(_) => CONFIG,
        RegisterError::RepoNotFound { .. } | RegisterError::BaseBranchMissing { .. } => CONFIG,
        RegisterError::Facts(FactsError::NoIdentity(_)) => CONFIG,
        RegisterError::Facts(FactsError::Kernel(_)) => OSERR,
        RegisterError::Lock(_) | RegisterError::Marker(_) => CANTCREAT,
        RegisterError::NotReady(NotReady::Unreachable { .. } | NotReady::ClockNotSynced { .. }) => {
            UNAVAILABLE
        }
        RegisterError::Plan(PlanError::NoCandidate)
        | RegisterError::NoProgress { .. }
        | RegisterError::Internal(_) => SOFTWARE,
        RegisterError::Plan(_) => DATAERR,
        RegisterError::Interrupted { .. } => TEMPFAIL,
        RegisterError::Forge(f) => match f {
            ForgeError::Unauthorized { .. } | ForgeError::Forbidden { .. } => NOPERM,
            ForgeError::NotFound { .. } | ForgeError::Client(_) => CONFIG,
            ForgeError::RateLimited { .. }
            | ForgeError::Server { .. }
            | ForgeError::Transport { .. }
            | ForgeError::RunTimeout { .. } => TEMPFAIL,
            ForgeError::Unexpected { .. } | ForgeError::TooLarge { .. } => PROTOCOL,
            ForgeError::App(a) => match a {
                AppError::JwtRejected { .. } | AppError::MintRefused { .. } => NOPERM,
                AppError::NotInstalled { .. } | AppError::InstallationNotFound { .. } => CONFIG,
                AppError::Sign(_) => SOFTWARE,
            },
        },
    }
}

/// The exit code of a failed `enlist sync` (issue 7): a bad URL or flag 64, the server
/// unreachable 69, credentials rejected 77, TLS/database/schema configuration 78, a concurrent
/// sync of the same selection or a transient server condition 75.
pub fn of_sync(error: &SyncError) -> u8 {
    match error {
        SyncError::NoDatabaseUrl
        | SyncError::UrlFile { .. }
        | SyncError::InvalidUrl { .. }
        | SyncError::InvalidSetting { .. }
        | SyncError::Reconcile(_) => USAGE,
        SyncError::Unreachable { .. } => UNAVAILABLE,
        SyncError::Auth { .. }
        | SyncError::Permission { .. }
        | SyncError::MissingGrants { .. }
        | SyncError::SchemaNotCurrent { .. } => NOPERM,
        SyncError::TlsSetup { .. }
        | SyncError::Tls { .. }
        | SyncError::ServerWithoutTls { .. }
        | SyncError::NoSuchDatabase { .. }
        | SyncError::SchemaTooNew { .. } => CONFIG,
        SyncError::LeaseHeld { .. }
        | SyncError::SchemaChangeInProgress { .. }
        | SyncError::ConnectionLost { .. }
        | SyncError::LeaseLost { .. }
        | SyncError::Conflict { .. }
        | SyncError::Ambiguous { .. }
        | SyncError::Temporary { .. } => TEMPFAIL,
        SyncError::Database { .. } => SOFTWARE,
        SyncError::Runtime(_) => OSERR,
    }
}

/// The exit code of a GitHub error in `gate` and `doctor`, which run in CI or at a terminal: no
/// readiness wait, so an unreachable GitHub is 69 at once; 77 when the token is refused.
fn of_forge_read(error: &ForgeError) -> u8 {
    match error {
        ForgeError::Unauthorized { .. } | ForgeError::Forbidden { .. } => NOPERM,
        ForgeError::NotFound { .. } | ForgeError::Client(_) => CONFIG,
        ForgeError::Transport { .. } => UNAVAILABLE,
        ForgeError::RateLimited { .. }
        | ForgeError::Server { .. }
        | ForgeError::RunTimeout { .. } => TEMPFAIL,
        ForgeError::Unexpected { .. } | ForgeError::TooLarge { .. } => PROTOCOL,
        ForgeError::App(AppError::Sign(_)) => SOFTWARE,
        ForgeError::App(AppError::JwtRejected { .. } | AppError::MintRefused { .. }) => NOPERM,
        ForgeError::App(AppError::NotInstalled { .. } | AppError::InstallationNotFound { .. }) => {
            CONFIG
        }
    }
}

/// The exit code of a `gate` run that could not decide (SPEC §5c: 64 usage, 69/75 GitHub
/// unavailable or rate limited, 77 the token cannot read the pull request). A decided run exits
/// 0 (pass) or [`FINDINGS`] (fail).
pub fn of_gate(error: &GateError) -> u8 {
    match error {
        GateError::Usage(_) | GateError::Inventory(_) => USAGE,
        GateError::Config(_) => CONFIG,
        GateError::PullNotFound { .. } => NOPERM,
        GateError::HeadMoved { .. } => TEMPFAIL,
        GateError::Forge(e) => of_forge_read(e),
        GateError::NoProgress => SOFTWARE,
    }
}

/// The exit code of a `doctor` run that could not check (a refused credential is a ✘ line and
/// exit [`FINDINGS`], not an error).
pub fn of_doctor(error: &DoctorError) -> u8 {
    match error {
        DoctorError::Config(_) => CONFIG,
        DoctorError::Forge(e) => of_forge_read(e),
    }
}
