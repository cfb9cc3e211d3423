//! Cells as people type them: amounts with units and thousands separators, prices with currency
//! signs, and the status words of NetBox and Snipe-IT.
//!
//! | field | accepted | read as |
//! |---|---|---|
//! | `memory_gb` | `512`, `512 GB`, `512GiB`, `0.5 TB`, `1 TiB`, `"1,536"` | GB as sold = GiB: a bare number is GB, `TB`/`TiB` × 1024, `MB`/`MiB` ÷ 1024 |
//! | `storage_gb` | `3840`, `3.84 TB`, `960 GB`, `1 TiB`, `512 GiB` | decimal GB: `TB` × 1000, `TiB` × 1099.5…, `GiB` × 1.0737…, `PB` × 10⁶ |
//! | `cost` | `8200`, `$8,200.00`, `"11,200.00"`, `€ 7,800`, `8200 USD`, `8200 usd` | the number; the currency is not converted |
//! | `cores` | `40`, `40.0` | a whole number (spreadsheets export number cells as `40.0`) |
//!
//! RAM is sold in binary units (a "32 GB" DIMM holds 32 GiB, a "0.5 TB" server 512 GiB); disks in
//! decimal ones (a "3.84 TB" SSD holds 3.84 × 10¹² bytes) — the units the demand file and the
//! node facts use. A unit is matched case-insensitively, with or without a space. Anything else
//! (`lots`, `1,5`, `0,500`, `12 furlongs`, `8.5` cores) is an invalid row naming the column and
//! the value.

use super::Status;
use super::header::normalise;
use super::map::InventoryMap;
use crate::reconcile::demand::MAX_AMOUNT;

/// The default vocabulary: enlist's four words, NetBox's device statuses and Snipe-IT's default
/// status labels (SPEC §5), [normalised](normalise).
const STATUS_WORDS: &[(&str, Status)] = &[
    ("active", Status::Active),
    ("spare", Status::Spare),
    ("retired", Status::Retired),
    ("broken", Status::Broken),
    // NetBox device statuses.
    ("planned", Status::Spare),
    ("staged", Status::Spare),
    ("inventory", Status::Spare),
    ("offline", Status::Broken),
    ("failed", Status::Broken),
    ("decommissioning", Status::Retired),
    // Snipe-IT default status labels (`Deployed` is a checked-out asset).
    ("deployed", Status::Active),
    ("readytodeploy", Status::Spare),
    ("pending", Status::Spare),
    ("outforrepair", Status::Broken),
    ("outfordiagnostics", Status::Broken),
    ("archived", Status::Retired),
    ("brokennotfixable", Status::Retired),
    ("loststolen", Status::Retired),
];

/// The status a (non-empty) word means: the map's words first, then the default vocabulary.
pub fn status(raw: &str, map: Option<&InventoryMap>) -> Option<Status> {
    let key = normalise(raw);
    map.and_then(|m| m.status(&key)).or_else(|| {
        STATUS_WORDS
            .iter()
            .find(|(word, _)| *word == key)
            .map(|(_, status)| *status)
    })
}

/// What an amount measures, for its units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Memory: GB as sold = GiB.
    Memory,
    /// Storage: decimal GB.
    Storage,
}

/// GB per unit, by normalised unit name; `""` is a bare number.
fn unit_factor(quantity: Quantity, unit: &str) -> Option<f64> {
    const KI: f64 = 1024.0;
    let gib_in_gb = KI * KI * KI / 1e9;
    Some(match (quantity, unit) {
        (Quantity::Memory, "" | "g" | "gb" | "gib") => 1.0,
        (Quantity::Memory, "t" | "tb" | "tib") => KI,
        (Quantity::Memory, "m" | "mb" | "mib") => 1.0 / KI,
        (Quantity::Storage, "" | "g" | "gb") => 1.0,
        (Quantity::Storage, "gib") => gib_in_gb,
        (Quantity::Storage, "t" | "tb") => 1e3,
        (Quantity::Storage, "tib") => gib_in_gb * KI,
        (Quantity::Storage, "p" | "pb") => 1e6,
        (Quantity::Storage, "pib") => gib_in_gb * KI * KI,
        (Quantity::Storage, "m" | "mb") => 1e-3,
        (Quantity::Storage, "mib") => gib_in_gb / KI,
        _ => return None,
    })
}

/// Why a cell is not an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Not a number (with a known unit) at all.
    NotANumber,
    /// A number above [`MAX_AMOUNT`]: not an amount of one machine.
    TooLarge,
}

