//! The gate's decision (SPEC §5c), a pure function of what was read: the pull request, its files,
//! the changed file at the head (and, for an update, at the base), its reviews and the reviewers'
//! access. No I/O: [`next`] says which read it needs next, or decides. The shell
//! ([`super::run`]) reads exactly what is asked for, so a clean registration costs the pull
//! request, its files, the comparison of its pinned shas and one file — and reviews are read only
//! for a pull request that is not a machine change.
//!
//! | step | passes when |
//! |---|---|
//! | machine change | exactly one file, in the pull request's list and in the comparison of the pinned base and head; `added` (or `modified` with `--allow-updates`); at `path_template` for node X; a valid node.yaml (schema, `nodeId` = X, `factsHash`), byte for byte what enlist writes, with a hostname NixOS accepts; from the repository itself, and from branch `<prefix>X` when the branch has the prefix; with an inventory, the machine is in it; an update keeps identity, SSH host keys, hostname and operator |
//! | else, approval | a reviewer's latest review approves the current head, and that reviewer is a `User`, not the author, not a `--machine-login`, with write access; no reviewer with write access has changes requested |
//!
//! Reviews: `COMMENTED` and `PENDING` do not change a reviewer's standing (as on GitHub); a
//! `DISMISSED` review withdraws it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml::Value as Yaml;

use super::path::{Binding, bindings};
use crate::config::PathTemplate;
use crate::forge::{Access, Blob, ChangedFile, GatePull, Review, short_sha};
use crate::input::MAX_NODE_YAML_BYTES;
use crate::reconcile::inventory::Inventory;
use crate::reconcile::matching::{Matcher, NodeKeys};
use crate::reconcile::prose::Prose;
use crate::reconcile::scan;

/// The most reviewers whose access one decision reads (`GET …/collaborators/{u}/permission`, one
/// request each). Approvals at the head by people without write access are rare; a pull request
/// with more of them than this is not gated by reading every one: the rest are not counted.
pub const MAX_ACCESS_READS: usize = 20;

/// What makes a machine change, as the workflow configures the gate.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Where registrations live (`--path-template`).
    pub path_template: PathTemplate,
    /// The nodes' branch prefix (`--branch-prefix`).
    pub branch_prefix: String,
    /// Machines may update their own file (`--allow-updates`).
    pub allow_updates: bool,
    /// The fleet's machine identities (`--machine-login`), lowercase: their approvals never
    /// count.
    pub machine_logins: Vec<String>,
    /// The inventory (`--inventory`): a registration's machine must be in it.
    pub inventory: Option<Inventory>,
}

/// Everything read so far.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The pull request, read first (its head is the commit gated).
    pub pull: GatePull,
    /// Its files, as GitHub lists them for the pull request (not pinned to a head).
    pub files: Option<Vec<ChangedFile>>,
    /// The files of GitHub's comparison of the base with the head, both pinned by sha: read when
    /// the list has one file, the list a machine change is decided on.
    pub pinned: Option<Vec<ChangedFile>>,
    /// The one changed file at the head.
    pub head: Option<Blob>,
    /// The one changed file at the base (updates).
    pub base: Option<Blob>,
    /// Its reviews, oldest first.
    pub reviews: Option<Vec<Review>>,
    /// Reviewers' access, by lowercase login.
    pub access: BTreeMap<String, Access>,
}

impl Seen {
    /// Nothing read but the pull request.
    pub fn new(pull: GatePull) -> Seen {
        Seen {
            pull,
            files: None,
            pinned: None,
            head: None,
            base: None,
            reviews: None,
            access: BTreeMap::new(),
        }
    }
}

/// A read the decision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// The pull request's files.
    Files,
    /// The files changed between `base` and `head` (three dots: from their merge base), both
    /// commit shas.
    Compare {
        /// The base sha read first.
        base: String,
        /// The head sha read first.
        head: String,
    },
    /// `path` at commit `sha` (the head, or for an update the base).
    Blob {
        /// The path.
        path: String,
        /// The commit.
        sha: String,
        /// The head (else the base).
        head: bool,
    },
    /// The reviews.
    Reviews,
    /// A reviewer's access (login as GitHub spells it).
    Access(String),
}

/// What to do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Read this, then ask again.
    Read(Need),
    /// Decided.
    Decide(Verdict),
}

/// What kind of pull request it is, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A machine registering itself.
    Registration,
    /// A machine updating its own registration (`--allow-updates`).
    Update,
    /// Not a machine change, approved by a person.
    Approved,
    /// Not a machine change, not (yet) approved.
    NeedsPerson,
}

impl Kind {
    /// As JSON says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Registration => "registration",
            Kind::Update => "update",
            Kind::Approved => "approved",
            Kind::NeedsPerson => "needs_person",
        }
    }
}

/// One changed file and what the gate thinks of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileFinding {
    /// The path.
    pub path: String,
    /// GitHub's status (`added`, `modified`, `removed`, `renamed`, …).
    pub status: String,
    /// For a machine change, what it is; else why it needs a person. Values from the PR
    /// (paths, node ids, logins) are kept apart, for inert rendering.
    pub reason: Prose,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Pass or fail (`verdict` in JSON: `pass` | `fail`).
    #[serde(serialize_with = "pass_or_fail", rename = "verdict")]
    pub pass: bool,
    /// What kind of pull request.
    pub kind: Kind,
    /// The pull request.
    pub pr: u64,
    /// The commit gated.
    pub head_sha: String,
    /// The node a machine change is for.
    pub node_id: Option<String>,
    /// Every changed file (as GitHub listed them, at most [`crate::forge::MAX_PR_FILES`]).
    pub files: Vec<FileFinding>,
    /// The person whose approval passed it.
    pub approved_by: Option<String>,
    /// What the reviews amount to (read only when it is not a machine change).
    pub reviews: Vec<Prose>,
}

