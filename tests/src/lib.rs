//! End-to-end harness: where the project's tools live and how to render a policy for them.
//!
//! The tools (cfn-lint, moto) come from the project-local virtualenv that `just setup` creates.
//! A missing tool fails the test with the command that installs it: a skipped check would let a
//! broken template land.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool from the project virtualenv (`PATCHPLANE_VENV` overrides `.venv`).
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("PATCHPLANE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let tool = venv.join("bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing: run `just setup` to create the project virtualenv",
        tool.display()
    );
    tool
}

/// Loads, renders and writes `policy` (relative to the root) below `out`; returns the written
/// files and the renderer's notes.
pub fn generate(policy: &str, out: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let loaded = patchplane::load_file(&root().join(policy)).unwrap_or_else(|e| panic!("{policy}: {e:?}"));
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    patchplane::output::write(out, &rendered).expect("writes");
    (
        rendered.files.iter().map(|f| out.join(&f.path)).collect(),
        rendered.notes,
    )
}
