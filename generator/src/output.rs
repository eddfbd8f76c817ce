//! Writing rendered files, and `--check`: comparing them with what is on disk.

use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::render::Rendered;

/// A difference between the rendered output and the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The file is not on disk.
    Missing(PathBuf),
    /// The file differs; the unified diff from disk to rendered.
    Changed(PathBuf, String),
    /// A file in a generated folder that the policy no longer renders.
    Extra(PathBuf),
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::Missing(p) => write!(f, "missing: {}", p.display()),
            Drift::Changed(p, diff) => write!(f, "stale: {}\n{diff}", p.display()),
            Drift::Extra(p) => write!(f, "not rendered by this policy: {}", p.display()),
        }
    }
}

/// Writes every file below `out`, creating folders; unchanged files are not rewritten.
pub fn write(out: &Path, rendered: &Rendered) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in &rendered.files {
        let path = out.join(&f.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(f.contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.contents)?;
        written.push(path);
    }
    Ok(written)
}

/// Compares `rendered` with `out`.
pub fn check(out: &Path, rendered: &Rendered) -> Vec<Drift> {
    let mut drifts = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for f in &rendered.files {
        let path = out.join(&f.path);
        if let Some(parent) = f.path.parent()
            && !dirs.iter().any(|d| d == parent)
        {
            dirs.push(parent.to_path_buf());
        }
        match std::fs::read_to_string(&path) {
            Err(_) => drifts.push(Drift::Missing(path)),
            Ok(old) if old != f.contents => {
                let diff = TextDiff::from_lines(&old, &f.contents)
                    .unified_diff()
                    .context_radius(2)
                    .header(
                        &format!("{} (committed)", path.display()),
                        &format!("{} (rendered)", path.display()),
                    )
                    .to_string();
                drifts.push(Drift::Changed(path, diff));
            }
            Ok(_) => {}
        }
    }
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(out.join(&d)) else {
            continue;
        };
        let mut extra: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && !rendered.files.iter().any(|f| out.join(&f.path) == *p))
            .collect();
        extra.sort();
        drifts.extend(extra.into_iter().map(Drift::Extra));
    }
    drifts
}