fn pass_or_fail<S: serde::Serializer>(pass: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *pass { "pass" } else { "fail" })
}

/// The next read, or the verdict.
pub fn next(policy: &Policy, seen: &Seen) -> Step {
    let Some(files) = &seen.files else {
        return Step::Read(Need::Files);
    };
    let findings = match machine_change(policy, seen, files) {
        Assessed::Need(need) => return Step::Read(need),
        Assessed::Machine {
            kind,
            node_id,
            finding,
        } => {
            return Step::Decide(Verdict {
                pass: true,
                kind,
                pr: seen.pull.number,
                head_sha: seen.pull.head_sha.clone(),
                node_id: Some(node_id),
                files: vec![finding],
                approved_by: None,
                reviews: Vec::new(),
            });
        }
        Assessed::NeedsPerson(findings) => findings,
    };
    let (approved_by, reviews) = match approval(policy, seen) {
        Approval::Need(need) => return Step::Read(need),
        Approval::Decided {
            approved_by,
            reviews,
        } => (approved_by, reviews),
    };
    Step::Decide(Verdict {
        pass: approved_by.is_some(),
        kind: if approved_by.is_some() {
            Kind::Approved
        } else {
            Kind::NeedsPerson
        },
        pr: seen.pull.number,
        head_sha: seen.pull.head_sha.clone(),
        node_id: None,
        files: findings,
        approved_by,
        reviews,
    })
}

enum Assessed {
    Need(Need),
    Machine {
        kind: Kind,
        node_id: String,
        finding: FileFinding,
    },
    NeedsPerson(Vec<FileFinding>),
}

/// Whether the files make a machine change (reading the one file when they might).
fn machine_change(policy: &Policy, seen: &Seen, files: &[ChangedFile]) -> Assessed {
    let needs_person = |file: &ChangedFile, reason: Prose| {
        Assessed::NeedsPerson(vec![FileFinding {
            path: file.path.clone(),
            status: file.status.clone(),
            reason,
        }])
    };
    let [file] = files else {
        let tail = if files.is_empty() {
            Prose::new()
        } else {
            Prose::new().say(&format!(
                "; the pull request changes {} files (a machine change is exactly one)",
                files.len()
            ))
        };
        return Assessed::NeedsPerson(
            files
                .iter()
                .map(|file| FileFinding {
                    path: file.path.clone(),
                    status: file.status.clone(),
                    reason: shape(policy, file).then(&tail),
                })
                .collect(),
        );
    };
    let update = match file.status.as_str() {
        "added" => false,
        "modified" => true,
        _ => return needs_person(file, shape(policy, file)),
    };
    let found = bindings(&policy.path_template, &file.path);
    if found.is_empty() {
        return needs_person(file, shape(policy, file));
    }
    let pull = &seen.pull;
    if !pull
        .head_repo
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case(&pull.base_repo))
    {
        return needs_person(
            file,
            Prose::from(
                "comes from another repository (a fork, or one that was deleted): nodes push their registration to this repository",
            ),
        );
    }
    if update && !policy.allow_updates {
        return needs_person(
            file,
            Prose::from(
                "modifies a registration: a machine may update its own file only when the gate \
                 runs with --allow-updates",
            ),
        );
    }
    // The list is the pull request's as GitHub last computed it, not pinned to the head read
    // first: a head pushed away and back while gating (or a list computed late) can show one
    // file for a head that changes more. The comparison of the two pinned shas is the list the
    // decision stands on; a list it contradicts is not a machine change.
    match &seen.pinned {
        None => {
            return Assessed::Need(Need::Compare {
                base: pull.base_sha.clone(),
                head: pull.head_sha.clone(),
            });
        }
        Some(pinned) if pinned.as_slice() != std::slice::from_ref(file) => {
            return needs_person(
                file,
                Prose::from(
                    "is the pull request's only file, but the comparison of the gated head ",
                )
                .value(short_sha(&pull.head_sha))
                .say(" with its base ")
                .say(&match pinned.len() {
                    1 => "changes another file or changes it otherwise".to_owned(),
                    n => format!("changes {n} files"),
                })
                .say(
                    " (the head moved while gating, or GitHub's list is behind): re-run the check",
                ),
            );
        }
        Some(_) => {}
    }
    let text = match &seen.head {
        None => {
            return Assessed::Need(Need::Blob {
                path: file.path.clone(),
                sha: pull.head_sha.clone(),
                head: true,
            });
        }
        Some(Blob::File(text)) => text,
        Some(Blob::Missing) => {
            return needs_person(
                file,
                Prose::from("is not in the pull request's head commit"),
            );
        }
        Some(Blob::Other(what)) => {
            return needs_person(
                file,
                Prose::from("is ").value(what).say(", not a node.yaml file"),
            );
        }
    };
    let (binding, node) = check_document(&file.path, &found, text);
    let Some(doc) = node.doc.as_ref().filter(|_| node.problems.is_empty()) else {
        let reasons: Vec<Prose> = node
            .problems
            .iter()
            .map(|p| p.message.clone().say(": ").then(&p.hint))
            .collect();
        return needs_person(file, join(&reasons));
    };
    let node_id = doc.node_id.as_str().to_owned();
    let mut problems = Vec::new();
    // A node writes exactly `to_yaml()` of its document. Anything else that parses the same
    // (a comment, a YAML tag, other quoting, CRLF, a byte order mark) was written by hand, and
    // tools other than enlist may read it otherwise (a tag is code to some YAML loaders).
    if doc.to_yaml() != *text {
        problems.push(Prose::from(
            "it is not byte for byte the file enlist writes for its content (a comment, a YAML \
             tag, other quoting or line ends): a machine writes exactly that, so this was written \
             by hand",
        ));
    }
    if let Some(operator) = &binding.operator
        && doc.operator.as_deref() != Some(operator.as_str())
    {
        problems.push(
            Prose::from("its operator ")
                .value(doc.operator.as_deref().unwrap_or("(none)"))
                .say(" is not the path's ")
                .value(operator),
        );
    }
    if !is_nixos_hostname(&doc.hostname) {
        problems.push(Prose::from("its hostname ").value(&doc.hostname).say(
            " is not one NixOS accepts (networking.hostName: 1–63 letters, digits, '-' \
                     and '_', no dots, starting and ending with a letter or digit): the \
                     configuration built from it would not evaluate",
        ));
    }
    // A renamed host keeps its registration's path (a drift update), so only a new file must
    // carry its hostname in the path.
    if let Some(hostname) = &binding.hostname
        && !update
        && &doc.hostname != hostname
    {
        problems.push(
            Prose::from("its hostname ")
                .value(&doc.hostname)
                .say(" is not the path's ")
                .value(hostname),
        );
    }
    let expected_branch = format!("{}{node_id}", policy.branch_prefix);
    if pull.head_ref.starts_with(&policy.branch_prefix) && pull.head_ref != expected_branch {
        problems.push(
            Prose::from("it comes from branch ")
                .value(&pull.head_ref)
                .say(", not from node ")
                .value(&node_id)
                .say("'s own branch ")
                .value(&expected_branch),
        );
    }
    if let Some(inventory) = &policy.inventory {
        let keys = NodeKeys::of(doc);
        if Matcher::new(&inventory.rows).find(&keys).is_none() {
            let serial = keys.serial.as_deref().unwrap_or("(none)");
            problems.push(
                Prose::from("its machine is not in the inventory ")
                    .value(&inventory.file)
                    .say(" (serial ")
                    .value(serial)
                    .say(&plural_macs(keys.macs.len()))
                    .say(" match no row): a machine nobody bought needs a person"),
            );
        }
    }
    if update {
        match &seen.base {
            None if problems.is_empty() => {
                return Assessed::Need(Need::Blob {
                    path: file.path.clone(),
                    sha: pull.base_sha.clone(),
                    head: false,
                });
            }
            None => {}
            Some(Blob::File(base)) => problems.extend(update_changes(base, text)),
            Some(Blob::Missing) => problems.push(Prose::from(
                "is not in the base commit, so there is no registration to compare it with",
            )),
            Some(Blob::Other(what)) => problems.push(
                Prose::from("is ")
                    .value(what)
                    .say(" in the base commit, not a node.yaml file"),
            ),
        }
    }
    if !problems.is_empty() {
        return needs_person(file, join(&problems));
    }
    let (kind, reason) = if update {
        (
            Kind::Update,
            Prose::from("update of node ")
                .value(&node_id)
                .say("'s registration (identity, SSH host keys, hostname and operator unchanged)"),
        )
    } else {
        (
            Kind::Registration,
            Prose::from("registration of node ").value(&node_id),
        )
    };
    Assessed::Machine {
        kind,
        node_id,
        finding: FileFinding {
            path: file.path.clone(),
            status: file.status.clone(),
            reason,
        },
    }
}

