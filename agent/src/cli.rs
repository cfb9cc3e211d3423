//! The command line (SPEC §2; a stable contract: tests outside the project use it).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Flags;

/// Registers bare-metal NixOS nodes in a GitOps repository exactly once, and reconciles the
/// registrations against the hardware inventory in CI.
///
/// On each installed node the enlist systemd unit runs `enlist register` once the network, the
/// clock and the credentials are up: it opens exactly one pull request adding the node's
/// node.yaml, and makes no request at all on later boots once that is merged. In the
/// repository's CI, `enlist reconcile` checks every registration against the inventory CSV.
#[derive(Debug, Parser)]
#[command(
    name = "enlist",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Debug output on stderr (every request and decision).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print this machine's hardware facts (the node.yaml `register` would propose).
    Facts(FactsArgs),
    /// Register this node in the GitOps repository (the first-boot systemd oneshot).
    Register(Box<RegisterArgs>),
    /// Show the registration state recorded on this machine.
    Status(StatusArgs),
    /// Check node.yaml files against the hardware inventory (runs in the GitOps repo's CI).
    Reconcile(ReconcileArgs),
    /// Materialise the registry into PostgreSQL/CockroachDB (rebuilt from the checkout).
    Sync(SyncArgs),
    /// Export nodes (joined with the inventory) as CSV or JSON lines, for DuckDB; the fleet as Nix
    /// or as age recipients.
    Export(ExportArgs),
    /// The required check: pass a pull request that is one machine's own registration, or that a
    /// person approved; fail every other (runs in the GitOps repo's CI, reads only).
    Gate(GateArgs),
    /// Check the GitOps repository's setup for a node configuration (reads only).
    Doctor(DoctorArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write every page into a directory (for packagers).
    #[command(hide = true)]
    Manpage {
        /// Write enlist.1 and a page per subcommand (enlist-register.1, …) into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the config file's keys as a Nix list: the NixOS module's `nix/config-keys.nix`,
    /// against which it checks `services.enlist.settings` at evaluation.
    #[command(hide = true)]
    ConfigKeys,
    /// Print a reference page of the book (docs/src/reference/) as Markdown, generated from the
    /// code: the config keys, the exit codes, the environment, the command line.
    #[command(hide = true)]
    Reference {
        /// Which page.
        #[arg(value_enum)]
        page: crate::reference::Page,
    },
}

/// Output formats of `facts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FactsFormat {
    /// node.yaml.
    Yaml,
    /// JSON with the same keys.
    Json,
    /// A Nix attribute set (for hardware.nix).
    Nix,
}

/// `enlist facts`.
#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: FactsFormat,
    /// Read file-based facts (DMI, /sys/block, /sys/class/net, /etc) under DIR instead of /
    /// (fixtures).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The installed system mounted at DIR (installer): its config, hostname, machine-id and
    /// os-release from DIR, the hardware from this machine.
    #[arg(long, value_name = "DIR", conflicts_with = "root")]
    pub target: Option<PathBuf>,
    /// Use this node id instead of the derived one.
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// Operator recorded in the document.
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Config file (for operator/node_id/root; default /etc/enlist/config.yaml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `enlist register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Config file (default /etc/enlist/config.yaml, or $ENLIST_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Preview the installed system mounted at DIR (installer): what its first boot will
    /// propose, from its config (DIR/etc/enlist/config.yaml) and this machine's hardware.
    /// Implies --dry-run: nothing is written.
    #[arg(long, value_name = "DIR", conflicts_with = "root")]
    pub target: Option<PathBuf>,
    /// Machine output: the preview as one JSON object on stdout (with --dry-run or --target).
    #[arg(long)]
    pub json: bool,
    /// The settings that are also flags (each also a config key and an ENLIST_<KEY> variable).
    #[command(flatten)]
    pub settings: Flags,
}

/// `enlist status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// State directory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Report formats of `reconcile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReconcileFormat {
    /// Terminal text.
    Text,
    /// One JSON object.
    Json,
    /// PR comment / step summary.
    Markdown,
    /// GitHub Actions annotations.
    Github,
    /// Self-contained HTML report.
    Html,
}

/// `enlist reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Root of the GitOps checkout (scanned for **/cluster-nodes/*/node.yaml).
    #[arg(long, value_name = "DIR")]
    pub nodes: PathBuf,
    /// Hardware inventory CSV.
    #[arg(long, value_name = "CSV")]
    pub inventory: PathBuf,
    /// House column names and status words (YAML: `columns:` field → header, `statuses:` word →
    /// active|spare|broken|retired).
    #[arg(long, value_name = "YAML")]
    pub inventory_map: Option<PathBuf>,
    /// Demand file for buying recommendations.
    #[arg(long, value_name = "YAML")]
    pub demand: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReconcileFormat,
    /// Fail on gaps (missing registration, phantom nodes, mismatches) too.
    #[arg(long)]
    pub strict: bool,
}

