//! `cargo xtask test`: THE command CI runs (`.ci/run`). One table of steps, run in order; every step is
//! timed, a failure does not stop the run, and a summary table closes it. Exit status is non-zero if any step
//! failed (a skip outside CI is not a failure; under CI a skip IS a failure, see [`skip_or_fail`]).
//!
//! # Adding a step
//! Prefer not to: checks reachable from plain `cargo test --workspace` (unit/integration tests of your crate)
//! run in the `test` step already. When a check needs something `cargo test` cannot give (root, /dev/net/tun,
//! QEMU, a built .sys), add ONE row to [`STEPS`]:
//! ```ignore
//! Step { name: "e2e-qemu", what: "end-to-end over QEMU virtio-net", needs: &[Prereq::Qemu10, Prereq::Iproute2],
//!        run: my_module::run_step },
//! ```
//! `needs` lists installer prerequisites ([`crate::prereq::Prereq`]); they are installed before the first step.
//! `run` gets the shared [`Ctx`] (e.g. `ctx.image`, the cross-built .sys, set by the `package` step) and
//! returns an [`Outcome`]. When the environment cannot run the check (no root, no tun), return
//! `skip_or_fail("reason")`: it prints the reason and skips locally but FAILS when `CI` is set.
//! `cargo xtask test --list` shows the table; `cargo xtask test <name>...` runs a subset.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::pe::{self, CheckId};
use crate::prereq::{self, Prereq};
use crate::util::{self, Result};

/// State shared between steps.
#[derive(Default)]
pub struct Ctx {
    /// The packaged `netkvmrs.sys` once the `package` step succeeded.
    pub image: Option<PathBuf>,
}

pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

impl From<Result<String>> for Outcome {
    fn from(r: Result<String>) -> Self {
        match r {
            Ok(s) => Outcome::Pass(s),
            Err(e) => Outcome::Fail(e),
        }
    }
}

pub struct Step {
    pub name: &'static str,
    pub what: &'static str,
    pub needs: &'static [Prereq],
    pub run: fn(&mut Ctx) -> Outcome,
}

/// The step table (order matters: later steps may use what earlier ones left in [`Ctx`]).
pub const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        what: "cargo fmt --all --check",
        needs: &[],
        run: fmt,
    },
    Step {
        name: "clippy",
        what: "cargo clippy --workspace --all-targets -- -D warnings",
        needs: &[],
        run: clippy,
    },
    Step {
        name: "test",
        what: "cargo test --workspace --exclude netkvm-e2e",
        // The testbed and hck-check tests start QEMU in network namespaces and lint shell scripts.
        needs: &[
            Prereq::Qemu10,
            Prereq::Iproute2,
            Prereq::Ethtool,
            Prereq::Ping,
            Prereq::Iperf3,
            Prereq::Tcpdump,
            Prereq::Shellcheck,
        ],
        run: unit_tests,
    },
    Step {
        name: "e2e",
        what: "end-to-end tests: netkvmrs in ndis-emu on QEMU virtio-net, Linux stacks both sides",
        needs: crate::e2e::NEEDS,
        run: e2e_tests,
    },
    Step {
        name: "clippy-windows",
        what: "clippy -D warnings on the Windows build of netkvmrs (Windows-only code)",
        needs: &[Prereq::CrossToolchain, Prereq::CrossClippy],
        run: clippy_windows,
    },
    Step {
        name: "package",
        what: "cross-build netkvmrs.sys (driver profile) + package dir",
        needs: &[Prereq::CrossToolchain],
        run: package,
    },
    Step {
        name: "pe-check",
        what: "kernel-image rules on netkvmrs.sys",
        needs: &[],
        run: pe_check,
    },
    Step {
        name: "pe-check-negative",
        what: "the PE checker rejects broken variants of the real image",
        needs: &[],
        run: pe_negative,
    },
    Step {
        name: "emulated-load",
        what: "speakeasy: DriverEntry, registration, InitializeEx without hardware, Unload",
        needs: &[Prereq::Speakeasy],
        run: emulated_load,
    },
    Step {
        name: "fuzz-smoke",
        what: "every crates/*/fuzz target for a short bounded run",
        needs: &[Prereq::CargoFuzz],
        run: fuzz_smoke,
    },
];

/// Under CI a check that cannot run is a failure; locally it is a printed skip.
pub fn skip_or_fail(reason: impl Into<String>) -> Outcome {
    skip_or_fail_in(util::in_ci(), reason.into())
}

fn skip_or_fail_in(ci: bool, reason: String) -> Outcome {
    if ci {
        Outcome::Fail(format!("cannot run under CI: {reason}"))
    } else {
        println!("SKIP: {reason}");
        Outcome::Skip(reason)
    }
}

pub fn list() {
    for s in STEPS {
        println!("{:<18} {}", s.name, s.what);
    }
}

