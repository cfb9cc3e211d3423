//! node.yaml parsing (upstream files, reconcile input): never panics, and whatever parses and
//! verifies re-renders to a document that parses and verifies again.
#![no_main]

use enlist::document::NodeDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = NodeDocument::parse(text, "fuzz/node.yaml") {
        let again = NodeDocument::parse(&doc.to_yaml(), "fuzz/node.yaml").expect("round trip");
        assert_eq!(again, doc);
    }
    let _ = NodeDocument::parse_unverified(text, "fuzz/node.yaml");
});
