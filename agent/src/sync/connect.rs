//! Connecting to PostgreSQL or CockroachDB: the URL, TLS through rustls, and what a failure means.
//!
//! **The URL.** `postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…` (or libpq's
//! `key=value` form). tokio-postgres understands `sslmode` only up to `require` and none of the
//! certificate parameters, while the URLs operators copy from CockroachDB's docs and `cockroach`
//! output use `sslmode=verify-full&sslrootcert=certs/ca.crt` (and `sslcert`/`sslkey` for client
//! certificates). So in the URL form those four parameters are taken out here and implemented
//! with libpq's meaning:
//!
//! | `sslmode` | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers it | not checked |
//! | `require` | always | not checked (checked against `sslrootcert` like `verify-ca` when one is given) |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain to `sslrootcert` and the host name |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the platform's store; without
//! it, `~/.postgresql/root.crt` if present, else the platform's store. `sslcert` + `sslkey` are a
//! PEM client certificate and key (CockroachDB's `client.<user>.crt`/`.key`).
//!
//! **Secrets.** The URL only enters as a [`DatabaseUrl`]; what is shown of the database (logs,
//! errors, `sync_runs`) is rebuilt from the parsed settings without the password, and every error
//! text from the driver or server passes [`Target::scrub`] before it is shown or stored.
//!
//! **What the connection is** is told after it is made, not guessed from `sslmode`: a wrapper
//! around the TLS connector records whether a handshake took place, so `sslmode=prefer` against a
//! server without TLS says that it fell back to plaintext (a warning), `sslmode=disable` says
//! plaintext, and only a connection that did a handshake is called TLS (with whether the
//! certificate was verified). A server that offers no TLS while the URL requires it gets
//! [`SyncError::ServerWithoutTls`]: the server must enable TLS; no client setting can fix that.
//!
//! **Failures** become [`SyncError`]s by SQLSTATE class where the server answered (28 → the
//! credentials, 40001/40P01 → conflict, 40003 → ambiguous commit, 08 and 57 → the connection was
//! lost, other 40/53 → temporary, …) and by the driver's error kind where it did not (refused,
//! DNS, timeout → unreachable while connecting; a closed socket afterwards → the connection was
//! lost; certificate → TLS configuration). Classes 08 (connection exception) and 57 (operator
//! intervention: 57P01 admin shutdown — PostgreSQL's `pg_terminate_backend` and fast shutdown,
//! CockroachDB's node drain, which closes client sessions and expects them to reconnect
//! (<https://www.cockroachlabs.com/docs/stable/node-shutdown>) — and 57P03 cannot connect now, a
//! server starting up or shutting down) are [`SyncError::ConnectionLost`]: the session
//! reconnects ([`super::session`]).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres::config::{Host, SslMode as DriverSslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::secret::DatabaseUrl;

use super::SyncError;

/// How long to wait for the TCP connection and handshake when the URL sets no
/// `connect_timeout`: long enough for a WAN round trip to a CockroachDB region, short enough that
/// a wrong host fails the CI job quickly.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if offered, unverified (libpq tries plain first; TLS first is no weaker).
    Allow,
    /// TLS if offered, unverified.
    Prefer,
    /// TLS, unverified unless a root certificate is given.
    Require,
    /// TLS, chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The URL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted CA certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// A PEM file.
    File(PathBuf),
    /// The platform's certificate store.
    System,
}

/// The TLS half of the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`.
    pub roots: Option<Roots>,
    /// `sslcert` + `sslkey`.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// What a connection turned out to be (after the handshake, not from the settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// No TLS: `sslmode=disable`, or `allow`/`prefer` against a server that offers none.
    Plaintext,
    /// TLS; the server certificate was checked as this says.
    Tls(Verify),
}