/// Run the selected steps (all when `only` is empty). Returns the number of failed steps.
pub fn run(only: &[String]) -> Result<usize> {
    for o in only {
        if !STEPS.iter().any(|s| s.name == o) {
            return Err(format!(
                "unknown step `{o}` (see `cargo xtask test --list`)"
            ));
        }
    }
    let selected: Vec<&Step> = STEPS
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s.name))
        .collect();

    let mut results: Vec<(&str, &str, Duration, String)> = Vec::new();
    let needs: BTreeSet<Prereq> = selected
        .iter()
        .flat_map(|s| s.needs.iter().copied())
        .collect();
    util::header("install prerequisites");
    let (r, t) = util::timed(|| prereq::ensure(&needs.into_iter().collect::<Vec<_>>()));
    match r {
        Ok(()) => results.push(("prerequisites", "ok", t, String::new())),
        Err(e) => {
            println!("{e}");
            results.push(("prerequisites", "FAIL", t, first_line(&e)));
        }
    }

    let mut ctx = Ctx::default();
    for s in &selected {
        util::header(&format!("step {}: {}", s.name, s.what));
        let (outcome, t) = util::timed(|| (s.run)(&mut ctx));
        let (status, note) = match outcome {
            Outcome::Pass(n) => ("ok", n),
            Outcome::Skip(n) => ("skip", n),
            Outcome::Fail(n) => {
                println!("step {} FAILED: {n}", s.name);
                ("FAIL", n)
            }
        };
        println!("step {} {status} in {}", s.name, util::fmt_duration(t));
        results.push((s.name, status, t, first_line(&note)));
    }

    util::header("summary");
    let total: Duration = results.iter().map(|r| r.2).sum();
    for (name, status, t, note) in &results {
        println!(
            "{:<18} {:<5} {:>12}  {}",
            name,
            status,
            util::fmt_duration(*t),
            note
        );
    }
    let failed = results.iter().filter(|r| r.1 == "FAIL").count();
    let passed = results.iter().filter(|r| r.1 == "ok").count();
    let skipped = results.iter().filter(|r| r.1 == "skip").count();
    println!("total {}", util::fmt_duration(total));
    // The closing line CI reads.
    println!("xtask-test: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(failed)
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.len() > 90 {
        format!(
            "{}...",
            &l[..l.char_indices().nth(87).map_or(l.len(), |(i, _)| i)]
        )
    } else {
        l.to_string()
    }
}

fn cargo_step(args: &[&str]) -> Outcome {
    let mut cmd = util::host_cargo();
    cmd.args(args);
    match util::run_status(&mut cmd) {
        Ok(s) if s.success() => Outcome::Pass(String::new()),
        Ok(s) => Outcome::Fail(format!("`cargo {}` exited with {s}", args.join(" "))),
        Err(e) => Outcome::Fail(e),
    }
}

fn fmt(_: &mut Ctx) -> Outcome {
    cargo_step(&["fmt", "--all", "--check"])
}

