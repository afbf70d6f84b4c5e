//! The RSC conformance suite (issue 8): every rule of spec §1 that can be exercised from the
//! wire, run end to end — crafted TCP segments sent into the host TAP with a raw socket, through
//! QEMU's virtio-net-pci and the real miniport in ndis-emu, checked on the NBLs it indicates
//! (headers, per-NBL info, order, `OID_TCP_RSC_STATISTICS`) — on each host path ([`Path`]).
//!
//! * [`craft`] — segment builder; [`inject`] — AF_PACKET senders on the host TAP;
//! * [`rig`] — bench per path, one receive DPC per burst, indication capture;
//! * [`model`] — expected SCUs built from the spec's header rules, the checks;
//! * [`rules`] — the catalogue (rule, spec section, per-path applicability, scenario);
//! * `tests/rsc_conformance.rs` — one `#[test]` per (rule, path) that applies;
//!   `cargo xtask hck rsc` runs them and prints the rule table from the rows they report.
//!
//! Rows are appended to `$NETKVM_RSC_REPORT` (tab-separated, see `report`) when it is set.

pub mod craft;
mod custom;
pub mod inject;
pub mod model;
pub mod rig;
pub mod rules;
mod worker;

use std::io::Write;

pub use rig::Path;
use rules::{Build, Mode, Rule, RULES};

/// Environment variable naming the report file.
pub const REPORT_ENV: &str = "NETKVM_RSC_REPORT";

/// Report row columns (tab-separated, one row per line): order in the catalogue, rule id,
/// spec section, path, status (`PASS`, `FAIL`, `n/a`, `PASS+n/a`, or `expected` for a test
/// the catalogue expects to report), rule text, detail. Tabs and newlines in fields become
/// spaces.
fn report(rule: &Rule, path: Path, status: &str, detail: &str) {
    let Ok(file) = std::env::var(REPORT_ENV) else {
        return;
    };
    let order = RULES
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .unwrap_or(usize::MAX);
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let row = [
        order.to_string(),
        rule.id.to_string(),
        clean(rule.sec),
        path.name().to_string(),
        status.to_string(),
        clean(rule.text),
        clean(detail),
    ]
    .join("\t");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
    {
        let _ = writeln!(f, "{row}");
    }
}

/// `(rule id, path)` of a test name `rsc_<id>_<path>`.
pub fn split_name(name: &str) -> Option<(&str, Path)> {
    let rest = name.strip_prefix("rsc_")?;
    Path::ALL.into_iter().find_map(|p| {
        rest.strip_suffix(p.name())
            .and_then(|r| r.strip_suffix('_'))
            .map(|id| (id, p))
    })
}

fn run_fam(
    rig: &mut rig::Rig,
    rule: &Rule,
    fam: craft::Fam,
    mode: Mode,
) -> Result<Vec<String>, String> {
    match rule.build {
        Build::Custom => custom::run(rig, rule.id, fam, mode),
        Build::Scenario(flows, build) => {
            let mac = rig.next_run_mac();
            let mut sc = model::Scenario::new(mac);
            sc.path = rig.path();
            for _ in 0..flows {
                sc.add_flow(rig.flow(fam, mac));
            }
            build(&mut sc);
            let obs = rig.run(mac, &sc.bursts())?;
            Ok(match mode {
                Mode::Guarantees(_, order) => model::check_guarantees(&sc, &obs, order).0,
                _ => model::check_expected(&sc, &obs),
            })
        }
    }
}

fn path_mode(rule: &Rule, path: Path) -> Mode {
    rule.modes[Path::ALL.iter().position(|&p| p == path).unwrap_or(0)]
}

/// Whether some family of `rule` is run on `path`.
fn applies(rule: &Rule, path: Path) -> bool {
    let m = path_mode(rule, path);
    rule.fams
        .iter()
        .any(|&f| !matches!(m.for_fam(f), Mode::Na(_)))
}