/// A parsed database URL: driver settings, TLS settings, and how to show it.
#[derive(Clone)]
pub struct Target {
    config: Config,
    tls: TlsSettings,
    shown: String,
    secrets: Vec<String>,
    /// The transport last announced in the log (shared by clones: the run's reconnects and the
    /// lease heartbeat say it again only when it changes).
    announced: Arc<Mutex<Option<Transport>>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("shown", &self.shown)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Parameters implemented here rather than by tokio-postgres (see the module docs).
const TLS_PARAMS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

impl Target {
    /// Parses the URL. Errors name the problem but never echo the URL.
    pub fn parse(url: &DatabaseUrl) -> Result<Target, SyncError> {
        let raw = url.expose();
        refuse_ambiguous_at(raw)?;
        let mut secrets = Vec::new();
        let (driver_text, taken) = split_tls_params(raw, &mut secrets);
        let invalid = |message: String| SyncError::InvalidUrl { message };
        let mut config: Config = driver_text.parse().map_err(|e: tokio_postgres::Error| {
            invalid(format!(
                "{e}; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full \
                 (percent-encode special characters in the password)"
            ))
        })?;
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        if config.get_hosts().is_empty() {
            return Err(invalid(
                "no host; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE".into(),
            ));
        }
        // The key=value form has only the driver's sslmode values.
        let mut mode = match config.get_ssl_mode() {
            DriverSslMode::Disable => SslMode::Disable,
            DriverSslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        let mut roots = None;
        let (mut cert, mut key) = (None, None);
        for (name, value) in taken {
            match name.as_str() {
                "sslmode" => {
                    mode = SslMode::parse(&value).ok_or_else(|| {
                        invalid(format!(
                            "sslmode={value} is not one of disable, allow, prefer, require, \
                             verify-ca, verify-full"
                        ))
                    })?;
                }
                "sslrootcert" if value == "system" => roots = Some(Roots::System),
                "sslrootcert" => roots = Some(Roots::File(PathBuf::from(value))),
                "sslcert" => cert = Some(PathBuf::from(value)),
                _ => key = Some(PathBuf::from(value)),
            }
        }
        let client_cert = match (cert, key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((c, k)),
            _ => {
                return Err(invalid(
                    "sslcert and sslkey go together: give both (the client certificate and its \
                     key), or neither"
                        .into(),
                ));
            }
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("enlist sync");
        }
        let shown = show(&config, mode);
        Ok(Target {
            config,
            tls: TlsSettings {
                mode,
                roots,
                client_cert,
            },
            shown,
            secrets,
            announced: Arc::new(Mutex::new(None)),
        })
    }

    /// The database as shown to people: `postgresql://user@host:port/db?sslmode=…`, no password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The user named in the URL.
    pub fn user(&self) -> Option<&str> {
        self.config.get_user()
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// `text` with every secret of the URL replaced by `<redacted>`: for anything that came from
    /// outside (driver and server messages) before it is printed or stored.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "<redacted>");
        }
        out
    }