/// What NixOS's `networking.hostName` accepts (`^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$`;
/// enlist.lib sets it from the registration). Its empty value (a name from DHCP) is no
/// registration's: a node always reports one.
fn is_nixos_hostname(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 63
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// " or its MAC" / " or its N MACs" / "".
fn plural_macs(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " or its MAC".to_owned(),
        n => format!(" or its {n} MACs"),
    }
}

/// The file checked as reconcile checks a node.yaml (schema, `factsHash`, `nodeId` = the path's
/// node id), against the way of matching the path whose node id the document names (else the
/// first, whose mismatch is then reported).
fn check_document(path: &str, found: &[Binding], text: &str) -> (Binding, scan::ScannedNode) {
    let first = &found[0];
    let node = scan::check(path, &first.node_id, text);
    let named = node.doc.as_ref().map(|d| d.node_id.as_str().to_owned());
    match named.and_then(|id| found.iter().find(|b| b.node_id == id)) {
        Some(other) if other != first => {
            let node = scan::check(path, &other.node_id, text);
            (other.clone(), node)
        }
        _ => (first.clone(), node),
    }
}

/// What an update changes that needs a person: the identity (source and fingerprint: who the
/// node is), the SSH host keys (who can read the secrets encrypted to it), the hostname (which
/// configuration it gets: the fleet's configurations are keyed by hostname) and the operator
/// (whose node it is). Compared as YAML values, whatever this build's node.yaml schema knows: a
/// key absent on both sides is unchanged, any other difference is a change.
pub fn update_changes(base: &str, head: &str) -> Vec<Prose> {
    let parse = |text: &str| crate::input::yaml::from_str::<Yaml>(text, MAX_NODE_YAML_BYTES).ok();
    let (Some(base), Some(head)) = (parse(base), parse(head)) else {
        return vec![Prose::from(
            "its base version is not a YAML document enlist can read, so the identity cannot be \
             compared",
        )];
    };
    let at = |doc: &Yaml, path: &[&str]| -> Option<Yaml> {
        path.iter()
            .try_fold(doc, |value, key| value.get(*key))
            .cloned()
    };
    let mut changes = Vec::new();
    for (path, what) in [
        (&["identity", "source"][..], "identity source"),
        (&["identity", "fingerprint"][..], "identity fingerprint"),
        (&["sshHostKeys"][..], "SSH host keys (sshHostKeys)"),
        (&["hostname"][..], "hostname"),
        (&["operator"][..], "operator"),
    ] {
        if at(&base, path) != at(&head, path) {
            changes.push(Prose::from("it changes the ").say(what).say(match path[0] {
                "sshHostKeys" => ": who can read the secrets encrypted to this node",
                "hostname" => {
                    ": which configuration the machine gets (the fleet's configurations are \
                     keyed by hostname)"
                }
                "operator" => ": whose node it is",
                _ => ": who this node is",
            }));
        }
    }
    changes
}

