//! Man pages from the clap definitions ([`crate::cli`]), so they can never disagree with `--help`.
//!
//! The hidden `enlist manpage` command prints `enlist.1`, or with `--dir DIR` writes it and one
//! page per subcommand (`enlist-register.1`, …). Packagers run the freshly built binary once:
//! `nix/package.nix` installs the pages to `$out/share/man/man1/`, next to the shell completions
//! from `enlist completions`. The pages carry no date, so rebuilding gives identical bytes.

use std::io;

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::Cli;
use crate::reference;

/// One rendered page: its file name (`enlist.1`) and its roff text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// File name, `<command>.1`.
    pub file_name: String,
    /// The page (roff).
    pub text: String,
}

/// `enlist.1` first, then a page per visible subcommand.
pub fn pages() -> io::Result<Vec<Page>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building propagates the global flags and sets the `enlist-register` display names.
    cmd.build();
    let mut pages = vec![page(&cmd, true)?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub, false)?);
    }
    Ok(pages)
}

fn page(cmd: &clap::Command, top: bool) -> io::Result<Page> {
    let man = Man::new(cmd.clone())
        .source(format!("enlist {}", env!("CARGO_PKG_VERSION")))
        .manual("enlist manual");
    let mut out = Vec::new();
    man.render(&mut out)?;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    let extra = if top {
        reference_sections()
    } else {
        see_also(&["enlist(1)"])
    };
    // Every rendered chunk starts with the same apostrophe preamble; the page needs it once.
    let extra = extra.render();
    let extra = extra
        .lines()
        .skip_while(|l| l.starts_with(".ie \\n(.g") || l.starts_with(".el .ds Aq"))
        .fold(String::new(), |acc, l| acc + l + "\n");
    // Before VERSION, which clap_mangen puts last.
    match text.find("\n.SH VERSION") {
        Some(at) => text.insert_str(at + 1, &extra),
        None => text.push_str(&extra),
    }
    Ok(Page {
        file_name: man.get_filename(),
        text,
    })
}

/// EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO of `enlist.1`.
fn reference_sections() -> Roff {
    let mut roff = Roff::default();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in reference::EXIT_CODES {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(*meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in reference::environment_variables() {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(meaning)]);
    }
    roff.control("SH", ["FILES"]);
    for (name, meaning) in reference::FILES {
        roff.control("TP", []);
        roff.text([italic(*name)]);
        roff.text([roman(*meaning)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "enlist-facts(1), enlist-register(1), enlist-status(1), enlist-reconcile(1), \
         enlist-gate(1), enlist-doctor(1), enlist-sync(1), enlist-export(1), systemctl(1), \
         journalctl(1); the book (docs/, or README.md as its front page) of \
         https://github.com/enlist-dev/enlist",
    )]);
    roff
}

fn see_also(pages: &[&str]) -> Roff {
    let mut roff = Roff::default();
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(pages.join(", "))]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command_and_no_date() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|p| p.file_name.as_str()).collect();
        assert_eq!(names[0], "enlist.1");
        for name in [
            "enlist-facts.1",
            "enlist-register.1",
            "enlist-reconcile.1",
            "enlist-sync.1",
            "enlist-export.1",
        ] {
            assert!(names.contains(&name), "{names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("manpage")), "{names:?}");
        let main = &pages[0].text;
        assert!(main.contains("\n.TH enlist 1 "), "{main}");
        assert_eq!(main.matches(".ds Aq").count(), 2, "one preamble (.ie/.el)");
        assert!(
            main.find(".SH \"EXIT STATUS\"") < main.find(".SH VERSION"),
            "{main}"
        );
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SUBCOMMANDS"] {
            assert!(main.contains(section), "{section}");
        }
        let register = pages
            .iter()
            .find(|p| p.file_name == "enlist-register.1")
            .unwrap();
        assert!(register.text.contains("dry\\-run"), "{}", register.text);
        assert!(
            register.text.contains("quiet"),
            "global flags are on every page"
        );
        assert_eq!(pages, super::pages().unwrap(), "deterministic");
    }

    #[test]
    fn sync_and_export_are_documented_on_the_main_page() {
        let pages = pages().unwrap();
        // roff escapes `-` as `\-`.
        let main = pages[0].text.replace("\\-", "-");
        for needle in [
            "ENLIST_DATABASE_URL",
            "ENLIST_SYNC_LEASE_TTL_SECS",
            "ENLIST_SYNC_LEASE_WAIT_SECS",
            "database-url",
            "enlist-sync(1)",
            "enlist-export(1)",
        ] {
            assert!(main.contains(needle), "{needle} missing:\n{main}");
        }
        let exit_status =
            &main[main.find("EXIT STATUS").unwrap()..main.find("ENVIRONMENT").unwrap()];
        for code in ["69", "75", "77", "78"] {
            let entry = &exit_status[exit_status.find(&format!("\\fB{code}\\fR")).unwrap()..];
            let entry = &entry[..entry.find(".TP").unwrap_or(entry.len())];
            assert!(entry.contains("for sync"), "{code}: {entry}");
        }
    }
}
