//! `cargo xtask` — the netkvm-rs task runner (alias in `.cargo/config.toml`).
//!
//! Commands (each installs the prerequisites it needs on Debian/Ubuntu as root; see [`prereq`]):
//! - `demo [--secs N]` — THE main command: builds and checks `netkvmrs.sys`, then runs the driver against a
//!   real QEMU virtio-net-pci and prints what Windows would show (Get-NetAdapterRsc/Uso/Lso/ChecksumOffload/
//!   AdvancedProperty) and the offload on/off measurements ([`e2e`]).
//! - `package [--dev] [--test-sign]` — cross-build `netkvmrs.sys` on Linux and write
//!   `<target>/package/netkvmrs/` (`.sys`, stamped `.inf`, `.pdb`, `.map`); `--dev` uses the `driver-dev`
//!   profile; `--test-sign` also writes an Authenticode test-signed copy (osslsigncode).
//! - `test [--list] [STEP...]` — THE CI command: fmt, clippy, unit tests, package, PE checks, emulated load,
//!   fuzz smoke; see [`steps`] for the table and how to add a step.
//! - `check-pe <file.sys>` — run the PE checker on any image.
//! - `emulate <file.sys>` — run the speakeasy emulated load on any image.
//! - `bench <suite>` — benchmark suites ([`bench::SUITES`]).
//! - `fuzz [<crate> [<target>]] [--secs N] [--list]` — run fuzz targets ([`fuzz`]).
//! - `hck rsc` — the RSC conformance suite and its rule table ([`hck`]).
//! - `install [all|<prereq>...]` — only install prerequisites.
//!
//! `<target>` is `$CARGO_TARGET_DIR` when set, else `./target`.

mod bench;
mod cross;
mod e2e;
mod emu;
mod fuzz;
mod hck;
mod inf;
mod pe;
mod prereq;
mod steps;
mod util;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>
  demo [--secs N]                 build netkvmrs.sys, run it on QEMU virtio-net, show Get-NetAdapter* + iperf3
  package [--dev] [--test-sign]   cross-build netkvmrs.sys and write target/package/netkvmrs/
  test [--list] [STEP...]         run every check CI runs (or the named steps)
  check-pe <file.sys>             PE checks of a driver image
  emulate <file.sys>              emulated load (speakeasy) of a driver image
  bench <core|virtio|e2e>         benchmark suites
  fuzz [<crate> [<target>]] [--secs N] [--list]
  hck rsc                         RSC conformance suite on QEMU (spec §1), prints the rule table
  install [all]                   only install the prerequisites of every command";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "demo" => e2e::demo(rest),
        "package" => package(rest),
        "test" => test(rest),
        "check-pe" => check_pe(rest),
        "emulate" => one_file(rest).and_then(emu::run),
        "bench" => bench::command(rest),
        "fuzz" => fuzz::command(rest),
        "hck" => hck::command(rest),
        "install" => install(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn package(args: &[String]) -> util::Result<()> {
    let mut opts = cross::PackageOptions {
        profile: "driver".into(),
        test_sign: false,
    };
    for a in args {
        match a.as_str() {
            "--dev" => opts.profile = "driver-dev".into(),
            "--test-sign" => opts.test_sign = true,
            other => return Err(format!("package: unknown option `{other}`")),
        }
    }
    let (r, t) = util::timed(|| cross::package(&opts));
    println!("package total: {}", util::fmt_duration(t));
    r
}

fn test(args: &[String]) -> util::Result<()> {
    if args.iter().any(|a| a == "--list") {
        steps::list();
        return Ok(());
    }
    match steps::run(args)? {
        0 => Ok(()),
        n => Err(format!("{n} step(s) failed")),
    }
}

fn one_file(args: &[String]) -> util::Result<&Path> {
    match args {
        [f] => Ok(Path::new(f)),
        _ => Err("expected exactly one file argument".into()),
    }
}

fn check_pe(args: &[String]) -> util::Result<()> {
    let path = one_file(args)?;
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let report = pe::check(&data, &pe::KnownExports::builtin()?)?;
    println!("{report}");
    if report.passed() {
        Ok(())
    } else {
        Err(format!("{} violates kernel-image rules", path.display()))
    }
}

fn install(args: &[String]) -> util::Result<()> {
    use prereq::Prereq::*;
    let all = [
        CrossToolchain,
        CrossClippy,
        Osslsigncode,
        Openssl,
        Speakeasy,
        Qemu10,
        Iperf3,
        Tcpdump,
        Ethtool,
        Ping,
        Iproute2,
        CargoFuzz,
    ];
    match args {
        [] => prereq::ensure(&all),
        [a] if a == "all" => prereq::ensure(&all),
        _ => Err("usage: cargo xtask install [all]".into()),
    }?;
    println!("all prerequisites present");
    Ok(())
}