/// Why one file, on its own, is or is not a machine change (for pull requests of several files,
/// and single files that are not `added`/`modified` at a registration path).
fn shape(policy: &Policy, file: &ChangedFile) -> Prose {
    let path = file.path.as_str();
    let node = bindings(&policy.path_template, path)
        .into_iter()
        .next()
        .map(|b| b.node_id);
    if path.starts_with(".github/") {
        return Prose::from(
            "changes the repository's automation (.github/): workflows decide what CI runs and \
             how the gate itself is configured",
        );
    }
    match (file.status.as_str(), node) {
        ("removed", Some(id)) => Prose::from("deletes node ")
            .value(&id)
            .say("'s registration: a deletion is never a machine change"),
        ("removed", None) => Prose::from("deletes a file: a deletion is never a machine change"),
        ("renamed" | "copied", _) => Prose::from("is ")
            .say(if file.status == "renamed" {
                "renamed"
            } else {
                "copied"
            })
            .say(" from ")
            .value(file.previous_path.as_deref().unwrap_or("another path"))
            .say(": only a file added at its node's path is a machine change"),
        ("added", Some(id)) => Prose::from("adds node ").value(&id).say("'s registration"),
        ("modified", Some(id)) => Prose::from("modifies node ")
            .value(&id)
            .say("'s registration"),
        (status, Some(_)) => Prose::from("is ").value(status).say(
            ": only an added (or, with --allow-updates, modified) node.yaml is a machine change",
        ),
        (_, None) => Prose::from("is not a registration (path_template ")
            .value(policy.path_template.as_str())
            .say(")"),
    }
}

/// Reasons joined with "; ".
fn join(reasons: &[Prose]) -> Prose {
    reasons
        .iter()
        .enumerate()
        .fold(Prose::new(), |out, (i, reason)| {
            if i == 0 {
                out.then(reason)
            } else {
                out.say("; ").then(reason)
            }
        })
}

enum Approval {
    Need(Need),
    Decided {
        approved_by: Option<String>,
        reviews: Vec<Prose>,
    },
}

/// A reviewer's standing: their latest review that is not a comment (GitHub's rule: commenting
/// after approving does not withdraw the approval; a dismissal does).
struct Standing<'a> {
    review: &'a Review,
    /// Position of that review (reviewers are considered in the order they last stood).
    at: usize,
}