    /// Opens a connection; its I/O runs on a task of the current runtime. The first connection
    /// (and any whose transport differs from the one before) logs what it is: plaintext or TLS,
    /// verified or not.
    pub async fn connect(&self) -> Result<Client, SyncError> {
        let mut config = self.config.clone();
        if self.tls.mode == SslMode::Disable {
            config.ssl_mode(DriverSslMode::Disable);
            let (client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| self.classify_connecting(&e))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::debug!("database connection ended: {e}");
                }
            });
            self.announce(Transport::Plaintext);
            return Ok(client);
        }
        config.ssl_mode(match self.tls.mode {
            SslMode::Allow | SslMode::Prefer => DriverSslMode::Prefer,
            _ => DriverSslMode::Require,
        });
        let handshake = Arc::new(AtomicBool::new(false));
        let tls = Tracked {
            inner: MakeRustlsConnect::new(self.client_config()?),
            handshake: Arc::clone(&handshake),
        };
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| self.classify_connecting(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("database connection ended: {e}");
            }
        });
        self.announce(if handshake.load(Ordering::SeqCst) {
            Transport::Tls(self.verify())
        } else {
            Transport::Plaintext
        });
        Ok(client)
    }

    /// Says what the connection is, once per change (see [`Transport`]).
    fn announce(&self, transport: Transport) {
        let mut last = self
            .announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last == Some(transport) {
            return;
        }
        *last = Some(transport);
        drop(last);
        log::log!(
            self.transport_level(transport),
            "{}",
            self.describe(transport)
        );
    }

    /// How loudly [`Target::describe`] is logged: a warning where the connection is weaker than
    /// it could be without the operator having said so.
    pub fn transport_level(&self, transport: Transport) -> log::Level {
        match (transport, self.tls.mode) {
            (Transport::Plaintext, SslMode::Disable) | (Transport::Tls(Verify::Full), _) => {
                log::Level::Info
            }
            (Transport::Tls(Verify::Chain), _) => log::Level::Info,
            _ => log::Level::Warn,
        }
    }

    /// One sentence on what `transport` means for this URL: plaintext is called plaintext, and
    /// only a connection that did a TLS handshake is called TLS.
    pub fn describe(&self, transport: Transport) -> String {
        let shown = &self.shown;
        let mode = self.tls.mode.as_str();
        match transport {
            Transport::Plaintext if self.tls.mode == SslMode::Disable => format!(
                "connected to {shown} in plaintext (sslmode=disable): the password and the \
                 registry cross the network unencrypted; outside loopback or a trusted network, \
                 enable TLS on the server and use sslmode=verify-full"
            ),
            Transport::Plaintext => format!(
                "the database server at {shown} offers no TLS, so sslmode={mode} fell back to a \
                 plaintext connection: the password and the registry cross the network \
                 unencrypted; enable TLS on the server and use sslmode=verify-full (or write \
                 sslmode=disable if plaintext is intended)"
            ),
            Transport::Tls(Verify::Nothing) => format!(
                "connected to {shown} over TLS without verifying the server certificate \
                 (sslmode={mode}): encrypted, but not proof of whom to; use sslmode=verify-full \
                 with sslrootcert=<the cluster's CA certificate>"
            ),
            Transport::Tls(Verify::Chain) => format!(
                "connected to {shown} over TLS; the server certificate chains to the trusted CA \
                 (sslmode={mode}; the host name is not checked: sslmode=verify-full checks it too)"
            ),
            Transport::Tls(Verify::Full) => format!(
                "connected to {shown} over TLS; the server certificate is trusted and names the \
                 host (sslmode={mode})"
            ),
        }
    }

    /// How the server certificate is checked under these settings.
    fn verify(&self) -> Verify {
        match self.tls.mode {
            SslMode::VerifyFull => Verify::Full,
            SslMode::VerifyCa => Verify::Chain,
            SslMode::Require if self.tls.roots.is_some() => Verify::Chain,
            _ => Verify::Nothing,
        }
    }

    /// The rustls configuration for the TLS settings, with ring as the crypto provider.
    fn client_config(&self) -> Result<ClientConfig, SyncError> {
        let setup = |message: String| SyncError::TlsSetup { message };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(format!("TLS versions: {e}")))?;
        // Whether verification is skipped is said once the handshake happened ([`Target::announce`]):
        // under `prefer` the server may offer no TLS at all.
        let builder = match self.verify() {
            Verify::Nothing => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified {
                    algorithms: provider.signature_verification_algorithms,
                })),
            Verify::Full => builder.with_root_certificates(self.roots()?),
            Verify::Chain => {
                let roots = Arc::new(self.roots()?);
                let inner =
                    WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                        .build()
                        .map_err(|e| setup(format!("certificate verifier: {e}")))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly {
                        roots,
                        inner,
                        algorithms: provider.signature_verification_algorithms,
                    }))
            }
        };
        match &self.tls.client_cert {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(Iterator::collect)
                    .map_err(|e| {
                        setup(format!(
                            "sslcert {}: {e}; expected a PEM client certificate",
                            cert.display()
                        ))
                    })?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    setup(format!(
                        "sslkey {}: {e}; expected a PEM private key (PKCS#8, PKCS#1 or SEC1)",
                        key.display()
                    ))
                })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| setup(format!("client certificate {}: {e}", cert.display())))
            }
        }
    }

    fn roots(&self) -> Result<RootCertStore, SyncError> {
        let setup = |message: String| SyncError::TlsSetup { message };
        let default_file = std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let source = match (&self.tls.roots, default_file) {
            (Some(roots), _) => roots.clone(),
            (None, Some(file)) => Roots::File(file),
            (None, None) => Roots::System,
        };
        let mut store = RootCertStore::empty();
        match source {
            Roots::File(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                    .and_then(Iterator::collect)
                    .map_err(|e| {
                        setup(format!(
                            "sslrootcert {}: {e}; point it at the cluster's CA certificate (PEM), \
                             e.g. CockroachDB's certs/ca.crt",
                            path.display()
                        ))
                    })?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(setup(format!(
                        "sslrootcert {} holds no usable CA certificate",
                        path.display()
                    )));
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(setup(
                        "the platform's certificate store is empty or unreadable; pass \
                         sslrootcert=<CA certificate file> in the URL"
                            .into(),
                    ));
                }
            }
        }
        Ok(store)
    }

    /// What a driver or server error on an open connection means, as a [`SyncError`] (`during`:
    /// what enlist was doing). A closed socket or SQLSTATE class 08/57 is
    /// [`SyncError::ConnectionLost`] (see the module docs).
    pub fn classify(&self, error: &tokio_postgres::Error, during: &'static str) -> SyncError {
        self.classify_in(error, during, false)
    }

    /// The same while connecting: a socket that cannot be opened (refused, DNS, timeout) is
    /// [`SyncError::Unreachable`] — the URL or the server is wrong — while a server that answers
    /// "starting up" or "shutting down" (57P03) is [`SyncError::ConnectionLost`], worth waiting
    /// for.
    fn classify_connecting(&self, error: &tokio_postgres::Error) -> SyncError {
        self.classify_in(error, "connecting", true)
    }

    fn classify_in(
        &self,
        error: &tokio_postgres::Error,
        during: &'static str,
        connecting: bool,
    ) -> SyncError {
        let shown = self.shown.clone();
        if let Some(db) = error.as_db_error() {
            let mut message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(hint) = db.hint() {
                message.push_str(&format!("; server hint: {hint}"));
            }
            let message = self.scrub(&message);
            let code = db.code();
            let class = &code.code()[..2];
            return if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
            {
                SyncError::Conflict { during, message }
            } else if *code == SqlState::T_R_STATEMENT_COMPLETION_UNKNOWN {
                SyncError::Ambiguous { during, message }
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                SyncError::Permission { shown, message }
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                SyncError::NoSuchDatabase { shown, message }
            } else if class == "28" {
                SyncError::Auth { shown, message }
            } else if class == "08" && connecting {
                SyncError::Unreachable { shown, message }
            } else if matches!(class, "08" | "57") {
                SyncError::ConnectionLost { during, message }
            } else if matches!(class, "40" | "53") {
                SyncError::Temporary { during, message }
            } else {
                SyncError::Database { during, message }
            };
        }
        // Not the server's answer: the driver's own error. Its kinds are private, but the source
        // tells a socket error (refused, DNS, reset, TLS alert) apart, and the Display text names
        // the rest ("timeout waiting for server", "authentication error", "invalid …").
        let message = self.scrub(&error_chain(error));
        if let Some(io) = find_source::<io::Error>(error) {
            let tls_problem = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|e| {
                    matches!(
                        e,
                        rustls::Error::InvalidCertificate(_)
                            | rustls::Error::NoCertificatesPresented
                            | rustls::Error::AlertReceived(_)
                            | rustls::Error::PeerIncompatible(_)
                            | rustls::Error::InappropriateHandshakeMessage { .. }
                    )
                });
            return if tls_problem {
                SyncError::Tls { shown, message }
            } else if connecting {
                SyncError::Unreachable { shown, message }
            } else {
                SyncError::ConnectionLost { during, message }
            };
        }
        let text = error.to_string();
        if text.starts_with("authentication error") {
            SyncError::Auth { shown, message }
        } else if message.contains("server does not support TLS") {
            // tokio-postgres: the server answered the SSLRequest with "no" and the URL requires
            // TLS (require, verify-ca, verify-full).
            SyncError::ServerWithoutTls {
                shown,
                mode: self.tls.mode.as_str(),
            }
        } else if text.starts_with("error performing TLS handshake") {
            SyncError::Tls { shown, message }
        } else if text.starts_with("invalid connection string")
            || text.starts_with("invalid configuration")
        {
            SyncError::InvalidUrl { message }
        } else if connecting
            && (text.starts_with("timeout waiting for server")
                || text.starts_with("connection closed")
                || text.starts_with("error connecting to server")
                || text.starts_with("error communicating with the server"))
        {
            SyncError::Unreachable { shown, message }
        } else if text.starts_with("connection closed")
            || text.starts_with("error communicating with the server")
        {
            SyncError::ConnectionLost { during, message }
        } else {
            SyncError::Database { during, message }
        }
    }
}

