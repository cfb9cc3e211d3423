//! Config YAML: any input gives a config or an error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = enlist::config::parse_file(text, std::path::Path::new("/etc/enlist/config.yaml")) {
        assert!(e.to_string().contains("/etc/enlist/config.yaml"));
    }
});
