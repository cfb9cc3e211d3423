//! The `enlist` binary: parses the command line, runs the command, and maps every error to one
//! documented exit code ([`enlist::exit`]; the systemd unit keys its restart policy on them).

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use enlist::cli::{
    Cli, Command, DoctorArgs, ExportArgs, ExportFormat, FactsArgs, FactsFormat, GateArgs,
    GateFormat, ReconcileArgs, ReconcileFormat, RegisterArgs, SyncArgs,
};
use enlist::config::{self, ConfigError, Flags, Overrides, RegisterConfig};
use enlist::document::NodeDocument;
use enlist::exit;
use enlist::facts::{self, FactsError, HostKernel};
use enlist::logging::{self, Verbosity};
use enlist::reconcile::{self, ReconcileError};
use enlist::register::marker::MarkerError;
use enlist::register::preview::Preview;
use enlist::register::{self, Deps, RegisterError};
use enlist::sync::{self, SyncError};

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Facts(#[from] FactsError),
    #[error(transparent)]
    Marker(#[from] MarkerError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Export(#[from] enlist::export::ExportError),
    #[error(transparent)]
    Gate(#[from] enlist::gate::GateError),
    #[error(transparent)]
    Doctor(#[from] enlist::doctor::DoctorError),
    /// `gate` decided: the pull request needs a person (the report was printed).
    #[error("gate: {0}")]
    NeedsPerson(String),
    /// `doctor` found something to fix (the lines were printed).
    #[error("doctor: {0}")]
    NotSetUp(String),
    /// The report was printed; this only sets the exit status.
    #[error("reconcile: {0}")]
    Findings(String),
    /// `export --check`: the committed file differs from what would be generated.
    #[error("export --check: {0}")]
    Stale(String),
    #[error("cannot write output: {0}; check that the output file or pipe is writable")]
    Output(std::io::Error),
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
}

/// The one place errors become exit codes.
fn exit_code(failure: &Failure) -> u8 {
    match failure {
        Failure::Config(_) => exit::CONFIG,
        Failure::Facts(FactsError::NoIdentity(_)) => exit::CONFIG,
        Failure::Facts(FactsError::Kernel(_)) => exit::OSERR,
        Failure::Marker(_) => exit::CANTCREAT,
        // Every reconcile error is a wrong path or a malformed input file the caller passed.
        Failure::Reconcile(_) => exit::USAGE,
        Failure::Findings(_)
        | Failure::Stale(_)
        | Failure::NeedsPerson(_)
        | Failure::NotSetUp(_) => exit::FINDINGS,
        Failure::Gate(e) => exit::of_gate(e),
        Failure::Doctor(e) => exit::of_doctor(e),
        Failure::Output(_) => exit::OSERR,
        Failure::Usage(_) => exit::USAGE,
        Failure::Register(e) => exit::of_register(e),
        Failure::Sync(e) => exit::of_sync(e),
        Failure::Export(enlist::export::ExportError::Input(_)) => exit::USAGE,
        Failure::Export(enlist::export::ExportError::Output(_)) => exit::OSERR,
        // The file to compare was named on the command line.
        Failure::Export(enlist::export::ExportError::Check { .. }) => exit::USAGE,
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            });
        }
    };
    // `facts` is a pipeline tool: its events stay out of the way unless asked for.
    let quiet_by_default = matches!(
        cli.command,
        Command::Facts(_)
            | Command::Status(_)
            | Command::Completions { .. }
            | Command::Manpage { .. }
            | Command::ConfigKeys
            | Command::Reference { .. }
    );
    logging::init(if cli.quiet || (quiet_by_default && !cli.verbose) {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    });
    match run(cli.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            // Register errors were already logged with their event; log the rest once here.
            if !matches!(failure, Failure::Register(_)) {
                log::error!("{failure}");
            }
            ExitCode::from(exit_code(&failure))
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    let env = config::process_env();
    match command {
        Command::Facts(args) => facts_command(&args, &env),
        Command::Register(args) => register_command(*args, &env),
        Command::Status(args) => {
            let dir = config::resolve_state_dir(args.state_dir, &env)?;
            print_stdout(&enlist::register::status::render(&dir, args.json)?)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "enlist", &mut out);
            print_stdout(&String::from_utf8_lossy(&out))
        }
        Command::Manpage { dir } => manpage_command(dir.as_deref()),
        Command::ConfigKeys => print_stdout(&config_keys_nix()),
        Command::Reference { page } => print_stdout(&page.render()),
        Command::Reconcile(args) => reconcile_command(&args),
        Command::Sync(args) => sync_command(&args, &env),
        Command::Export(args) => export_command(&args),
        Command::Gate(args) => gate_command(args, &env),
        Command::Doctor(args) => doctor_command(args, &env),
    }
}