/// `error: cause: cause…`, each level once (tokio-postgres already appends its direct cause).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Refuses a URL-form connection string whose `@` signs do not split it the way its author meant.
///
/// tokio-postgres (like most URL parsers) ends the credentials at the *first* `@`, so a password
/// holding an unencoded `@` (`postgresql://ci:p@ss@db/registry`) parses as password `p` and host
/// `ss@db`, and every message that names the host would show the rest of the password. Hosts never
/// contain `@`, so an `@` after the first one and before the query means the credentials were not
/// percent-encoded; an `@` whose "user" part holds `/` or `?` sits in the path or query of a URL
/// without credentials, which the driver would misread the same way. Either is refused, and the
/// message shows no part of the URL.
fn refuse_ambiguous_at(raw: &str) -> Result<(), SyncError> {
    let Some(rest) = raw
        .strip_prefix("postgresql://")
        .or_else(|| raw.strip_prefix("postgres://"))
    else {
        return Ok(());
    };
    let Some(first) = rest.find('@') else {
        return Ok(());
    };
    let user = rest[..first].split(':').next().unwrap_or_default();
    let after = &rest[first + 1..];
    let before_query = &after[..after.find('?').unwrap_or(after.len())];
    if user.contains(['/', '?']) || before_query.contains('@') {
        return Err(SyncError::InvalidUrl {
            message: "the URL holds an `@` that is not the one between the credentials and the \
                      host, so it would not connect where it seems to (a password with an `@` \
                      would be read as part of the host name); percent-encode `@` in the user \
                      name, password or database name as %40 (and `:` as %3A, `/` as %2F, `?` as \
                      %3F, `#` as %23, `%` as %25), e.g. \
                      postgresql://USER:p%40ssword@HOST:PORT/DATABASE"
                .into(),
        });
    }
    Ok(())
}