fn approval(policy: &Policy, seen: &Seen) -> Approval {
    let Some(reviews) = &seen.reviews else {
        return Approval::Need(Need::Reviews);
    };
    let pull = &seen.pull;
    let mut standing: BTreeMap<String, Standing<'_>> = BTreeMap::new();
    for (at, review) in reviews.iter().enumerate() {
        if matches!(
            review.state.as_str(),
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
        ) {
            standing.insert(
                review.reviewer.login.to_lowercase(),
                Standing { review, at },
            );
        }
    }
    let mut standing: Vec<(String, Standing<'_>)> = standing.into_iter().collect();
    standing.sort_by_key(|(_, s)| s.at);

    let author = pull.author.login.to_lowercase();
    let mut notes = Vec::new();
    let mut approved_by = None;
    for (login, s) in standing
        .iter()
        .filter(|(_, s)| s.review.state == "APPROVED")
    {
        let who = &s.review.reviewer.login;
        let commit = s.review.commit_id.as_deref().unwrap_or("");
        let ignored = if !commit.eq_ignore_ascii_case(&pull.head_sha) {
            Some(
                Prose::from("approved an older commit ")
                    .value(short_sha(commit))
                    .say(", not the current head"),
            )
        } else if s.review.reviewer.bot {
            Some(Prose::from(
                "is a bot (a GitHub App or automation), not a person",
            ))
        } else if *login == author {
            Some(Prose::from("opened the pull request"))
        } else if policy.machine_logins.contains(login) {
            Some(Prose::from(
                "is one of the fleet's machine identities (--machine-login)",
            ))
        } else {
            match seen.access.get(login) {
                None if seen.access.len() >= MAX_ACCESS_READS => Some(Prose::new().say(&format!(
                    "was not checked: the gate reads the access of at most {MAX_ACCESS_READS} \
                     reviewers (MAX_ACCESS_READS)"
                ))),
                None => return Approval::Need(Need::Access(who.clone())),
                Some(access) if access.can_write() => None,
                Some(access) => Some(
                    Prose::from("has ")
                        .value(access.shown())
                        .say(" access; an approval needs write access"),
                ),
            }
        };
        match ignored {
            Some(why) => notes.push(
                Prose::new()
                    .value(who)
                    .say(" ")
                    .then(&why)
                    .say(": the approval does not count"),
            ),
            None => {
                approved_by = Some(who.clone());
                break;
            }
        }
    }
    if let Some(by) = &approved_by {
        // An outstanding request for changes by someone who could merge blocks, as on GitHub.
        for (login, s) in standing
            .iter()
            .filter(|(_, s)| s.review.state == "CHANGES_REQUESTED")
        {
            let who = &s.review.reviewer.login;
            let access = match seen.access.get(login) {
                // Unknown past the cap: held to block, as someone who could merge would.
                None if seen.access.len() >= MAX_ACCESS_READS => None,
                None => return Approval::Need(Need::Access(who.clone())),
                Some(access) => Some(access),
            };
            match access {
                None => {
                    notes.push(
                        Prose::from("the approval of ")
                            .value(by)
                            .say(" is held back: ")
                            .value(who)
                            .say(" requested changes (access not checked: MAX_ACCESS_READS)"),
                    );
                    approved_by = None;
                    break;
                }
                Some(access) if access.can_write() => {
                    notes.push(
                        Prose::from("the approval of ")
                            .value(by)
                            .say(" is held back: ")
                            .value(who)
                            .say(" (write access) requested changes"),
                    );
                    approved_by = None;
                    break;
                }
                Some(_) => {}
            }
        }
    }
    match &approved_by {
        Some(by) => notes.push(
            Prose::from("approved at the current head by ")
                .value(by)
                .say(" (write access)"),
        ),
        None => notes.push(
            Prose::from("needs a person: an approval of the current head ")
                .value(short_sha(&pull.head_sha))
                .say(
                    " by a reviewer with write access who is not the author, not a bot and not \
                     one of the fleet's machine identities",
                ),
        ),
    }
    Approval::Decided {
        approved_by,
        reviews: notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::NodeDocument;
    use crate::forge::Account;

    const HEAD: &str = "1111111111111111111111111111111111111111";
    const BASE: &str = "2222222222222222222222222222222222222222";
    const OLD: &str = "3333333333333333333333333333333333333333";
    const NODE: &str = "node-faf6ca";
    const PATH: &str = "cluster-nodes/node-faf6ca/node.yaml";

    /// A valid node.yaml for `node_id`, with `edit` applied to the text before the hash is
    /// computed (so the file stays valid).
    fn node_yaml(node_id: &str, edit: impl Fn(String) -> String) -> String {
        let text = edit(format!(
            "schema: enlist.dev/node/v1\nnodeId: {node_id}\nhostname: r640-a1\noperator: alice\n\
             identity:\n  source: product_uuid\n  fingerprint: sha256:faf6ca57\nsystem:\n  \
             vendor: Dell Inc.\n  model: PowerEdge R640\n  serial: 5H8VXC3\ncpu:\n  model: Xeon\n  \
             arch: x86_64\n  sockets: 2\n  cores: 40\n  threads: 80\nmemory:\n  totalBytes: \
             412316860416\ndisks: []\nnetwork:\n- name: eno1\n  mac: b0:26:28:00:00:01\ngpus: []\n\
             factsHash: x\n"
        ));
        let mut doc = NodeDocument::parse_unverified(&text, "test").expect("test document");
        doc.facts_hash = doc.compute_facts_hash();
        doc.to_yaml()
    }

    fn valid() -> String {
        node_yaml(NODE, |t| t)
    }

    fn policy() -> Policy {
        Policy {
            path_template: PathTemplate::parse("cluster-nodes/{node_id}/node.yaml", true).unwrap(),
            branch_prefix: "enlist/".into(),
            allow_updates: false,
            machine_logins: vec!["fleet-bot".into()],
            inventory: None,
        }
    }

    fn pull() -> GatePull {
        GatePull {
            number: 3,
            open: true,
            author: Account {
                login: "fleet-bot".into(),
                bot: false,
            },
            head_sha: HEAD.into(),
            head_ref: format!("enlist/{NODE}"),
            head_repo: Some("acme/fleet".into()),
            base_sha: BASE.into(),
            base_ref: "main".into(),
            base_repo: "acme/fleet".into(),
        }
    }

    fn file(path: &str, status: &str) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            status: status.into(),
            previous_path: None,
        }
    }

    /// The pull request with `files`, listed alike by the pull request and by the comparison of
    /// its pinned shas.
    fn seen(files: Vec<ChangedFile>) -> Seen {
        Seen {
            pinned: Some(files.clone()),
            files: Some(files),
            ..Seen::new(pull())
        }
    }

    fn review(login: &str, state: &str, commit: &str) -> Review {
        Review {
            reviewer: Account {
                login: login.into(),
                bot: login.ends_with("[bot]"),
            },
            state: state.into(),
            commit_id: Some(commit.into()),
        }
    }

    fn write() -> Access {
        Access {
            permission: "write".into(),
            role_name: Some("write".into()),
        }
    }

    fn read() -> Access {
        Access {
            permission: "read".into(),
            role_name: Some("read".into()),
        }
    }

    fn decide(policy: &Policy, seen: &Seen) -> Verdict {
        match next(policy, seen) {
            Step::Decide(verdict) => verdict,
            Step::Read(need) => panic!("still needs {need:?}"),
        }
    }

    fn reasons(verdict: &Verdict) -> String {
        let files: Vec<String> = verdict
            .files
            .iter()
            .map(|f| format!("{}: {}", f.path, f.reason))
            .collect();
        let reviews: Vec<&str> = verdict.reviews.iter().map(|r| r.as_str()).collect();
        format!("{} | {}", files.join(" / "), reviews.join(" / "))
    }

    #[test]
    fn reads_come_in_order_and_only_as_needed() {
        let p = policy();
        let mut s = Seen::new(pull());
        assert_eq!(next(&p, &s), Step::Read(Need::Files));
        s.files = Some(vec![file(PATH, "added")]);
        // One file listed: the list the decision stands on is the comparison of the pinned shas.
        assert_eq!(
            next(&p, &s),
            Step::Read(Need::Compare {
                base: BASE.into(),
                head: HEAD.into()
            })
        );
        s.pinned = Some(vec![file(PATH, "added")]);
        assert_eq!(
            next(&p, &s),
            Step::Read(Need::Blob {
                path: PATH.into(),
                sha: HEAD.into(),
                head: true
            })
        );
        s.head = Some(Blob::File(valid()));
        let verdict = decide(&p, &s);
        assert!(verdict.pass);
        assert_eq!(verdict.kind, Kind::Registration);
        assert_eq!(verdict.node_id.as_deref(), Some(NODE));
        // A machine change reads no review.
        assert!(verdict.reviews.is_empty());

        // Not a machine change: the reviews, then the access of an eligible approver.
        let mut s = seen(vec![file("flake.nix", "modified")]);
        assert_eq!(next(&p, &s), Step::Read(Need::Reviews));
        s.reviews = Some(vec![review("Alice", "APPROVED", HEAD)]);
        assert_eq!(next(&p, &s), Step::Read(Need::Access("Alice".into())));
        s.access.insert("alice".into(), write());
        let verdict = decide(&p, &s);
        assert!(verdict.pass);
        assert_eq!(verdict.kind, Kind::Approved);
        assert_eq!(verdict.approved_by.as_deref(), Some("Alice"));
        assert!(reasons(&verdict).contains("flake.nix: is not a registration"));
    }

    /// Every single-file move a compromised node could make, with what the verdict says.
    #[test]
    fn machine_changes_and_what_needs_a_person() {
        struct Row {
            name: &'static str,
            files: Vec<ChangedFile>,
            head: Option<Blob>,
            base: Option<Blob>,
            arrange: fn(&mut Policy, &mut GatePull),
            pass: bool,
            says: &'static str,
        }
        let none: fn(&mut Policy, &mut GatePull) = |_, _| {};
        let rows = vec![
            Row {
                name: "clean registration",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: none,
                pass: true,
                says: "registration of node node-faf6ca",
            },
            Row {
                name: "extra file",
                files: vec![file(PATH, "added"), file("flake.nix", "modified")],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "changes 2 files",
            },
            Row {
                name: "another node's file",
                files: vec![file("cluster-nodes/node-b381b4/node.yaml", "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: none,
                pass: false,
                says: "does not match its directory",
            },
            Row {
                name: "deletion",
                files: vec![file("cluster-nodes/node-b381b4/node.yaml", "removed")],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "deletes node node-b381b4's registration",
            },
            Row {
                name: "workflow file",
                files: vec![file(".github/workflows/enlist-gate.yml", "modified")],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "changes the repository's automation",
            },
            Row {
                name: "rename",
                files: vec![ChangedFile {
                    previous_path: Some("cluster-nodes/node-b381b4/node.yaml".into()),
                    ..file(PATH, "renamed")
                }],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "renamed from cluster-nodes/node-b381b4/node.yaml",
            },
            Row {
                name: "nodeId is not the path's",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(node_yaml("node-other", |t| t))),
                base: None,
                arrange: none,
                pass: false,
                says: "nodeId node-other does not match its directory",
            },
            Row {
                name: "hand edit (factsHash)",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid().replace("cores: 40", "cores: 96"))),
                base: None,
                arrange: none,
                pass: false,
                says: "factsHash",
            },
            Row {
                name: "not YAML",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File("schema: [unclosed\n".into())),
                base: None,
                arrange: none,
                pass: false,
                says: "not a valid node.yaml",
            },
            Row {
                name: "a symlink",
                files: vec![file(PATH, "added")],
                head: Some(Blob::Other("a symlink".into())),
                base: None,
                arrange: none,
                pass: false,
                says: "is a symlink, not a node.yaml file",
            },
            Row {
                name: "another node's branch",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: |_, pull| pull.head_ref = "enlist/node-b381b4".into(),
                pass: false,
                says: "comes from branch enlist/node-b381b4, not from node node-faf6ca's own branch",
            },
            Row {
                name: "a person's branch without the prefix",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: |_, pull| pull.head_ref = "add-r640".into(),
                pass: true,
                says: "registration of node",
            },
            Row {
                name: "from a fork",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: |_, pull| pull.head_repo = Some("mallory/fleet".into()),
                pass: false,
                says: "another repository",
            },
            Row {
                name: "update without --allow-updates",
                files: vec![file(PATH, "modified")],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "--allow-updates",
            },
            Row {
                name: "update, identity unchanged",
                files: vec![file(PATH, "modified")],
                head: Some(Blob::File(node_yaml(NODE, |t| {
                    t.replace("totalBytes: 412316860416", "totalBytes: 824633720832")
                }))),
                base: Some(Blob::File(valid())),
                arrange: |policy, _| policy.allow_updates = true,
                pass: true,
                says: "update of node node-faf6ca's registration",
            },
            Row {
                // The fleet's configurations are keyed by hostname (enlist.lib's default): a
                // renamed node gets another node's configuration, or breaks every node's.
                name: "update renaming the host",
                files: vec![file(PATH, "modified")],
                head: Some(Blob::File(node_yaml(NODE, |t| {
                    t.replace("r640-a1", "r640-a9")
                }))),
                base: Some(Blob::File(valid())),
                arrange: |policy, _| policy.allow_updates = true,
                pass: false,
                says: "it changes the hostname",
            },
            Row {
                name: "update moving the node to another operator",
                files: vec![file(PATH, "modified")],
                head: Some(Blob::File(node_yaml(NODE, |t| {
                    t.replace("operator: alice", "operator: mallory")
                }))),
                base: Some(Blob::File(valid())),
                arrange: |policy, _| policy.allow_updates = true,
                pass: false,
                says: "it changes the operator",
            },
            Row {
                // Valid to enlist's parser, but not what a node writes: a comment, a YAML tag
                // (which other tools' loaders act on), other quoting or line ends.
                name: "a valid document that is not enlist's bytes (a comment)",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(format!(
                    "# reviewed by @acme/admins\n{}",
                    valid()
                ))),
                base: None,
                arrange: none,
                pass: false,
                says: "not byte for byte the file enlist writes",
            },
            Row {
                name: "a valid document that is not enlist's bytes (a YAML tag)",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(
                    valid().replace("hostname: r640-a1", "hostname: !!str r640-a1"),
                )),
                base: None,
                arrange: none,
                pass: false,
                says: "not byte for byte the file enlist writes",
            },
            Row {
                // enlist.lib sets `networking.hostName` from it: a name NixOS refuses stops the
                // configuration from evaluating (and with it a flake check of every node).
                name: "a hostname NixOS refuses",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(node_yaml(NODE, |t| {
                    t.replace("hostname: r640-a1", "hostname: r640.a1")
                }))),
                base: None,
                arrange: none,
                pass: false,
                says: "its hostname r640.a1 is not one NixOS accepts",
            },
            Row {
                name: "a valid document that is not enlist's bytes (CRLF)",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid().replace('\n', "\r\n"))),
                base: None,
                arrange: none,
                pass: false,
                says: "not byte for byte the file enlist writes",
            },
            Row {
                name: "update swapping the identity",
                files: vec![file(PATH, "modified")],
                head: Some(Blob::File(node_yaml(NODE, |t| {
                    t.replace("sha256:faf6ca57", "sha256:0badf00d")
                }))),
                base: Some(Blob::File(valid())),
                arrange: |policy, _| policy.allow_updates = true,
                pass: false,
                says: "changes the identity fingerprint",
            },
            Row {
                name: "update of a file the base does not have",
                files: vec![file(PATH, "modified")],
                head: Some(Blob::File(valid())),
                base: Some(Blob::Missing),
                arrange: |policy, _| policy.allow_updates = true,
                pass: false,
                says: "not in the base commit",
            },
            Row {
                name: "machine not in the inventory",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: |policy, _| {
                    policy.inventory = Some(
                        crate::reconcile::inventory::parse(
                            b"serial,mac\nOTHER1,aa:bb:cc:dd:ee:ff\n",
                            "inventory.csv",
                            None,
                        )
                        .unwrap(),
                    );
                },
                pass: false,
                says: "not in the inventory inventory.csv (serial 5h8vxc3 or its MAC match no row)",
            },
            Row {
                name: "machine in the inventory by MAC",
                files: vec![file(PATH, "added")],
                head: Some(Blob::File(valid())),
                base: None,
                arrange: |policy, _| {
                    policy.inventory = Some(
                        crate::reconcile::inventory::parse(
                            b"serial,mac\n,B0:26:28:00:00:01\n",
                            "inventory.csv",
                            None,
                        )
                        .unwrap(),
                    );
                },
                pass: true,
                says: "registration of node",
            },
            Row {
                name: "not a registration path",
                files: vec![file("cluster-nodes/node-faf6ca/extra.yaml", "added")],
                head: None,
                base: None,
                arrange: none,
                pass: false,
                says: "is not a registration (path_template cluster-nodes/{node_id}/node.yaml)",
            },
        ];
        for row in rows {
            let mut p = policy();
            let mut s = seen(row.files);
            (row.arrange)(&mut p, &mut s.pull);
            s.head = row.head;
            s.base = row.base;
            // Whatever is not a machine change needs an approval; there is none.
            s.reviews = Some(Vec::new());
            let verdict = decide(&p, &s);
            let said = reasons(&verdict);
            assert_eq!(verdict.pass, row.pass, "{}: {said}", row.name);
            assert!(said.contains(row.says), "{}: {said}", row.name);
            if !row.pass {
                assert_eq!(verdict.kind, Kind::NeedsPerson, "{}", row.name);
                assert!(said.contains("needs a person"), "{}: {said}", row.name);
                assert!(!verdict.files.is_empty(), "{}: names the files", row.name);
            }
        }
    }

    /// Who may approve what is not a machine change.
    #[test]
    fn approvals_of_the_current_head_by_a_person_with_write_access() {
        struct Row {
            name: &'static str,
            reviews: Vec<Review>,
            access: Vec<(&'static str, Access)>,
            approved_by: Option<&'static str>,
            says: &'static str,
        }
        let rows = vec![
            Row {
                name: "person with write access at the head",
                reviews: vec![review("alice", "APPROVED", HEAD)],
                access: vec![("alice", write())],
                approved_by: Some("alice"),
                says: "approved at the current head by alice",
            },
            Row {
                name: "self-approval by the author",
                reviews: vec![review("fleet-bot", "APPROVED", HEAD)],
                access: vec![],
                approved_by: None,
                says: "fleet-bot opened the pull request",
            },
            Row {
                name: "approval of an older head",
                reviews: vec![review("alice", "APPROVED", OLD)],
                access: vec![("alice", write())],
                approved_by: None,
                says: "alice approved an older commit 333333333333",
            },
            Row {
                name: "approval by the machine user (not the author)",
                reviews: vec![review("Fleet-Bot", "APPROVED", HEAD)],
                access: vec![],
                approved_by: None,
                says: "Fleet-Bot opened the pull request",
            },
            Row {
                name: "approval by a bot",
                reviews: vec![review("enlist-nodes[bot]", "APPROVED", HEAD)],
                access: vec![],
                approved_by: None,
                says: "is a bot",
            },
            Row {
                name: "read access",
                reviews: vec![review("carol", "APPROVED", HEAD)],
                access: vec![("carol", read())],
                approved_by: None,
                says: "carol has read access",
            },
            Row {
                name: "approval dismissed",
                reviews: vec![
                    review("alice", "APPROVED", HEAD),
                    review("alice", "DISMISSED", HEAD),
                ],
                access: vec![("alice", write())],
                approved_by: None,
                says: "needs a person",
            },
            Row {
                name: "a comment after approving keeps the approval",
                reviews: vec![
                    review("alice", "APPROVED", HEAD),
                    review("alice", "COMMENTED", HEAD),
                ],
                access: vec![("alice", write())],
                approved_by: Some("alice"),
                says: "approved at the current head by alice",
            },
            Row {
                name: "changes requested by someone with write access",
                reviews: vec![
                    review("bob", "CHANGES_REQUESTED", OLD),
                    review("alice", "APPROVED", HEAD),
                ],
                access: vec![("alice", write()), ("bob", write())],
                approved_by: None,
                says: "bob (write access) requested changes",
            },
            Row {
                name: "changes requested by someone without write access",
                reviews: vec![
                    review("alice", "APPROVED", HEAD),
                    review("dave", "CHANGES_REQUESTED", HEAD),
                ],
                access: vec![("alice", write()), ("dave", read())],
                approved_by: Some("alice"),
                says: "approved at the current head by alice",
            },
            Row {
                name: "changes requested, then approved by the same person",
                reviews: vec![
                    review("bob", "CHANGES_REQUESTED", OLD),
                    review("bob", "APPROVED", HEAD),
                ],
                access: vec![("bob", write())],
                approved_by: Some("bob"),
                says: "approved at the current head by bob",
            },
        ];
        for row in rows {
            let mut p = policy();
            p.machine_logins = vec!["fleet-bot".into(), "other-machine".into()];
            let mut s = seen(vec![file("flake.nix", "modified")]);
            s.reviews = Some(row.reviews);
            for (login, access) in row.access {
                s.access.insert(login.into(), access);
            }
            let verdict = decide(&p, &s);
            let said = reasons(&verdict);
            assert_eq!(
                verdict.approved_by.as_deref(),
                row.approved_by,
                "{}: {said}",
                row.name
            );
            assert_eq!(verdict.pass, row.approved_by.is_some(), "{}", row.name);
            assert!(said.contains(row.says), "{}: {said}", row.name);
        }
    }

    #[test]
    fn a_machine_login_that_did_not_open_the_pr_cannot_approve_it() {
        let p = policy();
        let mut s = seen(vec![file("flake.nix", "modified")]);
        s.pull.author.login = "alice".into();
        s.reviews = Some(vec![review("FLEET-BOT", "APPROVED", HEAD)]);
        let verdict = decide(&p, &s);
        assert!(!verdict.pass);
        assert!(
            reasons(&verdict).contains("FLEET-BOT is one of the fleet's machine identities"),
            "{}",
            reasons(&verdict)
        );
    }

    #[test]
    fn access_reads_are_capped() {
        let p = policy();
        let mut s = seen(vec![file("flake.nix", "modified")]);
        let logins: Vec<String> = (0..MAX_ACCESS_READS + 5).map(|i| format!("p{i}")).collect();
        s.reviews = Some(logins.iter().map(|l| review(l, "APPROVED", HEAD)).collect());
        for login in &logins[..MAX_ACCESS_READS] {
            s.access.insert(login.clone(), read());
        }
        let verdict = decide(&p, &s);
        assert!(!verdict.pass);
        assert!(reasons(&verdict).contains("MAX_ACCESS_READS"));
    }

    #[test]
    fn guarded_fields_are_compared_as_values() {
        let base = "identity: {source: product_uuid, fingerprint: sha256:aa}\nsshHostKeys: ['ssh-ed25519 AAAA1']\n";
        assert!(update_changes(base, base).is_empty());
        let same_keys_other_layout = "sshHostKeys:\n- ssh-ed25519 AAAA1\nidentity:\n  source: product_uuid\n  fingerprint: sha256:aa\n";
        assert!(update_changes(base, same_keys_other_layout).is_empty());
        let new_key = base.replace("AAAA1", "AAAA2");
        let changes = update_changes(base, &new_key);
        assert_eq!(changes.len(), 1);
        assert!(changes[0].contains("SSH host keys"), "{}", changes[0]);
        let dropped = "identity: {source: product_uuid, fingerprint: sha256:aa}\n";
        assert_eq!(
            update_changes(base, dropped).len(),
            1,
            "a removed key is a change"
        );
        assert!(
            update_changes(dropped, dropped).is_empty(),
            "absent on both sides"
        );
        let other_source = base.replace("product_uuid", "board_serial");
        assert!(update_changes(base, &other_source)[0].contains("identity source"));
        assert!(update_changes("[unclosed", base)[0].contains("cannot be compared"));
    }

    #[test]
    fn placeholders_beyond_the_node_id_must_agree_with_the_document() {
        let mut p = policy();
        p.path_template =
            PathTemplate::parse("maintainers/{operator}/{node_id}/{hostname}.yaml", true).unwrap();
        let path = format!("maintainers/alice/{NODE}/r640-a1.yaml");
        let mut s = seen(vec![file(&path, "added")]);
        s.head = Some(Blob::File(valid()));
        assert!(decide(&p, &s).pass, "{}", reasons(&decide(&p, &s)));
        let path = format!("maintainers/mallory/{NODE}/r640-a1.yaml");
        let mut s = seen(vec![file(&path, "added")]);
        s.head = Some(Blob::File(valid()));
        s.reviews = Some(Vec::new());
        let verdict = decide(&p, &s);
        assert!(!verdict.pass);
        assert!(reasons(&verdict).contains("operator alice is not the path's mallory"));
    }

    /// The pull request's file list is not pinned to the head read first: a head pushed away and
    /// back while the list is read (or a list GitHub computed late) can show one file for a head
    /// that has more. The comparison of the pinned shas decides.
    #[test]
    fn a_file_list_that_the_pinned_comparison_contradicts_needs_a_person() {
        let p = policy();
        for pinned in [
            vec![file(PATH, "added"), file("flake.nix", "modified")],
            vec![file(PATH, "modified")],
            vec![file("cluster-nodes/node-b381b4/node.yaml", "added")],
            vec![],
        ] {
            let mut s = seen(vec![file(PATH, "added")]);
            s.pinned = Some(pinned.clone());
            s.head = Some(Blob::File(valid()));
            s.reviews = Some(Vec::new());
            let verdict = decide(&p, &s);
            assert!(!verdict.pass, "{pinned:?}");
            assert_eq!(verdict.kind, Kind::NeedsPerson);
            let said = reasons(&verdict);
            assert!(
                said.contains("the comparison of the gated head 111111111111 with its base"),
                "{said}"
            );
        }
    }

    #[test]
    fn a_pull_request_without_files_needs_a_person() {
        let mut s = seen(Vec::new());
        s.reviews = Some(Vec::new());
        let verdict = decide(&policy(), &s);
        assert!(!verdict.pass);
        assert_eq!(verdict.kind, Kind::NeedsPerson);
    }
}
