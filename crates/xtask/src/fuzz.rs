//! `cargo xtask fuzz [<crate> [<target>]] [--secs N]` and the `fuzz-smoke` step of `cargo xtask test`.
//!
//! Convention (/work/notes/conventions.md, "Fuzzing"): each crate keeps a cargo-fuzz project in
//! `crates/<crate>/fuzz/` (its own `[workspace]`), targets in `fuzz/fuzz_targets/<target>.rs`, seeds in
//! `fuzz/corpus/<target>/`. Targets are discovered from the file system, so a crate owner adds a target by
//! adding the file — nothing to register here. Zero targets is fine (nothing to run).
//!
//! Runs use `cargo +nightly fuzz` when a nightly toolchain is installed, else the stable toolchain with
//! `RUSTC_BOOTSTRAP=1` (cargo-fuzz needs `-Z` flags). The committed seed corpus is read, never written:
//! libFuzzer writes new inputs to a scratch corpus under the target dir.

use std::path::PathBuf;
use std::process::Command;

use crate::prereq::{self, Prereq};
use crate::util::{self, Result};

/// Seconds per target inside `cargo xtask test`.
pub const SMOKE_SECS: u64 = 20;
/// Seconds per target for `cargo xtask fuzz` without `--secs`.
pub const DEFAULT_SECS: u64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Crate directory name under `crates/`.
    pub krate: String,
    pub name: String,
    /// `crates/<crate>` (cargo fuzz runs from here and finds `fuzz/`).
    pub crate_dir: PathBuf,
}

/// Every `crates/*/fuzz/fuzz_targets/*.rs`, sorted.
pub fn discover() -> Vec<Target> {
    discover_in(&util::workspace_root().join("crates"))
}

pub fn discover_in(crates: &std::path::Path) -> Vec<Target> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(crates) else {
        return out;
    };
    for e in entries.flatten() {
        let crate_dir = e.path();
        let Ok(targets) = std::fs::read_dir(crate_dir.join("fuzz").join("fuzz_targets")) else {
            continue;
        };
        for t in targets.flatten() {
            let p = t.path();
            if p.extension().is_some_and(|x| x == "rs") {
                if let Some(stem) = p.file_stem() {
                    out.push(Target {
                        krate: e.file_name().to_string_lossy().into_owned(),
                        name: stem.to_string_lossy().into_owned(),
                        crate_dir: crate_dir.clone(),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.krate, &a.name).cmp(&(&b.krate, &b.name)));
    out
}

fn has_nightly() -> bool {
    util::output(Command::new("rustup").args(["toolchain", "list"]))
        .map(|s| s.lines().any(|l| l.starts_with("nightly")))
        .unwrap_or(false)
}

/// Run one target for `secs` seconds, its output on the console.
pub fn run_target(t: &Target, secs: u64) -> Result<()> {
    util::run(&mut fuzz_command(t, secs)?)
}

/// Run one target for `secs` seconds with libFuzzer's progress lines in a log file (they would
/// bury the rest of a CI log); on failure the log's last lines are printed.
fn run_target_logged(t: &Target, secs: u64) -> Result<()> {
    let logs = util::target_root().join("fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let log = logs.join(format!("{}-{}.log", t.krate, t.name));
    let file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let file2 = file
        .try_clone()
        .map_err(|e| format!("cannot reopen {}: {e}", log.display()))?;
    let mut cmd = fuzz_command(t, secs)?;
    cmd.stdout(file).stderr(file2);
    println!("$ {}  > {}", util::display_cmd(&cmd), log.display());
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", util::display_cmd(&cmd)))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if status.success() {
        // libFuzzer's last line says how many runs were done; keep that much on the console.
        if let Some(done) = lines.iter().rev().find(|l| l.starts_with("Done ")) {
            println!("{done}");
        }
        Ok(())
    } else {
        for l in &lines[lines.len().saturating_sub(60)..] {
            println!("{l}");
        }
        Err(format!(
            "`{}` failed: {status} (log: {})",
            util::display_cmd(&cmd),
            log.display()
        ))
    }
}

fn fuzz_command(t: &Target, secs: u64) -> Result<Command> {
    let scratch = util::target_root()
        .join("fuzz-corpus")
        .join(&t.krate)
        .join(&t.name);
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let seeds = t.crate_dir.join("fuzz").join("corpus").join(&t.name);
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&t.crate_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO");
    if has_nightly() {
        cmd.arg("+nightly");
    } else {
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    cmd.args(["fuzz", "run", "--target-dir"])
        .arg(util::target_root().join("fuzz"))
        .arg(&t.name)
        .arg(&scratch);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--").arg(format!("-max_total_time={secs}"));
    Ok(cmd)
}

/// The `fuzz-smoke` step: every discovered target for [`SMOKE_SECS`].
pub fn smoke() -> Result<String> {
    let targets = discover();
    if targets.is_empty() {
        println!("no fuzz targets found under crates/*/fuzz/fuzz_targets/");
        return Ok("no targets yet".into());
    }
    let mut failed = Vec::new();
    for t in &targets {
        util::header(&format!("fuzz {}/{} for {SMOKE_SECS} s", t.krate, t.name));
        if let Err(e) = run_target_logged(t, SMOKE_SECS) {
            println!("{e}");
            failed.push(format!("{}/{}", t.krate, t.name));
        }
    }
    if failed.is_empty() {
        Ok(format!("{} targets x {SMOKE_SECS} s", targets.len()))
    } else {
        Err(format!("fuzz targets failed: {}", failed.join(", ")))
    }
}

/// `cargo xtask fuzz [<crate> [<target>]] [--secs N]`.
pub fn command(args: &[String]) -> Result<()> {
    let mut secs = DEFAULT_SECS;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--secs" {
            secs = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("--secs needs a number of seconds")?;
        } else if a == "--list" {
            for t in discover() {
                println!("{} {}", t.krate, t.name);
            }
            return Ok(());
        } else {
            pos.push(a.as_str());
        }
    }
    let targets: Vec<Target> = discover()
        .into_iter()
        .filter(|t| pos.first().is_none_or(|c| t.krate == *c))
        .filter(|t| pos.get(1).is_none_or(|n| t.name == *n))
        .collect();
    if targets.is_empty() {
        return Err(format!(
            "no fuzz target matches {pos:?} (see `cargo xtask fuzz --list`)"
        ));
    }
    prereq::ensure(&[Prereq::CargoFuzz])?;
    for t in &targets {
        util::header(&format!("fuzz {}/{} for {secs} s", t.krate, t.name));
        run_target(t, secs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_finds_rs_targets_only_and_tolerates_missing_dirs() {
        let root =
            std::env::temp_dir().join(format!("xtask-fuzz-discovery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(discover_in(&root).is_empty(), "missing crates dir");
        std::fs::create_dir_all(root.join("b/fuzz/fuzz_targets")).unwrap();
        std::fs::create_dir_all(root.join("a/fuzz/fuzz_targets")).unwrap();
        std::fs::create_dir_all(root.join("nofuzz/src")).unwrap();
        std::fs::write(root.join("b/fuzz/fuzz_targets/parse.rs"), "").unwrap();
        std::fs::write(root.join("a/fuzz/fuzz_targets/z.rs"), "").unwrap();
        std::fs::write(root.join("a/fuzz/fuzz_targets/notes.txt"), "").unwrap();
        let got: Vec<(String, String)> = discover_in(&root)
            .into_iter()
            .map(|t| (t.krate, t.name))
            .collect();
        assert_eq!(
            got,
            vec![("a".into(), "z".into()), ("b".into(), "parse".into())]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