/// Takes libpq's TLS parameters out of a URL-form connection string (the key=value form is
/// returned as is), collecting the password as a secret on the way.
fn split_tls_params(raw: &str, secrets: &mut Vec<String>) -> (String, Vec<(String, String)>) {
    let Some(rest) = raw
        .strip_prefix("postgresql://")
        .or_else(|| raw.strip_prefix("postgres://"))
    else {
        return (raw.to_owned(), Vec::new());
    };
    let prefix = &raw[..raw.len() - rest.len()];
    // tokio-postgres reads the credentials up to the first '@'; do the same.
    let creds_end = rest.find('@').map_or(0, |at| at + 1);
    if creds_end > 0
        && let Some((_, password)) = rest[..creds_end - 1].split_once(':')
    {
        secrets.push(password.to_owned());
        secrets.push(percent_decode(password));
    }
    let Some(query_at) = rest[creds_end..].find('?').map(|q| q + creds_end) else {
        return (raw.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in rest[query_at + 1..].split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        if key == "password" {
            secrets.push(value.to_owned());
            secrets.push(percent_decode(value));
        }
        if TLS_PARAMS.contains(&key.as_str()) {
            taken.push((key, percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let mut text = format!("{prefix}{}", &rest[..query_at]);
    if !kept.is_empty() {
        text.push('?');
        text.push_str(&kept.join("&"));
    }
    (text, taken)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2))
        {
            // Two hex digits make one byte (< 256).
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `postgresql://user@host:port/db?sslmode=…` from the parsed settings: no password by
/// construction.
fn show(config: &Config, mode: SslMode) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!(
        "postgresql://{user}{}/{db}?sslmode={}",
        hosts.join(","),
        mode.as_str()
    )
}

/// What a server certificate is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: any certificate is taken (`prefer`, `require` without `sslrootcert`).
    Nothing,
    /// The chain leads to a trusted CA (`verify-ca`, `require` with `sslrootcert`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// rustls behind tokio-postgres, noting whether a handshake happened: under `sslmode=prefer` the
/// driver falls back to plaintext when the server declines TLS, and says nothing about it.
struct Tracked {
    inner: MakeRustlsConnect,
    handshake: Arc<AtomicBool>,
}

type RustlsMake = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
type RustlsStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
type RustlsError = <RustlsMake as TlsConnect<Socket>>::Error;

impl MakeTlsConnect<Socket> for Tracked {
    type Stream = RustlsStream;
    type TlsConnect = TrackedConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<TrackedConnect, Self::Error> {
        Ok(TrackedConnect {
            inner: MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, domain)?,
            handshake: Arc::clone(&self.handshake),
        })
    }
}

/// One handshake of [`Tracked`].
struct TrackedConnect {
    inner: RustlsMake,
    handshake: Arc<AtomicBool>,
}

impl TlsConnect<Socket> for TrackedConnect {
    type Stream = RustlsStream;
    type Error = RustlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream, RustlsError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        let handshake = self.handshake;
        let connecting = TlsConnect::<Socket>::connect(self.inner, stream);
        Box::pin(async move {
            let stream = connecting.await?;
            handshake.store(true, Ordering::SeqCst);
            Ok(stream)
        })
    }
}

/// `sslmode=prefer|require` without a root certificate: encrypted, but any certificate is taken
/// (libpq's behaviour). Handshake signatures are still verified, so the key exchange is sound.
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    inner: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                // The name was checked last, so the chain already passed; check it again on its
                // own to be independent of that order.
                let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
                verify_server_cert_signed_by_trust_anchor(
                    &cert,
                    &self.roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                )?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Result<Target, SyncError> {
        Target::parse(&DatabaseUrl::new(url).unwrap())
    }

    #[test]
    fn cockroach_url_keeps_tls_params_for_rustls_and_hides_the_password() {
        let t = target(
            "postgresql://enlist:s3cr%40t@crdb.example:26257/registry?sslmode=verify-full\
             &sslrootcert=certs/ca.crt&application_name=ci",
        )
        .unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(t.tls.roots, Some(Roots::File("certs/ca.crt".into())));
        assert_eq!(
            t.shown(),
            "postgresql://enlist@crdb.example:26257/registry?sslmode=verify-full"
        );
        assert_eq!(t.config.get_password(), Some(&b"s3cr@t"[..]));
        assert_eq!(t.config.get_application_name(), Some("ci"));
        assert_eq!(
            t.scrub("failed for s3cr@t and s3cr%40t"),
            "failed for <redacted> and <redacted>"
        );
        assert!(!format!("{t:?}").contains("s3cr"));
    }

    #[test]
    fn defaults_prefer_and_a_connect_timeout() {
        let t = target("postgres://u:pw@localhost/db").unwrap();
        assert_eq!(t.tls.mode, SslMode::Prefer);
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
        let kv = target("host=localhost user=u password=pw sslmode=disable").unwrap();
        assert_eq!(kv.tls.mode, SslMode::Disable);
        assert_eq!(kv.scrub("pw!"), "<redacted>!");
    }

    #[test]
    fn bad_urls_are_usage_errors_that_do_not_echo_the_url() {
        for url in [
            "postgresql://u:topsecret@h/db?sslmode=bogus",
            "postgresql://u:topsecret@h/db?sslcert=a.crt",
            "postgresql://u:topsecret@h:notaport/db",
            "postgresql://u:topsecret@/db",
        ] {
            let err = target(url).unwrap_err();
            assert!(matches!(err, SyncError::InvalidUrl { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("topsecret"), "{err}");
        }
    }

    #[test]
    fn an_unencoded_at_in_the_password_is_refused_without_showing_any_of_it() {
        for url in [
            "postgresql://ci:p@ssW0rdXYZ@db.example:5432/registry",
            "postgres://ci:p@ssW0rdXYZ@db.example/registry?sslmode=require",
            "postgresql://ci:p/ssW0rd@XYZ@db.example/registry",
            "postgresql://ci@corp:ssW0rdXYZ@db.example/registry",
            "postgresql://db.example/registry?application_name=ssW0rd@XYZ",
        ] {
            let err = target(url).unwrap_err();
            assert!(matches!(err, SyncError::InvalidUrl { .. }), "{url}: {err}");
            let text = err.to_string();
            for part in ["ssW0rd", "XYZ", "p@ss", "db.example", "ci:"] {
                assert!(!text.contains(part), "{url}: {part} in {text}");
            }
            assert!(text.contains("%40"), "{text}");
        }
        // Encoded, or `@` only in the query after real credentials: parsed as meant.
        let t = target("postgresql://ci:p%40ssW0rd@db.example/registry").unwrap();
        assert_eq!(t.config.get_password(), Some(&b"p@ssW0rd"[..]));
        assert_eq!(
            t.shown(),
            "postgresql://ci@db.example:5432/registry?sslmode=prefer"
        );
        let t = target("postgresql://ci:pw@db.example/registry?application_name=me@ci").unwrap();
        assert_eq!(t.config.get_application_name(), Some("me@ci"));
        assert!(target("host=db user=ci password=p@ss@word").is_ok());
    }

    #[test]
    fn plaintext_is_never_described_as_tls_and_tls_never_as_plaintext() {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let t = target(&format!("postgresql://u:pw@db.example/r?sslmode={mode}")).unwrap();
            let plain = t.describe(Transport::Plaintext);
            assert!(plain.contains("plaintext"), "{mode}: {plain}");
            assert!(!plain.contains("over TLS"), "{mode}: {plain}");
            assert!(!plain.contains("certificate"), "{mode}: {plain}");
            for verify in [Verify::Nothing, Verify::Chain, Verify::Full] {
                let tls = t.describe(Transport::Tls(verify));
                assert!(tls.contains("over TLS"), "{mode}: {tls}");
                assert!(!tls.contains("plaintext"), "{mode}: {tls}");
            }
        }
        // Fell back without being asked to: a warning; asked for plaintext: information.
        let prefer = target("postgresql://u@h/db").unwrap();
        assert!(
            prefer
                .describe(Transport::Plaintext)
                .contains("sslmode=prefer fell back to a plaintext connection")
        );
        assert_eq!(
            prefer.transport_level(Transport::Plaintext),
            log::Level::Warn
        );
        assert_eq!(
            prefer.transport_level(Transport::Tls(Verify::Nothing)),
            log::Level::Warn
        );
        let disable = target("postgresql://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            disable.transport_level(Transport::Plaintext),
            log::Level::Info
        );
        let full = target("postgresql://u@h/db?sslmode=verify-full").unwrap();
        assert_eq!(
            full.transport_level(Transport::Tls(Verify::Full)),
            log::Level::Info
        );
    }

    #[test]
    fn a_server_without_tls_is_the_servers_to_fix() {
        let err = SyncError::ServerWithoutTls {
            shown: "postgresql://u@h:5432/db?sslmode=require".into(),
            mode: "require",
        };
        let text = err.to_string();
        assert!(text.contains("the server must enable TLS"), "{text}");
        assert!(!text.contains("sslrootcert="), "{text}");
        assert!(!text.contains("verify-ca"), "{text}");
    }

    #[test]
    fn query_password_is_a_secret_too() {
        let t = target("postgresql://u@h/db?password=hunter22&sslmode=require").unwrap();
        assert_eq!(t.tls.mode, SslMode::Require);
        assert_eq!(t.scrub("x hunter22 y"), "x <redacted> y");
    }
}
