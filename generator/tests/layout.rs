//! The crates stay layered: at every depth of the module tree (the crate root's modules, then
//! the submodules of each folder such as `bridge/src/sinks/`), no two sibling modules import each
//! other, directly or around a circle (`tests/scripts/module-cycles.py`, python3's standard
//! library only).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cycles(dirs: &[&str]) -> Output {
    Command::new("python3")
        .arg("tests/scripts/module-cycles.py")
        .args(dirs)
        .current_dir(root())
        .output()
        .expect("python3 is on PATH")
}

#[test]
fn no_import_circle_between_the_modules_of_a_crate_at_any_depth() {
    let out = cycles(&["generator/src", "bridge/src", "bridge/config/src", "integrations/src"]);
    assert!(
        out.status.success(),
        "tests/scripts/module-cycles.py exited {:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The circle the bridge's sinks had before issue 27, planted two levels down in a fixture whose
/// top-level modules have none: the check must find it and name both references.
#[test]
fn a_circle_between_nested_modules_is_found() {
    let out = cycles(&["tests/fixtures/module-cycles/nested/src"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("(lib.rs, sinks): import circle notify → servicenow → notify"),
        "{text}"
    );
    assert!(text.contains("sinks/notify.rs:1: super::servicenow"), "{text}");
    assert!(
        text.contains("sinks/servicenow/escalation.rs:1: crate::sinks::notify::digest"),
        "{text}"
    );
    assert!(text.contains("(lib.rs, crate root): no import circle"), "{text}");
}
