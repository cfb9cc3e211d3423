//! The marker file: garbage must be an error (treated as absent), never a panic; a valid marker
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(marker) = enlist::register::marker::parse(data) {
        let bytes = serde_json::to_vec(&marker).expect("serialize");
        assert_eq!(enlist::register::marker::parse(&bytes).expect("round trip"), marker);
    }
});
