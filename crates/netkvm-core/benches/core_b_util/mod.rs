//! Summary lines for core-b's benches (conventions.md): read the medians criterion just wrote
//! and print `BENCH <name> <value> <unit>` / `RATIO <name> <value>x (target <op> <t>) PASS|MISS`.

use std::path::PathBuf;
use std::process::Command;

/// Criterion's output directory, resolved the way criterion 0.8 resolves it.
fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    let meta = std::env::var_os("CARGO").and_then(|cargo| {
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()
    });
    if let Some(out) = meta {
        let s = String::from_utf8_lossy(&out.stdout);
        let key = "\"target_directory\":\"";
        if let Some(i) = s.find(key) {
            let rest = &s[i + key.len()..];
            if let Some(end) = rest.find('"') {
                return PathBuf::from(rest[..end].replace("\\\\", "\\")).join("criterion");
            }
        }
    }
    PathBuf::from("target/criterion")
}

/// Median (ns) of `<group>/<function>` from criterion's `new/estimates.json`.
pub fn median_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let median = &text[text.find("\"median\"")?..];
    let pe = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = pe.find([',', '}'])?;
    pe[..end].trim().parse().ok()
}

pub fn bench_line(name: &str, value: f64, unit: &str) {
    println!("BENCH {name} {value:.2} {unit}");
}

/// `ratio` judged against `op threshold` (`op` is ">=" or "<=").
pub fn ratio_line(name: &str, ratio: f64, op: &str, threshold: f64) {
    let pass = if op == ">=" {
        ratio >= threshold
    } else {
        ratio <= threshold
    };
    println!(
        "RATIO {name} {ratio:.2}x (target {op} {threshold:.2}) {}",
        if pass { "PASS" } else { "MISS" }
    );
}
