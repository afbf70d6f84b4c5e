//! Prerequisite probe: can this machine run a testbed, and if not, why not.
//!
//! Tests call [`ready_or_skip`] (or the [`crate::require_testbed!`] macro) first: on a machine
//! without root, `/dev/net/tun`, `ip netns` or QEMU ≥ 10 they print a skip reason and return —
//! except under CI (`CI` set to anything but `""`, `0` or `false`), where a missing prerequisite
//! fails the test instead, so CI can never pass by skipping.

use std::fs::OpenOptions;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The outcome of one check: `Ok(detail)` or `Err(human-readable reason)`.
pub type Check = std::result::Result<String, String>;

/// Results of every check, computed once per process.
#[derive(Debug, Clone)]
pub struct Prereqs {
    /// Effective UID 0 (namespaces, TAP creation and `setns` need it).
    pub root: Check,
    /// `/dev/net/tun` opens read-write.
    pub tun: Check,
    /// `ip netns list` runs (iproute2 present, /run/netns usable).
    pub netns: Check,
    /// `qemu-system-x86_64 --version` reports major version ≥ 10.
    pub qemu: Check,
    /// `/dev/kvm` opens read-write (else the testbed falls back to TCG; not required).
    pub kvm: Check,
    /// `ethtool --version` runs (needed only for offload helpers; not required).
    pub ethtool: Check,
}

impl Prereqs {
    /// `Ok(())` when everything a testbed needs is there (KVM and ethtool are optional),
    /// else the joined reasons.
    pub fn required(&self) -> std::result::Result<(), String> {
        let missing: Vec<&str> = [&self.root, &self.tun, &self.netns, &self.qemu]
            .into_iter()
            .filter_map(|c| c.as_ref().err().map(String::as_str))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join("; "))
        }
    }

    /// Whether KVM can be used (else TCG).
    pub fn kvm_usable(&self) -> bool {
        self.kvm.is_ok()
    }
}

/// Runs every check (once per process; later calls return the cached result).
pub fn probe() -> &'static Prereqs {
    static CELL: OnceLock<Prereqs> = OnceLock::new();
    CELL.get_or_init(|| Prereqs {
        root: check_root(),
        tun: check_open_rw("/dev/net/tun"),
        netns: check_netns(),
        qemu: check_qemu(),
        kvm: check_open_rw("/dev/kvm"),
        ethtool: check_program("ethtool", &["--version"]),
    })
}

/// True when the `CI` environment variable asks for strictness (skips become failures).
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no"
        ),
        Err(_) => false,
    }
}

/// Returns true when a testbed can run. Otherwise prints `SKIP <what>: <reason>` to stderr and
/// returns false — or panics with the reason under CI ([`in_ci`]).
pub fn ready_or_skip(what: &str) -> bool {
    match probe().required() {
        Ok(()) => true,
        Err(reason) => {
            if in_ci() {
                panic!("{what}: testbed prerequisites missing under CI: {reason}");
            }
            eprintln!("SKIP {what}: {reason}");
            false
        }
    }
}

/// Early-returns from the calling test with a printed skip reason when the testbed cannot run
/// (fails instead under CI). Usage: `testbed::require_testbed!();` as a test's first line.
#[macro_export]
macro_rules! require_testbed {
    () => {
        if !$crate::probe::ready_or_skip(module_path!()) {
            return;
        }
    };
}

fn check_root() -> Check {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok("euid 0".into())
    } else {
        Err(format!(
            "not root (euid {euid}): network namespaces and TAP devices need root"
        ))
    }
}

fn check_open_rw(path: &str) -> Check {
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => Ok(format!("{path} opens read-write")),
        Err(e) => Err(format!("{path} unusable: {e}")),
    }
}

fn check_program(prog: &str, args: &[&str]) -> Check {
    match Command::new(prog).args(args).stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()),
        Ok(o) => Err(format!(
            "`{prog} {}` exited with {}",
            args.join(" "),
            o.status
        )),
        Err(e) => Err(format!("`{prog}` cannot run: {e}")),
    }
}

fn check_netns() -> Check {
    check_program("ip", &["netns", "list"])
        .map(|_| "ip netns works".to_string())
        .map_err(|e| format!("{e} (install iproute2)"))
}

fn check_qemu() -> Check {
    let line = check_program("qemu-system-x86_64", &["--version"])
        .map_err(|e| format!("{e} (install qemu-system-x86 from bookworm-backports)"))?;
    match parse_qemu_version(&line) {
        Some((major, minor, _)) if major >= 10 => Ok(format!("QEMU {major}.{minor}")),
        Some((major, minor, _)) => Err(format!(
            "QEMU {major}.{minor} is too old, need >= 10 (qemu-system-x86 from bookworm-backports)"
        )),
        None => Err(format!("cannot parse QEMU version from {line:?}")),
    }
}

/// Parses `QEMU emulator version 10.0.2 (Debian …)` into (10, 0, 2).
pub fn parse_qemu_version(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.split("version").nth(1)?.trim_start();
    let ver = rest.split_whitespace().next()?;
    let mut it = ver.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
    });
    let major = it.next()?.ok()?;
    let minor = it.next().and_then(|r| r.ok()).unwrap_or(0);
    let micro = it.next().and_then(|r| r.ok()).unwrap_or(0);
    Some((major, minor, micro))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_version_line_parses_major_minor_micro() {
        assert_eq!(
            parse_qemu_version(
                "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)"
            ),
            Some((10, 0, 2))
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)"),
            Some((7, 2, 15))
        );
        assert_eq!(parse_qemu_version("something else"), None);
    }

    #[test]
    fn required_lists_every_missing_prerequisite() {
        let p = Prereqs {
            root: Err("not root".into()),
            tun: Ok("ok".into()),
            netns: Err("no ip".into()),
            qemu: Ok("QEMU 10.0".into()),
            kvm: Err("no kvm".into()),
            ethtool: Err("no ethtool".into()),
        };
        let e = p.required().unwrap_err();
        assert!(e.contains("not root") && e.contains("no ip"), "{e}");
        assert!(!e.contains("kvm"), "kvm is optional: {e}");
    }
}