fn facts_command(args: &FactsArgs, env: &config::Env) -> Result<(), Failure> {
    let overrides = Overrides {
        config: args.config.clone(),
        target: args.target.clone(),
        flags: Flags {
            operator: args.operator.clone(),
            node_id: args.node_id.clone(),
            root: args.root.clone(),
            ..Flags::default()
        },
    };
    let options = config::resolve_facts_options(&overrides, env)?;
    let (facts, _) = facts::gather(&options.roots, &HostKernel)?;
    let node_id = options.node_id.unwrap_or_else(|| facts.identity.node_id(6));
    let doc = NodeDocument::new(&facts, node_id, options.operator);
    print_stdout(&match args.format {
        FactsFormat::Yaml => doc.to_yaml(),
        FactsFormat::Json => doc.to_json(),
        FactsFormat::Nix => doc.to_nix(),
    })
}

fn register_command(args: RegisterArgs, env: &config::Env) -> Result<(), Failure> {
    let overrides = Overrides {
        config: args.config,
        target: args.target,
        flags: args.settings,
    };
    let cfg = RegisterConfig::resolve(&overrides, env).map_err(|e| {
        logging::event_error(logging::Event::Failed, "config", &e.to_string());
        RegisterError::Config(e)
    })?;
    if args.json && !cfg.dry_run {
        return Err(Failure::Usage(
            "--json prints the preview of a run that writes nothing: add --dry-run (or \
             --target DIR for an installed system mounted at DIR)"
                .into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    // Unattended runs (the unit, the timer) wait out a back-off; a person at a terminal tries now.
    // systemd sets $INVOCATION_ID for every unit it starts: the unit and the timer's runs get the
    // default start jitter.
    let deps = Deps {
        honour_backoff: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
        started_by_systemd: env.get("INVOCATION_ID").is_some_and(|v| !v.is_empty()),
        stop_on_signals: true,
        ..Deps::default()
    };
    let report = runtime.block_on(register::register(&cfg, &deps))?;
    if cfg.dry_run {
        let preview = Preview::new(&cfg, &report);
        if args.json {
            print_stdout(&preview.to_json())?;
        } else {
            eprint!("{}", preview.to_text());
            print_stdout(&preview.node_yaml)?;
        }
    } else {
        log::debug!(
            "{} requests ({} writes)",
            report.counts.requests,
            report.counts.writes
        );
    }
    Ok(())
}

fn reconcile_command(args: &ReconcileArgs) -> Result<(), Failure> {
    let format = match args.format {
        ReconcileFormat::Text => reconcile::Format::Text,
        ReconcileFormat::Json => reconcile::Format::Json,
        ReconcileFormat::Markdown => reconcile::Format::Markdown,
        ReconcileFormat::Github => reconcile::Format::Github,
        ReconcileFormat::Html => reconcile::Format::Html,
    };
    let report = reconcile::reconcile(&reconcile::Options {
        nodes: args.nodes.clone(),
        inventory: args.inventory.clone(),
        demand: args.demand.clone(),
        inventory_map: args.inventory_map.clone(),
    })?;
    print_stdout(&reconcile::render(&report, format, args.strict))?;
    if report.failed(args.strict) {
        let mut why = vec![
            format!("{} invalid", report.invalid.len()),
            format!("{} duplicate(s)", report.duplicates.len()),
        ];
        if args.strict {
            why.push(format!("{} gap(s) (--strict)", report.gaps()));
        }
        return Err(Failure::Findings(format!(
            "{}: each finding in the report says what to do",
            why.join(", ")
        )));
    }
    Ok(())
}

/// `enlist manpage`: `enlist.1` on stdout, or every page into `dir` (what packagers install).
fn manpage_command(dir: Option<&std::path::Path>) -> Result<(), Failure> {
    let pages = enlist::manpage::pages().map_err(Failure::Output)?;
    let Some(dir) = dir else {
        return print_stdout(&pages[0].text);
    };
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            pages
                .iter()
                .try_for_each(|page| std::fs::write(dir.join(&page.file_name), &page.text))
        })
        .map_err(Failure::Output)?;
    log::info!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(())
}

/// `enlist config-keys`: every key of the config file (the `settings!` list), as the Nix file the
/// NixOS module reads to refuse any other key at evaluation instead of at the first boot.
fn config_keys_nix() -> String {
    let mut text = String::from(
        "# The keys of enlist's config file, printed by `enlist config-keys` from the `settings!`\n\
         # list in agent/src/config.rs. Generated: do not edit. nix/module.nix refuses any other\n\
         # key in services.enlist.settings; the end-to-end tests fail while this file differs from\n\
         # the binary's list (ENLIST_UPDATE_GOLDEN=1 rewrites it).\n",
    );
    enlist::nix::write_value(&serde_json::json!(config::KEYS), 0, &mut text);
    text.push('\n');
    text
}

/// `enlist sync`: the checkout into PostgreSQL/CockroachDB (issues 7, 16).
fn sync_command(args: &SyncArgs, env: &config::Env) -> Result<(), Failure> {
    let database_url = sync::resolve_url(
        args.database_url.as_deref(),
        args.database_url_file.as_deref(),
        env,
    )?;
    let (chunk_rows, retry) = sync::tuning(env)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SyncError::Runtime)?;
    let (Some(nodes), Some(inventory)) = (&args.nodes, &args.inventory) else {
        // `--migrate` alone (clap requires --nodes and --inventory otherwise).
        let timing = sync::lease_timing(env)?;
        let found = runtime.block_on(sync::migrate_only(&database_url, retry, timing))?;
        log::info!(
            "registry schema at version {} (was {found}); a role with SELECT, INSERT, UPDATE, \
             DELETE on its tables and USAGE on its sequence can sync now",
            sync::schema::LATEST
        );
        return Ok(());
    };
    let options = sync::Options {
        operators: args.operator.clone(),
        source: args
            .source
            .clone()
            .or_else(|| env.get("ENLIST_SYNC_SOURCE").cloned()),
        rebuild: args.rebuild,
        lease: sync::lease_timing(env)?,
        chunk_rows,
        retry,
        inventory_map: args.inventory_map.clone(),
        ..sync::Options::new(nodes.clone(), inventory.clone(), database_url)
    };
    let outcome = runtime.block_on(sync::sync(&options))?;
    for (phase, took) in &outcome.phases {
        log::debug!("sync phase {phase}: {took:.2?}");
    }
    log::info!("{}", sync::summary(&outcome));
    if args.show_missing {
        print_stdout(&sync::render_missing(&outcome))?;
    }
    Ok(())
}

