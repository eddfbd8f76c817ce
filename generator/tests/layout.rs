//! The crates stay layered: no two top-level modules of a crate import each other, directly or
//! around a circle (`tests/scripts/module-cycles.py`, python3's standard library only).

use std::path::Path;
use std::process::Command;

#[test]
fn no_import_circle_between_the_modules_of_a_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .args([
            "tests/scripts/module-cycles.py",
            "generator/src",
            "bridge/src",
            "integrations/src",
        ])
        .current_dir(&root)
        .output()
        .expect("python3 is on PATH");
    assert!(
        out.status.success(),
        "tests/scripts/module-cycles.py exited {:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
