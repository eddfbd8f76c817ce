//! Any text to the read-back of rendered templates (ADR 018): the fast reader never panics, and
//! whatever it reads, serde_yaml reads too, to the same value. What it gives up on goes to
//! serde_yaml anyway, so agreeing where it answers is the whole guarantee.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patchplane::yaml::{Node, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(fast) = parse(text) {
        let slow = serde_yaml::from_str::<serde_yaml::Value>(text)
            .unwrap_or_else(|e| panic!("the fast reader read {text:?}, serde_yaml refused it: {e}"));
        assert!(fast == Node::from(slow), "{text:?} read differently");
    }
});
