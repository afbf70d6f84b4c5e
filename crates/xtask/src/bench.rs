//! `cargo xtask bench <suite>`: runs a benchmark suite and repeats its `BENCH`/`RATIO` lines as a summary.
//!
//! Convention (/work/notes/conventions.md, "Benchmarks"): criterion benches in `crates/<crate>/benches/`
//! print `BENCH <name> <value> <unit>` and `RATIO <name> <x>x (target <op> <t>) <PASS|MISS>` lines.
//! `cargo xtask bench core [--] [ARGS]` passes ARGS to the benchmark binaries (a name filter, criterion
//! options such as `--quick`). Extension point: add a row to [`SUITES`] — a name, a description, and the command to run. A MISS is
//! reported, not fatal; a failing benchmark command is.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::util::{self, Result};

pub struct Suite {
    pub name: &'static str,
    pub what: &'static str,
    /// Builds the command (installing what it needs); an error says why it cannot run.
    pub command: fn() -> std::result::Result<Command, String>,
}

pub const SUITES: &[Suite] = &[
    Suite {
        name: "core",
        what: "cargo bench -p netkvm-core --bench '*'",
        command: || Ok(cargo_bench("netkvm-core")),
    },
    Suite {
        name: "virtio",
        what: "cargo bench -p netkvm-virtio --bench '*'",
        command: || Ok(cargo_bench("netkvm-virtio")),
    },
    Suite {
        name: "e2e",
        what: "netkvm-e2e bench: RSC/LSO/USO on vs off, driver vs pass-through ceiling, CPU per Gbit/s",
        command: crate::e2e::bench_command,
    },
];

fn cargo_bench(package: &str) -> Command {
    let mut cmd = util::host_cargo();
    // `--bench '*'`: every bench target but not the lib's unit tests (`--benches` would include them, and
    // libtest rejects criterion options such as `--quick`).
    cmd.args(["bench", "-p", package, "--bench", "*"]);
    cmd
}

/// The summary lines of a benchmark log.
pub fn summary_lines(log: &str) -> Vec<&str> {
    log.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("BENCH ") || l.starts_with("RATIO "))
        .collect()
}

pub fn command(args: &[String]) -> Result<()> {
    let Some(name) = args.first() else {
        let names: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
        return Err(format!("usage: cargo xtask bench <{}>", names.join("|")));
    };
    let suite = SUITES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("unknown bench suite `{name}`"))?;
    let mut cmd = (suite.command)()?;
    // Anything after the suite name goes to the benchmark binaries (e.g. `-- --quick`, a filter).
    let extra: Vec<&String> = args[1..]
        .iter()
        .skip_while(|a| a.as_str() == "--")
        .collect();
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    util::header(&format!("bench {}: {}", suite.name, suite.what));
    println!("$ {}", util::display_cmd(&cmd));
    let (res, t) = util::timed(|| -> Result<String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start benchmark: {e}"))?;
        let mut log = String::new();
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out)
                .lines()
                .map_while(std::result::Result::ok)
            {
                println!("{line}");
                log.push_str(&line);
                log.push('\n');
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(log)
        } else {
            Err(format!("benchmark command failed: {status}"))
        }
    });
    let log = res?;
    util::header(&format!(
        "bench {} summary ({})",
        suite.name,
        util::fmt_duration(t)
    ));
    let lines = summary_lines(&log);
    if lines.is_empty() {
        println!("(no BENCH/RATIO lines printed)");
    }
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keeps_only_bench_and_ratio_lines() {
        let log = "Benchmarking x\nBENCH checksum_64k 41.2 GB/s\n  RATIO a_vs_b 0.83x (target >= 0.80) PASS\n\
                   BENCHMARK noise\nratio lower-case ignored\n";
        assert_eq!(
            summary_lines(log),
            vec![
                "BENCH checksum_64k 41.2 GB/s",
                "RATIO a_vs_b 0.83x (target >= 0.80) PASS"
            ]
        );
    }
}