fn clippy(_: &mut Ctx) -> Outcome {
    cargo_step(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
}

fn unit_tests(_: &mut Ctx) -> Outcome {
    // The end-to-end package has its own step (one bench at a time, release-like timing).
    let mut cmd = util::host_cargo();
    cmd.args([
        "test",
        "--workspace",
        "--exclude",
        "netkvm-e2e",
        "--no-fail-fast",
    ]);
    match util::run_tee(&mut cmd) {
        Ok((s, _)) if s.success() => Outcome::Pass(String::new()),
        Ok((s, out)) => Outcome::Fail(util::test_failure("cargo test", s, &out)),
        Err(e) => Outcome::Fail(e),
    }
}

fn e2e_tests(_: &mut Ctx) -> Outcome {
    crate::e2e::step()
}

fn clippy_windows(_: &mut Ctx) -> Outcome {
    crate::cross::clippy().map(|()| String::new()).into()
}

fn package(ctx: &mut Ctx) -> Outcome {
    let opts = crate::cross::PackageOptions {
        profile: "driver".into(),
        test_sign: false,
    };
    match crate::cross::package(&opts) {
        Ok(()) => {
            let sys = util::target_root().join("package/netkvmrs/netkvmrs.sys");
            ctx.image = Some(sys);
            Outcome::Pass("target/package/netkvmrs written".into())
        }
        Err(e) => {
            // The image may exist even if a rule failed; later steps still report on it.
            let sys = util::target_root().join("package/netkvmrs/netkvmrs.sys");
            if sys.is_file() {
                ctx.image = Some(sys);
            }
            Outcome::Fail(e)
        }
    }
}

fn image(ctx: &Ctx) -> Result<Vec<u8>> {
    let p = ctx
        .image
        .as_ref()
        .ok_or("no driver image: the package step failed or was not selected (e.g. `cargo xtask test package pe-check`)")?;
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn pe_check(ctx: &mut Ctx) -> Outcome {
    let r = (|| {
        let data = image(ctx)?;
        let known = pe::KnownExports::builtin()?;
        let report = pe::check(&data, &known)?;
        println!("{report}");
        if report.passed() {
            Ok(format!("{} rules ok", report.findings.len()))
        } else {
            Err(format!("rules failed: {:?}", report.failed()))
        }
    })();
    r.into()
}

/// A broken variant of the real image and the rules it must (exactly) trip.
struct Mutation {
    name: &'static str,
    apply: fn(&mut Vec<u8>) -> Result<()>,
    fix_checksum: bool,
    expect: &'static [CheckId],
}

const MUTATIONS: &[Mutation] = &[
    Mutation {
        name: "imports a name NDIS.SYS does not export",
        apply: |d| {
            pe::rename_import(
                d,
                "NdisMRegisterMiniportDriver",
                "NdisMRegisterMiniportDrivex",
            )
        },
        fix_checksum: true,
        expect: &[CheckId::ImportsAreKnownExports],
    },
    Mutation {
        name: "imports a WDK macro from ntoskrnl.exe",
        // KeAcquireSpinLock is a macro for KeAcquireSpinLockRaiseToDpc on x64: no such export.
        apply: |d| pe::rename_import(d, "ExFreePoolWithTag", "KeAcquireSpinLock"),
        fix_checksum: true,
        expect: &[CheckId::ImportsAreKnownExports],
    },
    Mutation {
        name: "lost the DriverEntry export",
        apply: |d| pe::rename_export(d, "DriverEntry", "DriverEntrX"),
        fix_checksum: true,
        expect: &[CheckId::EntryPointIsDriverEntry],
    },
    Mutation {
        name: "entry point moved off DriverEntry",
        apply: |d| {
            let e = pe::entry_point(d)?;
            pe::set_entry_point(d, e + 0x10)
        },
        fix_checksum: true,
        expect: &[CheckId::EntryPointIsDriverEntry],
    },
    Mutation {
        name: "imports from a CRT module",
        apply: |d| pe::rename_import_module(d, "ntoskrnl.exe", "ucrtbase.dll"),
        fix_checksum: true,
        expect: &[
            CheckId::ImportModulesAreKernel,
            CheckId::NoCrtImports,
            CheckId::ImportsAreKnownExports,
        ],
    },
    Mutation {
        name: "stale checksum",
        apply: |d| {
            let off = pe::checksum_offset(d)?;
            d[off] ^= 0x01;
            Ok(())
        },
        fix_checksum: false,
        expect: &[CheckId::Checksum],
    },
    Mutation {
        name: "writable .text",
        apply: |d| pe::add_section_flags(d, ".text", object::pe::IMAGE_SCN_MEM_WRITE.0),
        fix_checksum: true,
        expect: &[CheckId::NoWritableExecutableSection],
    },
    Mutation {
        name: "NX_COMPAT cleared",
        apply: |d| {
            pe::clear_dll_characteristics(d, object::pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0)
        },
        fix_checksum: true,
        expect: &[CheckId::DllCharacteristics],
    },
];

fn pe_negative(ctx: &mut Ctx) -> Outcome {
    let r = (|| {
        let original = image(ctx)?;
        let known = pe::KnownExports::builtin()?;
        if !pe::check(&original, &known)?.passed() {
            return Err(
                "the unmodified image does not pass; negative cases would prove nothing".into(),
            );
        }
        let mut bad = Vec::new();
        for m in MUTATIONS {
            let mut data = original.clone();
            (m.apply)(&mut data).map_err(|e| format!("{}: cannot apply: {e}", m.name))?;
            if m.fix_checksum {
                pe::fix_checksum(&mut data)?;
            }
            let failed = pe::check(&data, &known)?.failed();
            let want: BTreeSet<CheckId> = m.expect.iter().copied().collect();
            let ok = failed == want;
            println!(
                "{} {:<44} -> rejected by {:?}{}",
                if ok { "ok  " } else { "FAIL" },
                m.name,
                failed,
                if ok {
                    String::new()
                } else {
                    format!(" (expected exactly {want:?})")
                }
            );
            if !ok {
                bad.push(m.name);
            }
        }
        if bad.is_empty() {
            Ok(format!("{} broken variants rejected", MUTATIONS.len()))
        } else {
            Err(format!("checker did not reject as expected: {bad:?}"))
        }
    })();
    r.into()
}

fn emulated_load(ctx: &mut Ctx) -> Outcome {
    let r = (|| {
        let p = ctx
            .image
            .clone()
            .ok_or("no driver image (the package step failed)")?;
        crate::emu::run(&p).map(|()| "all scenarios passed".to_string())
    })();
    r.into()
}

fn fuzz_smoke(_: &mut Ctx) -> Outcome {
    crate::fuzz::smoke().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_a_failure_under_ci_and_a_skip_elsewhere() {
        assert!(
            matches!(skip_or_fail_in(true, "no /dev/net/tun".into()), Outcome::Fail(m) if m.contains("tun"))
        );
        assert!(matches!(
            skip_or_fail_in(false, "no /dev/net/tun".into()),
            Outcome::Skip(_)
        ));
    }

    #[test]
    fn step_names_are_unique_and_mutations_expect_failures() {
        let mut names: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STEPS.len());
        assert!(MUTATIONS.iter().all(|m| !m.expect.is_empty()));
    }
}
