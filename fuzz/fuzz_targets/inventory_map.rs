//! `--inventory-map`: any text gives a map or an error naming the file, never a panic.
#![no_main]

use enlist::reconcile::InventoryMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = InventoryMap::parse(text, "maps/inventory-map.yaml") {
        assert!(e.to_string().contains("maps/inventory-map.yaml"), "{e}");
    }
});
