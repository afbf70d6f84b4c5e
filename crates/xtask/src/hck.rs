//! `cargo xtask hck rsc`: the RSC conformance suite (`tests/rsc_conformance.rs`, issue 8) on
//! every host path, then the rule table — rule (spec § and short text), path, PASS / FAIL / n/a
//! with the reason. Exits non-zero on any FAIL (or a test that never reported).
//!
//! Each path's tests run in one test process (`--test-threads=1`, filtered by the path suffix
//! of the test names) so they share one bench; the tests append their rows to a report file
//! (`$NETKVM_RSC_REPORT`, tab-separated: order, rule id, §, path, status, text, detail), the
//! catalogue test adds the n/a rows and one "expected" row per test.

use std::collections::BTreeMap;
use std::path::Path;

use crate::prereq;
use crate::util::{self, Result};

/// The report-file variable the suite reads (tests/common/rsc/mod.rs `REPORT_ENV`).
const REPORT_ENV: &str = "NETKVM_RSC_REPORT";
/// Test filters: the catalogue first, then one process per path.
const RUNS: [&str; 4] = ["rsc_catalogue", "_software", "_host_rsc_ext", "_host_gso"];
/// Paths, table order.
const PATHS: [&str; 3] = ["software", "host_rsc_ext", "host_gso"];

/// `cargo xtask hck <sub>`.
pub fn command(args: &[String]) -> Result<()> {
    match args {
        [a] if a == "rsc" => rsc(),
        _ => Err("usage: cargo xtask hck rsc".into()),
    }
}

/// One reported row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    order: usize,
    id: String,
    sec: String,
    path: String,
    status: String,
    text: String,
    detail: String,
}

fn parse(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [order, id, sec, path, status, text, detail] = f[..] else {
                return None;
            };
            Some(Row {
                order: order.parse().ok()?,
                id: id.into(),
                sec: sec.into(),
                path: path.into(),
                status: status.into(),
                text: text.into(),
                detail: detail.into(),
            })
        })
        .collect()
}

/// Per (rule, path) the final row: a result row wins over the catalogue's "expected" row; an
/// "expected" row left alone means the test never reported (a failure).
fn merge(rows: Vec<Row>) -> BTreeMap<(usize, usize), Row> {
    let mut out: BTreeMap<(usize, usize), Row> = BTreeMap::new();
    for r in rows {
        let p = PATHS
            .iter()
            .position(|&x| x == r.path)
            .unwrap_or(PATHS.len());
        let key = (r.order, p);
        match out.get(&key) {
            Some(old) if old.status != "expected" && r.status == "expected" => {}
            _ => {
                out.insert(key, r);
            }
        }
    }
    out
}

