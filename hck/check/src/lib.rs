//! Checks of the hck/ kit that run on Linux.
//!
//! There is no PowerShell here (no registry this machine reaches ships `pwsh`), so the kit is
//! checked with what Linux can do:
//! * [`keywords`]: `hck/keywords.psd1` is generated from the driver's table
//!   (`netkvm_core::params::PARAMS`) and read back independently;
//! * [`profiles`]: every profile under `hck/profiles/` names only driver keywords with allowed
//!   values;
//! * [`ps`]: every `.ps1`/`.psm1`/`.psd1` parses with the tree-sitter PowerShell grammar and
//!   follows the kit's rules (help, `[CmdletBinding()]`, strict mode, no aliases, Windows
//!   PowerShell 5.1 syntax, ASCII, only existing keywords);
//! * the `hck/qemu/*.sh` scripts are checked by the integration tests (bash -n, shellcheck,
//!   dry runs, and a real bridge/TAP in a network namespace).
//!
//! `hck/Test-HckKit.ps1` runs the real PowerShell parser and PSScriptAnalyzer on Windows.

use std::path::{Path, PathBuf};

pub mod keywords;
pub mod profiles;
pub mod ps;
pub mod psd1;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The kit directory `hck/`.
pub fn kit_dir() -> PathBuf {
    repo_root().join("hck")
}

/// Files directly in `dir` and its subdirectories whose name ends with one of `exts`, sorted,
/// skipping the `check/` crate.
pub fn kit_files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "check" && n != "target") {
                    stack.push(p);
                }
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| exts.iter().any(|x| n.ends_with(x)))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