/// `enlist sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Root of the GitOps checkout.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "migrate",
        requires = "inventory"
    )]
    pub nodes: Option<PathBuf>,
    /// Hardware inventory CSV.
    #[arg(
        long,
        value_name = "CSV",
        required_unless_present = "migrate",
        requires = "nodes"
    )]
    pub inventory: Option<PathBuf>,
    /// House column names and status words (YAML: `columns:` field → header, `statuses:` word →
    /// active|spare|broken|retired).
    #[arg(long, value_name = "YAML", requires = "inventory")]
    pub inventory_map: Option<PathBuf>,
    /// PostgreSQL/CockroachDB URL (postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full).
    /// A password here is visible to other users in `ps`: prefer --database-url-file or
    /// $ENLIST_DATABASE_URL.
    #[arg(long, value_name = "URL", conflicts_with = "database_url_file")]
    pub database_url: Option<String>,
    /// File holding the database URL (default: $ENLIST_DATABASE_URL, then
    /// $CREDENTIALS_DIRECTORY/database-url).
    #[arg(long, value_name = "PATH")]
    pub database_url_file: Option<PathBuf>,
    /// Restrict to these operators.
    #[arg(long, value_name = "NAME")]
    pub operator: Vec<String>,
    /// Forget this selection's runs, findings and sightings (and rows only it saw), then
    /// repopulate from the checkout.
    #[arg(long)]
    pub rebuild: bool,
    /// Print nodes missing from the latest completed run.
    #[arg(long)]
    pub show_missing: bool,
    /// Create or upgrade the registry schema (as the role that owns it), then sync if --nodes is
    /// given, else stop. A sync whose schema is current runs no DDL: its role needs only
    /// SELECT, INSERT, UPDATE, DELETE on enlist's tables and USAGE on its sequence.
    #[arg(long)]
    pub migrate: bool,
    /// Name of the repository the checkout came from, for the selection (default: the
    /// checkout's `origin` remote; env ENLIST_SYNC_SOURCE).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// CSV.
    Csv,
    /// JSON lines.
    Jsonl,
    /// One Nix attribute set of the valid registrations by node id, for the GitOps flake.
    Nix,
    /// An age recipients file (`age -R`): one `age1…` per registered node, from its SSH ed25519
    /// host key, after a `# <node_id> <hostname>` comment.
    AgeRecipients,
}

/// `enlist export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Root of the GitOps checkout.
    #[arg(long, value_name = "DIR")]
    pub nodes: PathBuf,
    /// Hardware inventory CSV.
    #[arg(long, value_name = "CSV")]
    pub inventory: Option<PathBuf>,
    /// House column names and status words (YAML: `columns:` field → header, `statuses:` word →
    /// active|spare|broken|retired).
    #[arg(long, value_name = "YAML", requires = "inventory")]
    pub inventory_map: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// With `--format nix` or `age-recipients`: compare FILE with what would be written instead
    /// of printing it; exit 1 (naming the nodes that differ) when it is stale.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// Report formats of `gate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GateFormat {
    /// Terminal text.
    Text,
    /// One JSON object.
    Json,
    /// GitHub Actions annotations, and the report in the job summary ($GITHUB_STEP_SUMMARY).
    Github,
}

/// `enlist gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// GitOps repository (default: $GITHUB_REPOSITORY).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Pull request number (default: the pull request of the event at $GITHUB_EVENT_PATH).
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// GitHub API URL (default: $GITHUB_API_URL, else https://api.github.com).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// File holding the token (default: $CREDENTIALS_DIRECTORY/github-token, else $GITHUB_TOKEN;
    /// it needs pull requests: read and contents: read).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Where registrations live, as the nodes are configured ({operator}, {node_id},
    /// {hostname}; default cluster-nodes/{node_id}/node.yaml).
    #[arg(long, value_name = "T")]
    pub path_template: Option<String>,
    /// The nodes' branch prefix (default enlist/).
    #[arg(long, value_name = "P")]
    pub branch_prefix: Option<String>,
    /// Also pass a machine's update of its own node.yaml when its identity, SSH host keys,
    /// hostname and operator are unchanged.
    #[arg(long)]
    pub allow_updates: bool,
    /// Hardware inventory CSV: a registration's machine (serial or a MAC) must be in it.
    #[arg(long, value_name = "CSV")]
    pub inventory: Option<PathBuf>,
    /// House column names and status words for the inventory.
    #[arg(long, value_name = "YAML", requires = "inventory")]
    pub inventory_map: Option<PathBuf>,
    /// A login the nodes authenticate as (a machine user's token): its approvals never count.
    /// Repeatable.
    #[arg(long = "machine-login", value_name = "LOGIN")]
    pub machine_logins: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: GateFormat,
}

/// `enlist doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config file (default /etc/enlist/config.yaml, or $ENLIST_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// GitOps repository (else `repo` from the config).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// GitHub API URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// File holding the GitHub token.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Check as this GitHub App (its App id or client id) instead of with a token.
    #[arg(long, value_name = "ID")]
    pub github_app_id: Option<crate::config::AppId>,
    /// The GitHub App's private key, PEM.
    #[arg(long, value_name = "PATH")]
    pub github_app_key_file: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
}
