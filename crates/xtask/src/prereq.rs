//! The installer: every command calls [`ensure`] with the prerequisites it needs; missing ones are installed
//! on Debian/Ubuntu when running as root (`apt-get update` first, once), otherwise the exact commands are
//! printed and the command fails.
//!
//! Table-driven: to add a prerequisite, add a [`Prereq`] variant and one row to [`spec`] (how to detect it,
//! how to install it, and why the project needs it). Detection never trusts PATH alone for apt packages:
//! it asks `dpkg-query`, so a rustup-installed `rustc` cannot hide a missing Debian `rustc-web`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::util::{self, Result};

/// Pinned Python packages of the emulator venv (speakeasy-emulator 1.5.11 and the exact dependency set it
/// resolved to when the emulated-load test was written), so a fresh machine gets the same emulator.
pub const EMU_REQUIREMENTS: &str = include_str!("../emu/requirements.txt");

/// cargo-fuzz version installed by `cargo install` (pinned: a new release must not break CI unannounced).
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prereq {
    /// Debian's Rust 1.96 + std sources + lld/llvm 22: the Linux -> Windows cross-build.
    CrossToolchain,
    /// Debian's clippy 1.96: lints the Windows-only code of the driver.
    CrossClippy,
    /// `osslsigncode`: Authenticode test signature of the .sys on Linux.
    Osslsigncode,
    /// `openssl`: creates the self-signed test certificate for `package --test-sign`.
    Openssl,
    /// `python3-venv` + a venv with the pinned speakeasy emulator.
    Speakeasy,
    /// QEMU >= 10 (`qemu-system-x86`), from bookworm-backports on Debian 12.
    Qemu10,
    Iperf3,
    Tcpdump,
    Ethtool,
    Ping,
    Iproute2,
    /// `cargo fuzz` (crates.io) for the fuzz targets.
    CargoFuzz,
    /// `shellcheck`: lints the hck/qemu host scripts (hck-check tests).
    Shellcheck,
}

/// How a prerequisite is detected.
enum Detect {
    /// All these Debian packages are installed (`dpkg-query`).
    Deb(&'static [&'static str]),
    /// Custom probe.
    Probe(fn() -> bool),
}

type Installer = fn() -> Result<()>;

/// How a prerequisite is installed.
enum Install {
    /// `apt-get install` from the default suites.
    Apt(&'static [&'static str]),
    /// `apt-get install -t bookworm-backports` on Debian 12 (the backports source is added if missing);
    /// the default suite elsewhere.
    AptBackports(&'static [&'static str]),
    /// Something xtask does itself after the apt packages are in place (venv, cargo install).
    Custom(Installer),
}

struct Spec {
    detect: Detect,
    install: Install,
    /// Apt packages a `Custom` installer needs first.
    needs_apt: &'static [&'static str],
    why: &'static str,
}

