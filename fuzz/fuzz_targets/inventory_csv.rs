//! Inventory CSV: any bytes give an inventory (with per-row errors) or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = enlist::reconcile::inventory::parse(data, "inventory.csv", None);
});
