//! enlist: bare-metal NixOS nodes register themselves in the cluster's GitOps repository exactly
//! once, after they truly came up; the repository's CI reconciles registrations against the
//! hardware inventory.
//!
//! Where things live (one module per concern):
//!
//! | concern | module |
//! |---|---|
//! | hardware facts (sysfs, DMI, kernel) | [`facts`], read through [`sysroot`] |
//! | node identity and node id | [`identity`] |
//! | SSH host keys: read, checked, fingerprints, age recipients | [`hostkey`] |
//! | node.yaml, `factsHash`, Nix output | [`document`], [`hash`], [`nix`] |
//! | configuration layering, token | [`config`], [`secret`] |
//! | GitHub client, rate limits | [`forge`] |
//! | `enlist register`: the pure decision, executing it, readiness, PR text | [`register`] ([`register::planner`], [`register::readiness`], [`register::live`], [`register::pr`]) |
//! | marker and lock in the state dir, `enlist status` | [`register::marker`], [`register::lock`], [`register::status`] |
//! | reconcile in CI | [`reconcile`] |
//! | the required check in CI: machine change or a person's approval | [`gate`] ([`gate::verdict`]) |
//! | the setup check of a repository | [`doctor`] |
//! | untrusted input: size caps, bounded YAML | [`input`] |
//! | the registry as a database, CSV/JSON lines export | [`mod@sync`], [`export`] |
//! | logging, journald events, sd_notify | [`logging`] |
//! | machine values in PR Markdown (inert) | [`markdown`] |
//! | GitHub's text on a terminal or in the journal (inert) | [`terminal`] |
//! | man pages (for packagers) | [`manpage`] |
//! | the book's generated reference pages (config keys, exit codes, CLI) | [`reference`] |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod document;
pub mod exit;
pub mod export;
pub mod facts;
pub mod forge;
pub mod gate;
pub mod hash;
pub mod hostkey;
pub mod identity;
pub mod input;
pub mod logging;
pub mod manpage;
pub mod markdown;
pub mod nix;
pub mod reconcile;
pub mod reference;
pub mod register;
pub mod secret;
pub mod sync;
pub mod sysroot;
pub mod terminal;