/// `enlist export`: nodes joined with the inventory as CSV or JSON lines, or the fleet as Nix or
/// age recipients, on stdout; `--check FILE` compares a committed file instead.
fn export_command(args: &ExportArgs) -> Result<(), Failure> {
    let format = match args.format {
        ExportFormat::Csv => enlist::export::Format::Csv,
        ExportFormat::Jsonl => enlist::export::Format::Jsonl,
        ExportFormat::Nix => enlist::export::Format::Nix,
        ExportFormat::AgeRecipients => enlist::export::Format::AgeRecipients,
    };
    let options = enlist::export::Options {
        nodes: args.nodes.clone(),
        inventory: args.inventory.clone(),
        inventory_map: args.inventory_map.clone(),
        format,
    };
    let Some(file) = &args.check else {
        let mut out = std::io::stdout().lock();
        enlist::export::export(&options, &mut out)?;
        return Ok(());
    };
    let name = match format {
        enlist::export::Format::Nix => "nix",
        enlist::export::Format::AgeRecipients => "age-recipients",
        enlist::export::Format::Csv | enlist::export::Format::Jsonl => {
            return Err(Failure::Usage(
                "export: --check compares a fleet file or a recipients file, which only --format \
                 nix and --format age-recipients write"
                    .to_owned(),
            ));
        }
    };
    let check = enlist::export::check(&options, file)?;
    let mut regenerate = format!("enlist export --nodes {}", args.nodes.display());
    if let Some(inventory) = &args.inventory {
        regenerate.push_str(&format!(" --inventory {}", inventory.display()));
    }
    if let Some(map) = &args.inventory_map {
        regenerate.push_str(&format!(" --inventory-map {}", map.display()));
    }
    regenerate.push_str(&format!(" --format {name}"));
    match enlist::export::nix::describe_stale(file, &check, &regenerate) {
        None => {
            log::info!("{} is up to date", file.display());
            Ok(())
        }
        Some(stale) => Err(Failure::Stale(stale)),
    }
}