/// An amount of memory or storage in GB, from `512`, `0.5 TB`, `1 TiB`, `3.84TB`.
pub fn amount(raw: &str, quantity: Quantity) -> Result<f64, Bad> {
    let raw = raw.trim();
    // `1e308` is a (huge) bare number, not 1 of the unit "e308".
    if raw.parse::<f64>().is_ok() {
        return number(raw);
    }
    let split = raw.find(|c: char| c.is_alphabetic()).unwrap_or(raw.len());
    let (number_part, unit) = raw.split_at(split);
    let factor = unit_factor(quantity, &unit.trim().to_lowercase()).ok_or(Bad::NotANumber)?;
    let value = number(number_part.trim())? * factor;
    if value > MAX_AMOUNT {
        return Err(Bad::TooLarge);
    }
    Ok(value)
}

/// A price: the number, without a currency sign or an ISO 4217 code (three letters, any case:
/// `USD`, `usd`) before or after it.
pub fn cost(raw: &str) -> Result<f64, Bad> {
    let is_code = |word: &str| word.len() == 3 && word.chars().all(|c| c.is_ascii_alphabetic());
    let sign = |c: char| "$€£¥₹".contains(c) || c.is_whitespace();
    let mut rest = raw.trim().trim_matches(sign);
    if let Some((code, tail)) = rest.split_once(char::is_whitespace)
        && is_code(code)
    {
        rest = tail;
    }
    if let Some((head, code)) = rest.rsplit_once(char::is_whitespace)
        && is_code(code)
    {
        rest = head;
    }
    number(rest.trim_matches(sign))
}

/// A number from 0 to [`MAX_AMOUNT`]; `1,536.5` style thousands separators are accepted, `1,5`
/// and `0,500` are not (a decimal comma would be read as a thousands separator: refuse to guess;
/// no one groups the digits of a number that starts with 0).
pub fn number(raw: &str) -> Result<f64, Bad> {
    let (integer, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let groups: Vec<&str> = integer.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (groups
            .first()
            .is_some_and(|g| (1..=3).contains(&g.len()) && !g.starts_with('0'))
            && groups.iter().skip(1).all(|g| g.len() == 3));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let value = if grouped_ok
        && !integer.is_empty()
        && groups.iter().all(|g| digits(g))
        && digits(fraction)
    {
        format!("{}.{}", groups.concat(), fraction)
            .trim_end_matches('.')
            .parse::<f64>()
            .map_err(|_| Bad::NotANumber)?
    } else {
        // Only to say "too large" rather than "not a number" for `1e308`.
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v > MAX_AMOUNT => return Err(Bad::TooLarge),
            _ => return Err(Bad::NotANumber),
        }
    };
    if value > MAX_AMOUNT {
        return Err(Bad::TooLarge);
    }
    Ok(value)
}

/// Why a cell is not a count of cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadCount {
    /// Not a number at all, or not a whole one (`8.5`).
    NotWhole,
    /// Past `u32`: not a count of one machine.
    TooLarge,
}