/// Runs the test named `rsc_<rule>_<path>`: the rule for each of its families on the process's
/// bench for that path; reports the row; panics with every violation found.
pub fn run_test(name: &str) {
    let Some((id, path)) = split_name(name) else {
        panic!("{name}: not a rsc_<rule>_<path> test name");
    };
    let Some(rule) = rules::rule(id) else {
        panic!("{name}: no rule {id} in the catalogue");
    };
    if !applies(rule, path) {
        panic!("{name}: the catalogue says n/a on {}", path.name());
    }
    let mode = path_mode(rule, path);
    let r = worker::with_rig(path, move |rig| {
        let mut out = Vec::new();
        for &fam in rule.fams {
            let m = mode.for_fam(fam);
            if let Mode::Na(why) = m {
                out.push((fam, m, vec![format!("n/a: {why}")]));
                continue;
            }
            let errs = run_fam(rig, rule, fam, m)?;
            out.push((fam, m, errs));
        }
        Ok(out)
    });
    let mut lines = Vec::new();
    let (status, detail) = match &r {
        Err(e) => {
            lines.push(format!("could not run: {e}"));
            ("FAIL", format!("could not run: {e}"))
        }
        Ok(per) => {
            let failed = per
                .iter()
                .any(|(_, m, e)| !matches!(m, Mode::Na(_)) && !e.is_empty());
            let mut parts = Vec::new();
            let (mut full, mut na) = (0, 0);
            for (f, m, e) in per {
                let f = f.name();
                match m {
                    _ if failed && !e.is_empty() && !matches!(m, Mode::Na(_)) => {
                        parts.push(format!("{f} FAIL: {}", e.join("; ")));
                        lines.extend(e.iter().map(|x| format!("{f}: {x}")));
                    }
                    Mode::Na(why) => {
                        na += 1;
                        parts.push(format!("{f} n/a: {why}"))
                    }
                    Mode::Guarantees(why, _) => {
                        na += 1;
                        parts.push(format!("{f} n/a: {why} — miniport guarantees PASS"))
                    }
                    _ => {
                        full += 1;
                        parts.push(format!("{f} PASS"))
                    }
                }
            }
            let status = match (failed, full, na) {
                (true, _, _) => "FAIL",
                (false, _, 0) => "PASS",
                (false, 0, _) => "n/a",
                _ => "PASS+n/a",
            };
            (status, parts.join(" | "))
        }
    };
    report(rule, path, status, &detail);
    if status == "FAIL" {
        panic!(
            "RSC rule {} ({}: {}) on the {} path:\n  {}",
            rule.id,
            rule.sec,
            rule.text,
            path.name(),
            lines.join("\n  ")
        );
    }
}

/// Checks that `tests` (the suite's test names) hold exactly one test per (rule, path) that
/// applies and none for an n/a one; reports the n/a rows and an "expected" row for every test,
/// so that a test that never reported shows up. Returns the problems.
pub fn catalogue(tests: &[&str]) -> Vec<String> {
    let mut errs = Vec::new();
    for t in tests {
        match split_name(t) {
            None => errs.push(format!("{t}: not a rsc_<rule>_<path> name")),
            Some((id, p)) => match rules::rule(id) {
                None => errs.push(format!("{t}: no rule {id}")),
                Some(r) => {
                    if !applies(r, p) {
                        errs.push(format!("{t}: the rule is n/a on {}", p.name()));
                    }
                }
            },
        }
    }
    for (i, r) in RULES.iter().enumerate() {
        if RULES[..i].iter().any(|o| o.id == r.id) {
            errs.push(format!("rule {} listed twice", r.id));
        }
        for p in Path::ALL {
            let name = format!("rsc_{}_{}", r.id, p.name());
            let has = tests.contains(&name.as_str());
            match path_mode(r, p) {
                Mode::Na(why) => report(r, p, "n/a", why),
                _ if !applies(r, p) => report(r, p, "n/a", "no family of the rule applies"),
                _ if !has => errs.push(format!("no test {name} for rule {} ({})", r.id, r.sec)),
                _ => report(r, p, "expected", ""),
            }
        }
    }
    errs
}