/// The status cell and the n/a reasons it refers to: "PASS", "FAIL", "n/a [2]",
/// "IPv4 PASS, IPv6 n/a [3]".
fn cell(r: &Row, reasons: &mut Vec<String>) -> String {
    let mut note = |why: &str| -> usize {
        let why = why.split(" — ").next().unwrap_or(why).trim().to_string();
        match reasons.iter().position(|x| *x == why) {
            Some(i) => i + 1,
            None => {
                reasons.push(why);
                reasons.len()
            }
        }
    };
    match r.status.as_str() {
        "PASS" => "PASS".into(),
        "expected" => "FAIL (no result)".into(),
        "FAIL" => "FAIL".into(),
        _ if !r.detail.contains(" n/a: ") => format!("n/a [{}]", note(&r.detail)),
        _ => {
            // "IPv4 PASS | IPv6 n/a: why — miniport guarantees PASS" → per family cells.
            let parts: Vec<(String, String)> = r
                .detail
                .split(" | ")
                .map(|part| match part.split_once(" n/a: ") {
                    Some((fam, why)) => {
                        let checked = if why.contains("guarantees PASS") {
                            ", guarantees PASS"
                        } else {
                            ""
                        };
                        (fam.to_string(), format!("n/a [{}]{checked}", note(why)))
                    }
                    None => match part.split_once(' ') {
                        Some((fam, rest)) => (fam.to_string(), rest.to_string()),
                        None => (String::new(), part.to_string()),
                    },
                })
                .collect();
            if parts.windows(2).all(|w| w[0].1 == w[1].1) {
                parts.first().map(|p| p.1.clone()).unwrap_or_default()
            } else {
                parts
                    .iter()
                    .map(|(f, c)| format!("{f} {c}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        }
    }
}

/// The rule table as printed.
fn table(rows: &BTreeMap<(usize, usize), Row>) -> (String, usize) {
    let mut reasons = Vec::new();
    let mut out = String::new();
    let mut fails = Vec::new();
    let mut last = usize::MAX;
    let (mut pass, mut na, mut fail) = (0, 0, 0);
    for ((order, _), r) in rows {
        if *order != last {
            out.push_str(&format!("\n{}  {}\n", r.sec, r.text));
            last = *order;
        }
        let c = cell(r, &mut reasons);
        match r.status.as_str() {
            "PASS" | "PASS+n/a" => pass += 1,
            "n/a" => na += 1,
            _ => {
                fail += 1;
                fails.push(format!("{} on {}: {}", r.id, r.path, r.detail));
            }
        }
        out.push_str(&format!("    {:<13} {c}\n", r.path));
    }
    out.push_str(&format!(
        "\n{} rule×path entries: {pass} PASS, {na} n/a, {fail} FAIL\n",
        rows.len()
    ));
    if !reasons.is_empty() {
        out.push_str(
            "\nn/a reasons (\"guarantees PASS\": the rule's segments were still sent on that \
             path and the miniport's own guarantees held — every byte indicated once and in \
             order, valid SCU headers, true checksum claims, counts, statistics):\n",
        );
        for (i, r) in reasons.iter().enumerate() {
            out.push_str(&format!("  [{}] {r}\n", i + 1));
        }
    }
    if !fails.is_empty() {
        out.push_str("\nFAIL details:\n");
        for f in &fails {
            out.push_str(&format!("  {f}\n"));
        }
    }
    (out, fail)
}

fn rsc() -> Result<()> {
    prereq::ensure(crate::e2e::NEEDS)?;
    if let Some(why) = crate::e2e::unavailable() {
        return Err(format!("the RSC conformance suite cannot run here: {why}"));
    }
    let report = util::target_root().join("rsc-conformance.tsv");
    if report.exists() {
        std::fs::remove_file(&report)
            .map_err(|e| format!("cannot remove {}: {e}", report.display()))?;
    }
    let mut broken = Vec::new();
    let (_, took) = util::timed(|| {
        for filter in RUNS {
            util::header(&format!("hck rsc: tests matching `{filter}`"));
            let mut cmd = util::host_cargo();
            cmd.args([
                "test",
                "-q",
                "-p",
                "netkvm-e2e",
                "--test",
                "rsc_conformance",
                "--",
                "--test-threads=1",
                filter,
            ])
            .env(REPORT_ENV, &report);
            match util::run_status(&mut cmd) {
                Ok(s) if s.success() => {}
                Ok(s) => broken.push(format!("`{filter}` tests: {s}")),
                Err(e) => broken.push(format!("`{filter}` tests: {e}")),
            }
        }
    });
    let rows = merge(parse(&read(&report)?));
    let (text, fails) = table(&rows);
    util::header("RSC conformance (spec §1): rule table per host path");
    println!("{text}");
    println!("suite time: {}", util::fmt_duration(took));
    if rows.is_empty() {
        return Err("the suite reported no rows".into());
    }
    if fails > 0 || !broken.is_empty() {
        return Err(format!(
            "{fails} rule(s) FAIL{}",
            if broken.is_empty() {
                String::new()
            } else {
                format!("; {}", broken.join("; "))
            }
        ));
    }
    Ok(())
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| format!("no report {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(order: usize, path: &str, status: &str, detail: &str) -> String {
        format!("{order}\trule_{order}\t§1.4\t{path}\t{status}\ttext {order}\t{detail}")
    }

    #[test]
    fn a_result_row_replaces_the_expected_row_in_either_order_and_a_lone_expected_row_fails() {
        let text = [
            row(0, "software", "expected", ""),
            row(0, "software", "PASS", "IPv4 PASS | IPv6 PASS"),
            row(
                1,
                "host_rsc_ext",
                "n/a",
                "IPv4 n/a: QEMU decides — miniport guarantees PASS",
            ),
            row(1, "host_rsc_ext", "expected", ""),
            row(2, "software", "expected", ""),
            row(1, "host_gso", "n/a", "no super-frames"),
            "garbage line".to_string(),
        ]
        .join("\n");
        let rows = merge(parse(&text));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[&(0, 0)].status, "PASS");
        assert_eq!(rows[&(1, 1)].status, "n/a");
        let (t, fails) = table(&rows);
        assert_eq!(fails, 1, "{t}");
        assert!(t.contains("FAIL (no result)"), "{t}");
        assert!(
            t.contains("    host_rsc_ext  n/a [1], guarantees PASS\n"),
            "{t}"
        );
        assert!(t.contains("[1] QEMU decides\n"), "{t}");
        assert!(t.contains("    host_gso      n/a [2]"), "{t}");
        assert!(
            t.contains("4 rule×path entries: 1 PASS, 2 n/a, 1 FAIL"),
            "{t}"
        );
    }

    #[test]
    fn mixed_rows_show_each_family() {
        let r = parse(&row(
            3,
            "host_rsc_ext",
            "PASS+n/a",
            "IPv4 PASS | IPv6 n/a: QEMU reads ECN wrong — miniport guarantees PASS",
        ));
        let mut reasons = Vec::new();
        assert_eq!(
            cell(&r[0], &mut reasons),
            "IPv4 PASS; IPv6 n/a [1], guarantees PASS"
        );
        assert_eq!(reasons, ["QEMU reads ECN wrong"]);
    }
}