/// A whole number (of cores): `40`, `1,024`, or `40.0` as spreadsheets export a number cell.
pub fn count(raw: &str) -> Result<u32, BadCount> {
    let value = number(raw).map_err(|bad| match bad {
        Bad::NotANumber => BadCount::NotWhole,
        Bad::TooLarge => BadCount::TooLarge,
    })?;
    if value.fract() != 0.0 {
        return Err(BadCount::NotWhole);
    }
    if value > f64::from(u32::MAX) {
        return Err(BadCount::TooLarge);
    }
    // Whole, 0 ..= u32::MAX: exact.
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_as_people_type_it() {
        let m = |raw| amount(raw, Quantity::Memory);
        assert_eq!(m("512"), Ok(512.0));
        assert_eq!(m("512 GB"), Ok(512.0));
        assert_eq!(m("512GiB"), Ok(512.0));
        assert_eq!(m("0.5 TB"), Ok(512.0));
        assert_eq!(m("1 TiB"), Ok(1024.0));
        assert_eq!(m("1,536 gb"), Ok(1536.0));
        assert_eq!(m("98304 MB"), Ok(96.0));
        assert_eq!(m("lots").ok(), None);
        assert_eq!(m("12 furlongs").ok(), None);
        assert_eq!(m("-4 GB").ok(), None);
        assert_eq!(m("1e400"), Err(Bad::NotANumber));
        assert_eq!(m("1e308"), Err(Bad::TooLarge));
        assert_eq!(m("2000000000 TB"), Err(Bad::TooLarge));
    }

    #[test]
    fn numbers() {
        assert_eq!(number("1,536"), Ok(1536.0));
        assert_eq!(number("12.5"), Ok(12.5));
        assert_eq!(number("7"), Ok(7.0));
        assert_eq!(number("1000000000000"), Ok(1e12));
        assert_eq!(number("1,5"), Err(Bad::NotANumber));
        assert_eq!(number("-1"), Err(Bad::NotANumber));
        assert_eq!(number("1e400"), Err(Bad::NotANumber));
        assert_eq!(number("NaN"), Err(Bad::NotANumber));
        assert_eq!(number(""), Err(Bad::NotANumber));
        assert_eq!(number("1e308"), Err(Bad::TooLarge));
        // A decimal comma, or a grouped number starting with 0: refused, not 500.
        for raw in ["0,500", "0,500.5", "012,345", "00,001"] {
            assert_eq!(number(raw), Err(Bad::NotANumber), "{raw}");
        }
        assert_eq!(number("0"), Ok(0.0));
        assert_eq!(number("0.500"), Ok(0.5));
        assert_eq!(number("100,500"), Ok(100_500.0));
    }

    #[test]
    fn counts_are_whole_numbers_however_exported() {
        assert_eq!(count("40"), Ok(40));
        assert_eq!(count("40.0"), Ok(40));
        assert_eq!(count("1,024"), Ok(1024));
        assert_eq!(count("8.5"), Err(BadCount::NotWhole));
        assert_eq!(count("forty"), Err(BadCount::NotWhole));
        assert_eq!(count("-8"), Err(BadCount::NotWhole));
        assert_eq!(count("0,8"), Err(BadCount::NotWhole));
        assert_eq!(count("4294967296"), Err(BadCount::TooLarge));
        assert_eq!(count("4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn storage_as_people_type_it() {
        let s = |raw| amount(raw, Quantity::Storage);
        assert_eq!(s("3.84 TB"), Ok(3840.0));
        assert_eq!(s("960"), Ok(960.0));
        assert_eq!(s("1 TiB").map(|v| (v * 1000.0).round()), Ok(1_099_512.0));
        assert_eq!(s("2 PB"), Ok(2e6));
        assert_eq!(s("1,920 GB"), Ok(1920.0));
        assert_eq!(s("3.84 TiBs").ok(), None);
    }

    #[test]
    fn costs_with_signs_codes_and_separators() {
        assert_eq!(cost("$8,200.00"), Ok(8200.0));
        assert_eq!(cost("11,200.00"), Ok(11200.0));
        assert_eq!(cost("8200"), Ok(8200.0));
        assert_eq!(cost("€ 7,800"), Ok(7800.0));
        assert_eq!(cost("8200 USD"), Ok(8200.0));
        assert_eq!(cost("USD 8,200.50"), Ok(8200.5));
        // Codes in any case, as people type them.
        assert_eq!(cost("8200 usd"), Ok(8200.0));
        assert_eq!(cost("eur 7,800"), Ok(7800.0));
        assert_eq!(cost("8200 Chf"), Ok(8200.0));
        assert_eq!(cost("$0,500").ok(), None);
        assert_eq!(cost("8200 dollars").ok(), None);
        assert_eq!(cost("£1,5").ok(), None);
        assert_eq!(cost("free").ok(), None);
        assert_eq!(cost("1e13").ok(), None);
    }

    #[test]
    fn netbox_and_snipe_it_status_words() {
        for (word, expected) in [
            ("Active", Status::Active),
            ("Planned", Status::Spare),
            ("staged", Status::Spare),
            ("Inventory", Status::Spare),
            ("Offline", Status::Broken),
            ("Failed", Status::Broken),
            ("Decommissioning", Status::Retired),
            ("Deployed", Status::Active),
            ("Ready to Deploy", Status::Spare),
            ("Pending", Status::Spare),
            ("Out for Repair", Status::Broken),
            ("Out for Diagnostics", Status::Broken),
            ("Archived", Status::Retired),
            ("Broken - Not Fixable", Status::Retired),
            ("Lost/Stolen", Status::Retired),
            ("BROKEN", Status::Broken),
        ] {
            assert_eq!(status(word, None), Some(expected), "{word}");
        }
        assert_eq!(status("In Service", None), None);
        let map = InventoryMap::parse("statuses:\n  in service: active\n  planned: active\n", "m")
            .unwrap();
        assert_eq!(status("In  Service", Some(&map)), Some(Status::Active));
        assert_eq!(
            status("Planned", Some(&map)),
            Some(Status::Active),
            "the map wins"
        );
    }
}