fn spec(p: Prereq) -> Spec {
    use Prereq::*;
    const CROSS: &[&str] = &[
        "rustc-web",
        "cargo-web",
        "rust-web-src",
        "lld-22",
        "llvm-22",
    ];
    match p {
        CrossToolchain => Spec {
            detect: Detect::Deb(CROSS),
            install: Install::Apt(CROSS),
            needs_apt: &[],
            why: "Debian's Rust 1.96 with std sources (build-std) and lld-link-22 cross-build netkvmrs.sys on Linux",
        },
        CrossClippy => Spec {
            detect: Detect::Deb(&["rust-web-clippy"]),
            install: Install::Apt(&["rust-web-clippy"]),
            needs_apt: &[],
            why: "Debian's clippy lints the Windows-only code of netkvmrs (kernel runtime, pool allocator)",
        },
        Osslsigncode => Spec {
            detect: Detect::Deb(&["osslsigncode"]),
            install: Install::Apt(&["osslsigncode"]),
            needs_apt: &[],
            why: "Authenticode test-signs a copy of netkvmrs.sys (package --test-sign)",
        },
        Openssl => Spec {
            detect: Detect::Deb(&["openssl"]),
            install: Install::Apt(&["openssl"]),
            needs_apt: &[],
            why: "creates the self-signed test certificate for package --test-sign",
        },
        Speakeasy => Spec {
            detect: Detect::Probe(speakeasy_ready),
            install: Install::Custom(install_speakeasy),
            needs_apt: &["python3-venv"],
            why: "speakeasy-emulator (pinned, in a venv under the target dir) loads netkvmrs.sys and runs DriverEntry",
        },
        Qemu10 => Spec {
            detect: Detect::Probe(qemu10_ready),
            install: Install::AptBackports(&["qemu-system-x86"]),
            needs_apt: &[],
            why: "a real virtio-net-pci device (QEMU >= 10) for the end-to-end bench",
        },
        Iperf3 => Spec {
            detect: Detect::Deb(&["iperf3"]),
            install: Install::Apt(&["iperf3"]),
            needs_apt: &[],
            why: "traffic generator for end-to-end throughput tests",
        },
        Tcpdump => Spec {
            detect: Detect::Deb(&["tcpdump"]),
            install: Install::Apt(&["tcpdump"]),
            needs_apt: &[],
            why: "captures what the emulated NIC puts on the wire in end-to-end tests",
        },
        Ethtool => Spec {
            detect: Detect::Deb(&["ethtool"]),
            install: Install::Apt(&["ethtool"]),
            needs_apt: &[],
            why: "sets TAP offloads (GRO/TSO) in end-to-end tests",
        },
        Ping => Spec {
            detect: Detect::Deb(&["iputils-ping"]),
            install: Install::Apt(&["iputils-ping"]),
            needs_apt: &[],
            why: "ICMP reachability checks in end-to-end tests",
        },
        Iproute2 => Spec {
            detect: Detect::Deb(&["iproute2"]),
            install: Install::Apt(&["iproute2"]),
            needs_apt: &[],
            why: "network namespaces, TAP and veth for end-to-end tests",
        },
        CargoFuzz => Spec {
            detect: Detect::Probe(cargo_fuzz_ready),
            install: Install::Custom(install_cargo_fuzz),
            needs_apt: &[],
            why: "runs the libFuzzer targets in crates/*/fuzz",
        },
        Shellcheck => Spec {
            detect: Detect::Deb(&["shellcheck"]),
            install: Install::Apt(&["shellcheck"]),
            needs_apt: &[],
            why: "lints the hck/qemu host scripts in the hck-check tests",
        },
    }
}

/// Make sure every prerequisite in `needs` is present, installing what is missing.
pub fn ensure(needs: &[Prereq]) -> Result<()> {
    let needs: BTreeSet<Prereq> = needs.iter().copied().collect();
    let missing: Vec<Prereq> = needs
        .into_iter()
        .filter(|p| !detected(&spec(*p).detect))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }

    let mut apt: Vec<&str> = Vec::new();
    let mut backports: Vec<&str> = Vec::new();
    let mut custom: Vec<(Prereq, Installer)> = Vec::new();
    println!("xtask: missing prerequisites:");
    for p in &missing {
        let s = spec(*p);
        match s.install {
            Install::Apt(pkgs) => {
                println!("  - {p:?}: apt {} ({})", pkgs.join(" "), s.why);
                apt.extend(pkgs);
            }
            Install::AptBackports(pkgs) => {
                println!(
                    "  - {p:?}: apt (bookworm-backports) {} ({})",
                    pkgs.join(" "),
                    s.why
                );
                backports.extend(pkgs);
            }
            Install::Custom(f) => {
                println!("  - {p:?}: {}", s.why);
                for pkg in s.needs_apt {
                    if !deb_installed(pkg) {
                        apt.push(pkg);
                    }
                }
                custom.push((*p, f));
            }
        }
    }

    if !apt.is_empty() || !backports.is_empty() {
        check_can_apt(&apt, &backports)?;
        if !backports.is_empty() && os_codename().as_deref() == Some("bookworm") {
            add_bookworm_backports()?;
        }
        apt_update_once()?;
        if !apt.is_empty() {
            apt_install(&apt, None)?;
        }
        if !backports.is_empty() {
            let suite =
                (os_codename().as_deref() == Some("bookworm")).then_some("bookworm-backports");
            apt_install(&backports, suite)?;
        }
    }
    for (p, f) in custom {
        println!("xtask: installing {p:?}");
        f()?;
    }
    // Re-detect: an installer that "succeeded" without producing the tool is a failure, not a silent skip.
    let still: Vec<Prereq> = missing
        .into_iter()
        .filter(|p| !detected(&spec(*p).detect))
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "prerequisites still missing after installation: {still:?}"
        ))
    }
}

