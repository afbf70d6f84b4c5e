//! The end-to-end bench from xtask: `cargo xtask demo`, `cargo xtask bench e2e` and the `e2e`
//! test step. The bench itself is the root package `netkvm-e2e` (tests/common, tests/*.rs,
//! binary `netkvm-e2e`): the real miniport in ndis-emu against QEMU's virtio-net-pci, with real
//! Linux stacks and iperf3 on both sides.

use std::process::Command;

use crate::prereq::{self, Prereq};
use crate::steps::{skip_or_fail, Outcome};
use crate::util::{self, Result};

/// What the bench needs on the machine.
pub const NEEDS: &[Prereq] = &[
    Prereq::Qemu10,
    Prereq::Iproute2,
    Prereq::Ethtool,
    Prereq::Ping,
    Prereq::Iperf3,
    Prereq::Tcpdump,
];

/// Why the bench cannot run here (root, /dev/net/tun, namespaces, QEMU), if it cannot.
pub fn unavailable() -> Option<String> {
    let mut why = Vec::new();
    if !util::output(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0") {
        why.push("not root (namespaces and TAP devices need root)".to_string());
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_err()
    {
        why.push("/dev/net/tun cannot be opened".to_string());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// `cargo run --release -p netkvm-e2e --bin netkvm-e2e -- ARGS` (release: the stand-in verifies
/// every checksum and must not be the bottleneck).
pub fn runner(args: &[&str]) -> Command {
    let mut cmd = util::host_cargo();
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "netkvm-e2e",
        "--bin",
        "netkvm-e2e",
        "--",
    ]);
    cmd.args(args);
    cmd
}

/// `cargo xtask demo [--secs N]`: build and check the driver image, then the bench's demo.
pub fn demo(args: &[String]) -> Result<()> {
    let mut secs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => secs = Some(it.next().ok_or("--secs needs a number")?.clone()),
            other => return Err(format!("demo: unknown option `{other}`")),
        }
    }
    prereq::ensure(&[NEEDS, &[Prereq::CrossToolchain]].concat())?;
    util::header("demo 1/3: build netkvmrs.sys for Windows (cross-build, package, PE checks)");
    crate::cross::package(&crate::cross::PackageOptions {
        profile: "driver".into(),
        test_sign: false,
    })?;
    let sys = util::target_root().join("package/netkvmrs/netkvmrs.sys");
    let data = std::fs::read(&sys).map_err(|e| format!("cannot read {}: {e}", sys.display()))?;
    let report = crate::pe::check(&data, &crate::pe::KnownExports::builtin()?)?;
    println!("{report}");
    if !report.passed() {
        return Err(format!("{} violates kernel-image rules", sys.display()));
    }
    println!(
        "{} ({} bytes) passes the kernel-image checks",
        sys.display(),
        data.len()
    );
    if let Some(why) = unavailable() {
        return Err(format!("the demo bench cannot run here: {why}"));
    }
    util::header(
        "demo 2/3 and 3/3: the driver on a real virtio-net device, as Windows would show it",
    );
    let mut a = vec!["demo"];
    if let Some(s) = &secs {
        a.extend(["--secs", s.as_str()]);
    }
    util::run(&mut runner(&a))
}

/// The `bench e2e` suite's command (prerequisites installed first).
pub fn bench_command() -> std::result::Result<Command, String> {
    prereq::ensure(NEEDS)?;
    if let Some(why) = unavailable() {
        return Err(format!("the e2e bench cannot run here: {why}"));
    }
    Ok(runner(&["bench"]))
}

/// The `e2e` test step: the end-to-end tests, one process per test when cargo-nextest is
/// there (the driver is a process-wide singleton; a failing test then cannot disturb the next),
/// else one test at a time in the test binaries.
pub fn step() -> Outcome {
    if let Some(why) = unavailable() {
        return skip_or_fail(why);
    }
    let nextest = util::succeeds(util::host_cargo().args(["nextest", "--version"]));
    let mut cmd = util::host_cargo();
    if nextest {
        cmd.args([
            "nextest",
            "run",
            "-p",
            "netkvm-e2e",
            "--test-threads",
            "1",
            "--no-fail-fast",
        ]);
    } else {
        cmd.args([
            "test",
            "-p",
            "netkvm-e2e",
            "--no-fail-fast",
            "--",
            "--test-threads=1",
        ]);
    }
    // Under CI a missing prerequisite fails the tests instead of skipping them.
    match util::run_tee(&mut cmd) {
        Ok((s, _)) if s.success() => Outcome::Pass(if nextest {
            "cargo nextest".into()
        } else {
            "cargo test".into()
        }),
        Ok((s, out)) => Outcome::Fail(util::test_failure("end-to-end tests", s, &out)),
        Err(e) => Outcome::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_builds_the_release_binary_of_the_root_package() {
        let c = runner(&["bench", "--secs", "2"]);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "run",
                "--release",
                "-q",
                "-p",
                "netkvm-e2e",
                "--bin",
                "netkvm-e2e",
                "--",
                "bench",
                "--secs",
                "2"
            ]
        );
    }
}
