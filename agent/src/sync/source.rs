//! Which repository a checkout came from: the `source` of a selection (issue 16).
//!
//! Two different GitOps repositories with the same layout (`inventory.csv` at the root, `.` as
//! `--nodes`) must not share a selection, or one's nodes show as "missing" in the other; and the
//! same repository checked out in a different CI workspace (`/home/runner/work/…`, `/builds/…`)
//! must keep its selection. So a selection is named by:
//!
//! 1. `--source NAME` (or `ENLIST_SYNC_SOURCE`), verbatim: for trees that are not git checkouts,
//!    or to name a repository the same across mirrors;
//! 2. else the checkout's `origin` remote, normalised: scheme, user name, password or token
//!    (CI checkouts often carry `https://x-access-token:…@github.com/…`), a trailing `.git` and
//!    `/` dropped, host lowercased, so `git@github.com:Org/cluster.git` and
//!    `https://github.com/Org/cluster` are both `github.com/Org/cluster`;
//! 3. else (no git checkout, no origin) `path:<the repository root's absolute path>`, with a
//!    warning: stable on one machine only.
//!
//! The remote is read from the checkout's git config file (`.git/config`; for a linked worktree
//! or a submodule, where `.git` is a file, the directory it points to and its `commondir`), not by
//! running `git`, which refuses a checkout owned by another user ("dubious ownership") in many CI
//! containers. The file is read up to [`MAX_GIT_CONFIG`].

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The longest git config file read; real ones are a few hundred bytes.
pub const MAX_GIT_CONFIG: u64 = 256 * 1024;

/// The selection's source for the checkout whose root is `repo` (see the module docs).
pub fn resolve(repo: &Path, explicit: Option<&str>) -> String {
    if let Some(name) = explicit.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    if let Some(url) = origin_url(repo) {
        return normalise_remote(&url);
    }
    let name = format!("path:{}", repo.display());
    log::warn!(
        "{} is not a git checkout with an `origin` remote: its selection is named by the local \
         path, which differs between CI workspaces; pass --source NAME (for example the \
         repository's URL) to keep one selection across them",
        repo.display()
    );
    name
}

/// The `url` of `[remote "origin"]` in the checkout's git config, if any.
pub fn origin_url(repo: &Path) -> Option<String> {
    let config = read_capped(&git_dir(repo)?.join("config")).or_else(|| {
        // A linked worktree keeps the shared config in its common directory.
        let git_dir = git_dir(repo)?;
        let common = read_capped(&git_dir.join("commondir"))?;
        read_capped(&git_dir.join(common.trim()).join("config"))
    })?;
    remote_url(&config, "origin")
}

/// `repo/.git` when it is a directory; the directory a `.git` file (`gitdir: …`) points to.
fn git_dir(repo: &Path) -> Option<PathBuf> {
    let dot_git = repo.join(".git");
    let meta = fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = read_capped(&dot_git)?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    Some(repo.join(target))
}

fn read_capped(path: &Path) -> Option<String> {
    let file = fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_GIT_CONFIG).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The `url` of `[remote "<name>"]` in git config text (the last one wins, as in git).
pub fn remote_url(config: &str, name: &str) -> Option<String> {
    let mut in_section = false;
    let mut url = None;
    for raw in config.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            // `[remote "origin"]`: the section name is case-insensitive, the subsection is not.
            let inner = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default();
            let (section, sub) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
            in_section =
                section.eq_ignore_ascii_case("remote") && sub.trim() == format!("\"{name}\"");
            continue;
        }
        if !in_section || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("url")
        {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            url = Some(value.to_owned());
        }
    }
    url.filter(|u| !u.is_empty())
}

/// A remote URL without scheme, credentials, trailing `.git` or `/`, host lowercased (see the
/// module docs). Local paths stay paths.
pub fn normalise_remote(url: &str) -> String {
    let url = url.trim();
    let (host_and_path, local) = match url.split_once("://") {
        Some(("file", path)) => (path.to_owned(), true),
        Some((_, rest)) => (rest.to_owned(), false),
        // scp-like `[user@]host:path` (a ':' before any '/'), else a local path.
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') && !host.is_empty() => {
                (format!("{host}/{}", path.trim_start_matches('/')), false)
            }
            _ => (url.to_owned(), true),
        },
    };
    let mut text = if local {
        host_and_path
    } else {
        // Credentials end at the last '@' of the authority (the part before the first '/').
        let (authority, path) = match host_and_path.split_once('/') {
            Some((a, p)) => (a.to_owned(), format!("/{p}")),
            None => (host_and_path.clone(), String::new()),
        };
        let host = authority
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, h)| h);
        format!("{}{path}", host.to_lowercase())
    };
    while text.ends_with('/') {
        text.pop();
    }
    if let Some(stripped) = text.strip_suffix(".git") {
        text = stripped.to_owned();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_of_one_repository_normalise_alike_and_lose_their_credentials() {
        for url in [
            "https://github.com/Example-Org/cluster.git",
            "https://github.com/Example-Org/cluster",
            "https://github.com/Example-Org/cluster/",
            "https://x-access-token:ghs_SECRET@github.com/Example-Org/cluster.git",
            "https://oauth2:glpat-SECRET@GitHub.com/Example-Org/cluster.git",
            "git@github.com:Example-Org/cluster.git",
            "ssh://git@github.com/Example-Org/cluster.git",
        ] {
            let got = normalise_remote(url);
            assert_eq!(got, "github.com/Example-Org/cluster", "{url}");
            assert!(!got.contains("SECRET"));
        }
        assert_eq!(normalise_remote("/srv/git/cluster.git"), "/srv/git/cluster");
        assert_eq!(
            normalise_remote("file:///srv/git/cluster.git"),
            "/srv/git/cluster"
        );
        assert_eq!(
            normalise_remote("ssh://git@gitlab.example:2222/ops/cluster.git"),
            "gitlab.example:2222/ops/cluster"
        );
    }

    #[test]
    fn origin_is_read_from_the_remote_section_only() {
        let config = "[core]\n\turl = nope\n[remote \"upstream\"]\n\turl = https://github.com/up/x\n\
                      [Remote \"origin\"]\n\t# a comment\n\tURL = \"git@github.com:me/x.git\"\n\
                      \tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\turl = no\n";
        assert_eq!(
            remote_url(config, "origin").as_deref(),
            Some("git@github.com:me/x.git")
        );
        assert_eq!(remote_url("[remote \"origin\"]\n", "origin"), None);
    }

    #[test]
    fn worktrees_and_plain_checkouts_find_their_origin() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        fs::create_dir_all(main.join(".git/worktrees/wt")).unwrap();
        fs::write(
            main.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/o/r.git\n",
        )
        .unwrap();
        fs::write(main.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        let wt = dir.path().join("wt");
        fs::create_dir_all(&wt).unwrap();
        fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        assert_eq!(resolve(&main, None), "github.com/o/r");
        assert_eq!(resolve(&wt, None), "github.com/o/r");
        assert_eq!(resolve(&wt, Some(" fleet-a ")), "fleet-a");
        let plain = dir.path().join("plain");
        fs::create_dir_all(&plain).unwrap();
        assert_eq!(resolve(&plain, None), format!("path:{}", plain.display()));
    }
}