fn detected(d: &Detect) -> bool {
    match d {
        Detect::Deb(pkgs) => pkgs.iter().all(|p| deb_installed(p)),
        Detect::Probe(f) => f(),
    }
}

/// `dpkg-query` says the package is installed (not merely known / config-files).
pub fn deb_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).ends_with("install ok installed")
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    util::output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

fn os_release_field(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k == key).then(|| v.trim_matches('"').to_string())
    })
}

fn os_codename() -> Option<String> {
    os_release_field("VERSION_CODENAME")
}

fn check_can_apt(apt: &[&str], backports: &[&str]) -> Result<()> {
    let has_apt = Path::new("/usr/bin/apt-get").exists();
    if has_apt && is_root() {
        return Ok(());
    }
    let mut msg = String::from("cannot install prerequisites automatically (");
    msg.push_str(if has_apt {
        "not root"
    } else {
        "not a Debian/Ubuntu system"
    });
    msg.push_str("). Run as root:\n  apt-get update\n");
    if !apt.is_empty() {
        msg.push_str(&format!(
            "  apt-get install -y --no-install-recommends {}\n",
            apt.join(" ")
        ));
    }
    if !backports.is_empty() {
        msg.push_str(&format!(
            "  apt-get install -y --no-install-recommends -t bookworm-backports {}   (after enabling bookworm-backports)\n",
            backports.join(" ")
        ));
    }
    Err(msg)
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

fn apt_update_once() -> Result<()> {
    if APT_UPDATED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    println!("xtask: refreshing the package lists (apt-get update)");
    util::run(Command::new("apt-get").args(["update", "-q"]))
}

fn apt_install(pkgs: &[&str], suite: Option<&str>) -> Result<()> {
    println!("xtask: installing with apt: {}", pkgs.join(" "));
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive").args([
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
    ]);
    if let Some(s) = suite {
        cmd.args(["-t", s]);
    }
    cmd.args(pkgs);
    util::run(&mut cmd)
}

/// Add `bookworm-backports` (deb822 format, same mirror as the existing bookworm entry) unless an APT source
/// already lists that suite. A new source makes a second `apt-get update` necessary.
fn add_bookworm_backports() -> Result<()> {
    let mut sources: Vec<(PathBuf, String)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        sources.push(("/etc/apt/sources.list".into(), text));
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in dir.flatten() {
            let p = e.path();
            let is_src = p.extension().is_some_and(|x| x == "list" || x == "sources");
            if is_src {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    sources.push((p, text));
                }
            }
        }
    }
    let active = |text: &str| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .any(|l| l.split_whitespace().any(|w| w == "bookworm-backports"))
    };
    if sources.iter().any(|(_, t)| active(t)) {
        return Ok(());
    }
    let mirror = sources
        .iter()
        .find_map(|(_, t)| bookworm_mirror(t))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_string());
    let path = "/etc/apt/sources.list.d/bookworm-backports.sources";
    let body = format!(
        "Types: deb\nURIs: {mirror}\nSuites: bookworm-backports\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    println!("xtask: enabling bookworm-backports (QEMU 10 lives there): writing {path} with mirror {mirror}");
    std::fs::write(path, body).map_err(|e| format!("cannot write {path}: {e}"))?;
    APT_UPDATED.store(false, Ordering::SeqCst);
    Ok(())
}

