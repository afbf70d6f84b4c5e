//! Small helpers shared by every command: paths, running child processes, timing.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Error type of xtask: a human-readable message (xtask is a CLI; every error ends up printed).
pub type Error = String;
pub type Result<T> = std::result::Result<T, Error>;

/// Root of the workspace (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // crates/xtask/ -> ../../
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The directory build products go to: `$CARGO_TARGET_DIR` when set (so several developers sharing one tree
/// do not overwrite each other), else `<workspace>/target`.
pub fn target_root() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let p = PathBuf::from(dir);
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// True when running under CI (`CI` set to anything but empty/`0`/`false`): steps must not skip there.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// The host cargo: the one that started xtask (`$CARGO`, set by `cargo run`), else `cargo` from PATH.
pub fn host_cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    cmd
}

/// Print a command the way a user would type it, then run it with inherited stdio.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = run_status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {status}", display_cmd(cmd)))
    }
}

/// Like [`run`] but returns the exit status instead of failing on non-zero.
pub fn run_status(cmd: &mut Command) -> Result<ExitStatus> {
    println!("$ {}", display_cmd(cmd));
    cmd.status()
        .map_err(|e| format!("cannot start `{}`: {e}", display_cmd(cmd)))
}

/// Like [`run_status`], but the child's stdout and stderr are also kept (interleaved by line)
/// while they stream to the console, so a step can quote what failed in its summary line.
pub fn run_tee(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    println!("$ {}", display_cmd(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", display_cmd(cmd)))?;
    let kept = Arc::new(Mutex::new(String::new()));
    let mut pumps = Vec::new();
    let out = child
        .stdout
        .take()
        .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>);
    let err = child
        .stderr
        .take()
        .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>);
    for (reader, to_stderr) in [(out, false), (err, true)] {
        let Some(reader) = reader else { continue };
        let kept = Arc::clone(&kept);
        pumps.push(std::thread::spawn(move || {
            for line in BufReader::new(reader)
                .split(b'\n')
                .map_while(std::result::Result::ok)
            {
                let text = String::from_utf8_lossy(&line);
                // Console write errors (closed pipe) must not stop the child's output from draining.
                if to_stderr {
                    let _ = writeln!(std::io::stderr(), "{text}");
                } else {
                    let _ = writeln!(std::io::stdout(), "{text}");
                }
                if let Ok(mut k) = kept.lock() {
                    k.push_str(&text);
                    k.push('\n');
                }
            }
        }));
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{}`: {e}", display_cmd(cmd)))?;
    for p in pumps {
        let _ = p.join();
    }
    let text = kept.lock().map(|k| k.clone()).unwrap_or_default();
    Ok((status, text))
}

/// Names of the failed tests in `cargo test` / `cargo nextest` output (deduplicated, in order).
pub fn failed_tests(output: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        // cargo test: "test path::name ... FAILED"
        let name = if let Some(rest) = line.strip_prefix("test ") {
            rest.strip_suffix(" ... FAILED").map(str::to_owned)
        // nextest: "FAIL [   1.234s] crate::binary path::name" (also TIMEOUT / SIGSEGV …)
        } else if let Some(rest) = ["FAIL [", "TIMEOUT [", "SIGSEGV [", "SIGABRT ["]
            .iter()
            .find_map(|p| line.strip_prefix(p))
        {
            // Newer nextest puts a progress counter "( 3/155)" before the name.
            rest.split_once(']')
                .map(|(_, n)| n.trim())
                .map(
                    |n| match n.strip_prefix('(').and_then(|r| r.split_once(')')) {
                        Some((_, name)) => name.trim(),
                        None => n,
                    },
                )
                .map(str::to_owned)
                .filter(|n| !n.is_empty())
        } else {
            None
        };
        if let Some(n) = name {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

/// A step's failure line: what ran, its status and the failed tests (at most 12 named).
pub fn test_failure(what: &str, status: ExitStatus, output: &str) -> String {
    let failed = failed_tests(output);
    if failed.is_empty() {
        return format!("{what} failed ({status})");
    }
    let shown: Vec<&str> = failed.iter().take(12).map(String::as_str).collect();
    let more = failed.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{what}: {} failed: {}{tail}",
        failed.len(),
        shown.join(", ")
    )
}

/// Run quietly and capture stdout (stderr is inherited so failures stay visible).
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", display_cmd(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", display_cmd(cmd), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True if `cmd` starts and exits 0 (stdout/stderr discarded). Used by prerequisite probes.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn display_cmd(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), quote(v)));
        }
    }
    s.push_str(&quote(cmd.get_program()));
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `12.3 s` / `2 min 03 s`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// Run `f` and return its result with the elapsed wall time.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

/// A banner printed before each step/command so long logs stay navigable.
pub fn header(title: &str) {
    let line = "=".repeat(78);
    println!("\n{line}\n== {title}\n{line}");
}

/// Today's date (UTC) as (year, month, day); `SOURCE_DATE_EPOCH` overrides the clock for reproducible builds.
pub fn build_date() -> (i64, u32, u32) {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    civil_from_days(secs.div_euclid(86_400))
}

/// Days since 1970-01-01 -> proleptic Gregorian (year, month, day). Howard Hinnant's published algorithm
/// ("chrono-compatible low-level date algorithms"), re-derived here to avoid a date crate.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_from_days_matches_known_calendar_dates() {
        // Reference dates checked against `date -u -d @<secs>`: epoch, a leap day, a century non-leap year edge.
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29)); // 951782400 s
        assert_eq!(civil_from_days(-25_508), (1900, 3, 1)); // 1900 is not a leap year: Feb 28 -> Mar 1
        assert_eq!(civil_from_days(-25_509), (1900, 2, 28));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }

    #[test]
    fn failed_tests_are_found_in_cargo_test_and_nextest_output() {
        let out = "\
test a::passes ... ok
test a::breaks ... FAILED
        FAIL [   1.234s] ( 3/155) netkvm-e2e::rsc rsc_reorders
        PASS [   0.100s] netkvm-e2e::rsc fine
     TIMEOUT [  60.000s] netkvm-e2e::lso lso_hangs
------------
     Summary [  61.000s] 3 tests run: 1 passed, 2 failed
        FAIL [   1.234s] netkvm-e2e::rsc rsc_reorders
";
        assert_eq!(
            failed_tests(out),
            [
                "a::breaks",
                "netkvm-e2e::rsc rsc_reorders",
                "netkvm-e2e::lso lso_hangs"
            ]
        );
        assert!(failed_tests("test x ... ok\nall good\n").is_empty());
    }

    #[test]
    fn fmt_duration_switches_to_minutes_after_a_minute() {
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2 min 05 s");
    }
}
