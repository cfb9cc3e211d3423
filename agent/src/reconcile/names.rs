//! Comparing the names people and firmware give the same hardware.
//!
//! DMI says `Dell Inc.` / `PowerEdge R640`; a purchasing spreadsheet says `Dell` / `R640`, or
//! `Super Micro Computer, Inc.` where the BIOS says `Supermicro`. The rules are deliberately
//! small, so an operator can predict them:
//!
//! - **make**: lowercase, punctuation removed, corporate suffixes dropped (`inc`, `corp`,
//!   `corporation`, `co`, `ltd`, `llc`, `gmbh`, `computer`, `computers`, `technology`,
//!   `technologies`, `international`), spaces removed; then a few well-known aliases
//!   (`hewlett packard enterprise` / `hpe` / `hewlett packard` → `hp`). So `Dell` = `Dell Inc.` and
//!   `Supermicro` = `Super Micro Computer, Inc.`.
//! - **model**: lowercase words (runs of letters, digits and `-`); two models agree when their
//!   words are equal or one is a trailing part of the other, so `R640` = `PowerEdge R640` but
//!   `R640` ≠ `R6400`.

/// Words that say what kind of company it is, not which one.
const CORPORATE_WORDS: &[&str] = &[
    "inc",
    "corp",
    "corporation",
    "co",
    "ltd",
    "llc",
    "gmbh",
    "computer",
    "computers",
    "technology",
    "technologies",
    "international",
];

/// Canonical make after suffix removal → the one name it stands for.
const MAKE_ALIASES: &[(&str, &str)] = &[
    ("hewlettpackardenterprise", "hp"),
    ("hewlettpackard", "hp"),
    ("hpe", "hp"),
];

/// The canonical form of a make (vendor, manufacturer), for comparing and grouping.
pub fn canonical_make(raw: &str) -> String {
    let lowered = raw.to_lowercase();
    let joined: String = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !CORPORATE_WORDS.contains(word))
        .collect();
    MAKE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == joined)
        .map(|(_, canonical)| (*canonical).to_owned())
        .unwrap_or(joined)
}

/// The words of a model name, lowercase.
fn model_words(raw: &str) -> Vec<String> {
    raw.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The canonical form of a model, for grouping (`PowerEdge  R640` → `poweredge r640`).
pub fn canonical_model(raw: &str) -> String {
    model_words(raw).join(" ")
}

/// Whether two makes name the same vendor.
pub fn same_make(a: &str, b: &str) -> bool {
    canonical_make(a) == canonical_make(b)
}

/// Whether two model names agree: equal words, or one is the trailing words of the other.
pub fn same_model(a: &str, b: &str) -> bool {
    let a = model_words(a);
    let b = model_words(b);
    if a.is_empty() || b.is_empty() {
        return a == b;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    long.ends_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_spellings_agree() {
        assert!(same_make("Dell", "Dell Inc."));
        assert!(same_make("DELL INC", "dell"));
        assert!(same_make("Supermicro", "Super Micro Computer, Inc."));
        assert!(same_make("HPE", "Hewlett Packard Enterprise"));
        assert!(same_make("HP", "Hewlett-Packard"));
        assert!(!same_make("Dell", "Lenovo"));
        assert!(!same_make("Dell", ""));
    }

    #[test]
    fn model_matches_as_trailing_words() {
        assert!(same_model("R640", "PowerEdge R640"));
        assert!(same_model("poweredge r640", "PowerEdge  R640"));
        assert!(same_model("SYS-120U-TNR", "sys-120u-tnr"));
        assert!(!same_model("R640", "PowerEdge R6400"));
        assert!(!same_model("R640", "PowerEdge R650"));
        assert!(!same_model("PowerEdge", "PowerEdge R640"));
    }

    #[test]
    fn canonical_forms_group_spellings() {
        assert_eq!(canonical_make("Dell Inc."), "dell");
        assert_eq!(canonical_model(" PowerEdge   R640 "), "poweredge r640");
    }
}
