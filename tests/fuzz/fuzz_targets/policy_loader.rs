//! Any text as a policy file: loading never panics; a policy that loads renders, and every
//! rendered template parses back as YAML (the escaping guarantee, under arbitrary input).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use patchplane::load::{LoadError, load_str};
use patchplane::render::render;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match load_str(text, Path::new("p.yaml")) {
        Ok(l) => {
            let r = render(&l.plan).expect("a valid policy renders");
            for f in &r.files {
                if f.path.extension().is_some_and(|e| e == "yaml") {
                    serde_yaml::from_str::<serde_yaml::Value>(&f.contents).expect("rendered YAML parses");
                }
            }
        }
        Err(LoadError::Invalid(d)) => assert!(!d.is_empty(), "an invalid policy says why"),
        Err(e) => panic!("unexpected error {e}"),
    }
});