/// `enlist gate`: the required check (SPEC §5c). Prints the verdict; exit 0 pass, 1 fail.
fn gate_command(args: GateArgs, env: &config::Env) -> Result<(), Failure> {
    use enlist::gate;
    let options = gate::Options::resolve(
        &gate::Args {
            repo: args.repo,
            pr: args.pr,
            api_url: args.api_url,
            token_file: args.token_file,
            path_template: args.path_template,
            branch_prefix: args.branch_prefix,
            allow_updates: args.allow_updates,
            inventory: args.inventory,
            inventory_map: args.inventory_map,
            machine_logins: args.machine_logins,
        },
        env,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    let clock = std::sync::Arc::new(enlist::clock::SystemClock::default());
    let result = runtime.block_on(gate::run(&options, clock));
    if args.format == GateFormat::Github
        && let Err(e) = &result
    {
        // The log says it too (main logs every error); the annotation puts it on the PR's checks.
        print_stdout(&gate::render::error_annotation(&e.to_string()))?;
    }
    let outcome = result?;
    log::debug!("{} requests", outcome.counts.requests);
    let verdict = &outcome.verdict;
    match args.format {
        GateFormat::Text => print_stdout(&gate::render::text(verdict))?,
        GateFormat::Json => print_stdout(&gate::render::json(verdict))?,
        GateFormat::Github => {
            print_stdout(&gate::render::github(verdict))?;
            write_step_summary(env, &gate::render::markdown(verdict))?;
        }
    }
    if verdict.pass {
        Ok(())
    } else {
        Err(Failure::NeedsPerson(format!(
            "pull request #{} needs a person: each file above says why; a person with write \
             access approving its current head passes it",
            verdict.pr
        )))
    }
}

/// Appends `markdown` to the job summary (`$GITHUB_STEP_SUMMARY`), when there is one.
fn write_step_summary(env: &config::Env, markdown: &str) -> Result<(), Failure> {
    let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        log::debug!("no GITHUB_STEP_SUMMARY: the job summary is not written");
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut file| file.write_all(markdown.as_bytes()))
        .map_err(Failure::Output)
}

/// `enlist doctor`: the setup check (SPEC §5c). Exit 0 when nothing is ✘, 1 otherwise.
fn doctor_command(args: DoctorArgs, env: &config::Env) -> Result<(), Failure> {
    let overrides = Overrides {
        config: args.config,
        target: None,
        flags: Flags {
            repo: args.repo,
            api_url: args.api_url,
            token_file: args.token_file,
            github_app_id: args.github_app_id,
            github_app_key_file: args.github_app_key_file,
            ..Flags::default()
        },
    };
    let cfg = RegisterConfig::resolve(&overrides, env)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    let clock = std::sync::Arc::new(enlist::clock::SystemClock::default());
    let report = runtime.block_on(enlist::doctor::run(&cfg, clock))?;
    log::debug!(
        "{} requests ({} writes)",
        report.counts.requests,
        report.counts.writes
    );
    print_stdout(&if args.json {
        enlist::doctor::json(&report.lines)
    } else {
        enlist::doctor::text(&report.lines)
    })?;
    if enlist::doctor::healthy(&report.lines) {
        Ok(())
    } else {
        Err(Failure::NotSetUp(
            "fix the ✘ lines above, then run it again".to_owned(),
        ))
    }
}

fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::Output)
}