/// The mirror URI of the main `bookworm` suite in a deb822 `.sources` file or a one-line `.list` file.
pub fn bookworm_mirror(text: &str) -> Option<String> {
    // deb822: paragraphs separated by blank lines.
    for para in text.split("\n\n") {
        let mut uri = None;
        let mut has_bookworm = false;
        let mut is_deb = true;
        for line in para.lines().map(str::trim) {
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim() {
                    "URIs" => uri = v.split_whitespace().next().map(str::to_string),
                    "Suites" => has_bookworm = v.split_whitespace().any(|s| s == "bookworm"),
                    "Types" => is_deb = v.split_whitespace().any(|s| s == "deb"),
                    _ => {}
                }
            }
        }
        if has_bookworm && is_deb && uri.is_some() {
            return uri;
        }
    }
    // one-line: `deb [opts] URI bookworm main`
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
        if words.next() != Some("deb") {
            continue;
        }
        let rest: Vec<&str> = words.filter(|w| !w.ends_with(']')).collect();
        if rest.len() >= 2 && rest[1] == "bookworm" {
            return Some(rest[0].to_string());
        }
    }
    None
}

// ---- probes and custom installers ----

/// The venv of the emulated-load test (per target dir, so it never touches the system Python).
pub fn venv_dir() -> PathBuf {
    util::target_root().join("xtask-venv")
}

pub fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

fn speakeasy_ready() -> bool {
    // The stamp records exactly which requirement set the venv was built from.
    let stamp = venv_dir().join("requirements.installed");
    std::fs::read_to_string(stamp).is_ok_and(|s| s == EMU_REQUIREMENTS)
        && util::succeeds(Command::new(venv_python()).args(["-c", "import speakeasy"]))
}

fn install_speakeasy() -> Result<()> {
    let dir = venv_dir();
    // Debian's interpreter (python3-venv provides ensurepip for it); fall back to whatever python3 is on PATH.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    if !venv_python().exists() {
        util::run(Command::new(python).arg("-m").arg("venv").arg(&dir))?;
    }
    let req = dir.join("requirements.txt");
    std::fs::write(&req, EMU_REQUIREMENTS)
        .map_err(|e| format!("cannot write {}: {e}", req.display()))?;
    util::run(
        Command::new(venv_python())
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&req),
    )?;
    std::fs::write(dir.join("requirements.installed"), EMU_REQUIREMENTS)
        .map_err(|e| format!("cannot write stamp in {}: {e}", dir.display()))
}

/// `qemu-system-x86_64 --version` reports major version >= 10.
fn qemu10_ready() -> bool {
    let Ok(out) = Command::new("qemu-system-x86_64").arg("--version").output() else {
        return false;
    };
    qemu_major(&String::from_utf8_lossy(&out.stdout)).is_some_and(|m| m >= 10)
}

/// Parse "QEMU emulator version 10.0.2 (Debian ...)" -> 10.
pub fn qemu_major(version_text: &str) -> Option<u32> {
    let rest = version_text.split("version").nth(1)?;
    rest.trim_start().split('.').next()?.trim().parse().ok()
}

fn cargo_fuzz_ready() -> bool {
    util::succeeds(Command::new("cargo").args(["fuzz", "--version"]))
}

fn install_cargo_fuzz() -> Result<()> {
    util::run(Command::new("cargo").env_remove("RUSTUP_TOOLCHAIN").args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookworm_mirror_is_read_from_deb822_sources() {
        let text = "Types: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\n\nTypes: deb\nURIs: http://security.example/debian-security\n\
                    Suites: bookworm-security\nComponents: main\n";
        assert_eq!(
            bookworm_mirror(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn bookworm_mirror_is_read_from_one_line_lists_and_ignores_other_suites() {
        let text = "deb http://sec.example/debian-security bookworm-security main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\n";
        assert_eq!(
            bookworm_mirror(text).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(bookworm_mirror("deb http://x/debian trixie main\n"), None);
    }

    #[test]
    fn qemu_major_parses_debian_version_banner() {
        assert_eq!(
            qemu_major("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n"),
            Some(10)
        );
        assert_eq!(
            qemu_major("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)"),
            Some(7)
        );
        assert_eq!(qemu_major("garbage"), None);
    }

    #[test]
    fn emulator_requirements_pin_speakeasy_exactly() {
        assert!(EMU_REQUIREMENTS
            .lines()
            .any(|l| l.trim() == "speakeasy-emulator==1.5.11"));
        for l in EMU_REQUIREMENTS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(l.contains("=="), "unpinned requirement {l}");
        }
    }
}
