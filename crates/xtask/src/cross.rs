//! The Linux -> Windows cross-build of `netkvmrs.sys` and `cargo xtask package`.
//!
//! Toolchain (recipe `windows-cross-build.md` §1–§4): Debian's `rustc-web` 1.96 (`/usr/bin/rustc`, not the
//! rustup one, which has no `rust-src` and no Windows target), `RUSTC_BOOTSTRAP=1` for `-Z build-std`,
//! `lld-link-22` (lld 14 lacks `/RELEASE`, leaving the PE checksum 0), options in `.cargo/linux-cross.toml`,
//! linker flags from `crates/netkvmrs/build.rs`. The build gets its own target directory
//! (`<target>/cross-windows`) so it never invalidates or locks the host build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::prereq::{self, Prereq};
use crate::util::{self, Result};

pub const TARGET: &str = "x86_64-pc-windows-msvc";
pub const CRATE: &str = "netkvmrs";

/// What one cross-build produced.
pub struct Artifacts {
    /// The linked image (`netkvmrs.dll`: cargo names cdylibs .dll; the package renames it to .sys).
    pub dll: PathBuf,
    pub pdb: Option<PathBuf>,
    pub map: Option<PathBuf>,
    pub profile: String,
    pub elapsed: Duration,
}

pub fn cross_target_dir() -> PathBuf {
    util::target_root().join("cross-windows")
}

/// Build `netkvmrs` for Windows with the given cargo profile (`driver` = release+LTO, `driver-dev` = debug).
pub fn build(profile: &str) -> Result<Artifacts> {
    prereq::ensure(&[Prereq::CrossToolchain])?;
    let dir = cross_target_dir();
    let mut cmd = debian_cargo();
    cmd.args(["build", "-p", CRATE, "--profile", profile])
        .arg("--target-dir")
        .arg(&dir);
    let (res, elapsed) = util::timed(|| util::run(&mut cmd));
    res?;
    let out = dir.join(TARGET).join(profile);
    let dll = out.join(format!("{CRATE}.dll"));
    if !dll.is_file() {
        return Err(format!(
            "cross-build finished but {} is missing",
            dll.display()
        ));
    }
    let pdb = Some(out.join(format!("{CRATE}.pdb"))).filter(|p| p.is_file());
    let map = [
        out.join(format!("{CRATE}.map")),
        out.join("deps").join(format!("{CRATE}.map")),
    ]
    .into_iter()
    .find(|p| p.is_file());
    Ok(Artifacts {
        dll,
        pdb,
        map,
        profile: profile.to_string(),
        elapsed,
    })
}

/// Debian's cargo configured for the Windows cross-build (`--config .cargo/linux-cross.toml` included).
fn debian_cargo() -> Command {
    let root = util::workspace_root();
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("/usr/bin/cargo");
    cmd.current_dir(&root)
        // Variables of the outer (rustup) cargo that would redirect the inner build.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO")
        .env("PATH", path)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .arg("--config")
        .arg(root.join(".cargo/linux-cross.toml"));
    cmd
}

/// Clippy over the Windows build of the driver: the host clippy never sees the Windows-only code (kernel
/// runtime, pool allocator, DbgPrint sink), so it is linted here with Debian's clippy 1.96 and the same
/// workspace lints, warnings denied. Runs clippy-driver as the workspace wrapper of `cargo check` (own
/// target dir, so its results never mix with plain check/build fingerprints).
pub fn clippy() -> Result<()> {
    prereq::ensure(&[Prereq::CrossToolchain, Prereq::CrossClippy])?;
    let mut cmd = debian_cargo();
    cmd.env("RUSTC_WORKSPACE_WRAPPER", "/usr/bin/clippy-driver")
        // cargo-clippy's encoding of `-- -D warnings`.
        .env(
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        )
        .args(["check", "-p", CRATE, "--profile", "driver", "--target-dir"])
        .arg(util::target_root().join("cross-windows-clippy"));
    util::run(&mut cmd)
}

pub struct PackageOptions {
    pub profile: String,
    pub test_sign: bool,
}

/// `cargo xtask package`: cross-build, then write `<target>/package/netkvmrs/`.
pub fn package(opts: &PackageOptions) -> Result<()> {
    let mut needs = vec![Prereq::CrossToolchain];
    if opts.test_sign {
        needs.extend([Prereq::Osslsigncode, Prereq::Openssl]);
    }
    prereq::ensure(&needs)?;

    // Remove the previous package first: after a failed build no stale image may remain for later steps
    // (PE check, emulated load) to test by mistake.
    let pkg = util::target_root().join("package").join(CRATE);
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg)
            .map_err(|e| format!("cannot clean {}: {e}", pkg.display()))?;
    }

    util::header(&format!(
        "cross-build {CRATE} ({TARGET}, profile {})",
        opts.profile
    ));
    let art = build(&opts.profile)?;

    std::fs::create_dir_all(&pkg).map_err(|e| format!("cannot create {}: {e}", pkg.display()))?;
    let sys = pkg.join(format!("{CRATE}.sys"));
    copy(&art.dll, &sys)?;
    if let Some(p) = &art.pdb {
        copy(p, &pkg.join(format!("{CRATE}.pdb")))?;
    }
    if let Some(m) = &art.map {
        copy(m, &pkg.join(format!("{CRATE}.map")))?;
    }
    let inf = pkg.join(format!("{CRATE}.inf"));
    write_inf(&inf)?;

    let image = std::fs::read(&sys).map_err(|e| format!("cannot read {}: {e}", sys.display()))?;
    let known = crate::pe::KnownExports::builtin()?;
    let report = crate::pe::check(&image, &known)?;

    let signed = if opts.test_sign {
        Some(test_sign(&sys)?)
    } else {
        None
    };

    util::header("package summary");
    println!("package dir : {}", pkg.display());
    for e in std::fs::read_dir(&pkg)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        println!("  {:<16} {:>9} bytes", e.file_name().to_string_lossy(), len);
    }
    if let Some(dir) = &signed {
        println!(
            "test-signed : {} (Authenticode, self-signed test certificate; see README)",
            dir.display()
        );
    }
    println!(
        "cross-build : {} (profile {})",
        util::fmt_duration(art.elapsed),
        art.profile
    );
    println!(
        "PE check    : {}",
        if report.passed() {
            "all rules ok".to_string()
        } else {
            format!(
                "FAILED {:?} (run `cargo xtask check-pe {}`)",
                report.failed(),
                sys.display()
            )
        }
    );
    if report.passed() {
        Ok(())
    } else {
        Err("the packaged image violates kernel-image rules".into())
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} -> {}: {e}", from.display(), to.display()))
}

/// The `.inx` stamped the way `stampinf -d * -a amd64 -c netkvmrs.cat -v *` would, with DriverVer = build date
/// and crate version.
fn write_inf(dest: &Path) -> Result<()> {
    let inx = inx_path();
    let data = std::fs::read(&inx).map_err(|e| format!("cannot read {}: {e}", inx.display()))?;
    let stamp = crate::inf::Stamp {
        arch: "amd64".into(),
        date: util::build_date(),
        version: crate::inf::driver_version(env!("CARGO_PKG_VERSION"))?,
        catalog: format!("{CRATE}.cat"),
    };
    let out = crate::inf::stamp_bytes(&data, &stamp)?;
    std::fs::write(dest, out).map_err(|e| format!("cannot write {}: {e}", dest.display()))
}

/// `inf/netkvmrs.inx`; `NETKVMRS_INX` overrides it (for testing the packaging against another INF).
pub fn inx_path() -> PathBuf {
    std::env::var_os("NETKVMRS_INX")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            util::workspace_root()
                .join("inf")
                .join(format!("{CRATE}.inx"))
        })
}

/// Authenticode-sign a copy of the image with a throw-away self-signed certificate (osslsigncode), in
/// `<target>/package/netkvmrs-testsigned/`. This embeds a PKCS#7 signature in the PE (and rewrites its
/// checksum); it does NOT produce the catalog (.cat) Windows wants for `pnputil` — that needs inf2cat on
/// Windows. Useful to check the image accepts a signature and for test-signing mode experiments.
fn test_sign(sys: &Path) -> Result<PathBuf> {
    let dir = util::target_root()
        .join("package")
        .join(format!("{CRATE}-testsigned"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key = dir.join("netkvmrs-test.key");
    let crt = dir.join("netkvmrs-test.crt");
    if !key.is_file() || !crt.is_file() {
        util::run(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "365",
                ])
                .args(["-subj", "/CN=netkvm-rs test signing"])
                .args(["-addext", "extendedKeyUsage=codeSigning"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&crt),
        )?;
    }
    let out = dir.join(format!("{CRATE}.sys"));
    let _ = std::fs::remove_file(&out);
    util::run(
        Command::new("osslsigncode")
            .arg("sign")
            .arg("-certs")
            .arg(&crt)
            .arg("-key")
            .arg(&key)
            .args(["-h", "sha256", "-n", "netkvm-rs"])
            .arg("-in")
            .arg(sys)
            .arg("-out")
            .arg(&out),
    )?;
    util::run(
        Command::new("osslsigncode")
            .arg("verify")
            .arg("-CAfile")
            .arg(&crt)
            .arg("-in")
            .arg(&out),
    )?;
    Ok(dir)
}
