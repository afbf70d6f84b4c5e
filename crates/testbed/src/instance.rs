//! Per-instance names, the run directory, and removal of leftovers from dead runs.
//!
//! Every testbed gets an id `ntb<pid hex>_<seq hex>` (pid of the owning process, per-process
//! sequence number). Namespaces, interfaces and the run directory are named `<id><role>`, so
//! parallel test processes (and parallel tests in one process) never collide, every interface
//! name stays within IFNAMSIZ−1 = 15 bytes, and leftovers can be traced to their owner.
//!
//! The run directory (`$TMPDIR/<id>`, default `/tmp`) holds `owner` (pid and process start
//! time, so a recycled PID is not mistaken for the owner), `qemu.pid`, the sockets, the BIOS
//! image and `qemu.log`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::netns;
use crate::process::{pid_exists, process_start_time};

/// Prefix of every name a testbed creates.
pub const PREFIX: &str = "ntb";
/// Linux interface names hold at most 15 bytes (IFNAMSIZ 16 with the NUL).
pub const IFNAME_MAX: usize = 15;
/// `sun_path` is 108 bytes including the NUL.
pub const SUN_PATH_MAX: usize = 107;

/// Roles: the letter appended to the instance id.
pub mod role {
    /// "host" namespace (QEMU and its TAP live here).
    pub const HOST_NS: char = 'h';
    /// "guest" namespace (the stand-in for the Windows stack).
    pub const GUEST_NS: char = 'g';
    /// Peer namespace behind a veth, for wire-level captures.
    pub const PEER_NS: char = 'p';
    /// The TAP QEMU's netdev uses (in the host namespace).
    pub const HOST_TAP: char = 't';
    /// The guest-side TAP (in the guest namespace).
    pub const GUEST_TAP: char = 'u';
    /// veth end in the host namespace.
    pub const VETH_HOST: char = 'v';
    /// veth end in the peer namespace.
    pub const VETH_PEER: char = 'w';
}

/// Identity of one testbed instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceId {
    /// PID of the process that owns it.
    pub pid: u32,
    /// Sequence number within that process (wraps at 0x1000 to keep names short).
    pub seq: u32,
}

impl InstanceId {
    /// A fresh id for this process.
    pub fn next() -> InstanceId {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        InstanceId {
            pid: std::process::id(),
            seq: SEQ.fetch_add(1, Ordering::Relaxed) % 0x1000,
        }
    }

    /// `ntb<pid>_<seq>` (hex).
    pub fn tag(&self) -> String {
        format!("{PREFIX}{:x}_{:x}", self.pid, self.seq)
    }

    /// The name for `role` (see [`role`]); ≤ 15 bytes for any PID below 2^24.
    pub fn name(&self, role: char) -> String {
        format!("{}{role}", self.tag())
    }

    /// Parses `ntb<pid>_<seq>` optionally followed by one role letter.
    pub fn parse(name: &str) -> Option<(InstanceId, Option<char>)> {
        let rest = name.strip_prefix(PREFIX)?;
        let (pid, tail) = rest.split_once('_')?;
        let seq_end = tail
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(tail.len());
        let (seq, role) = tail.split_at(seq_end);
        let mut role_chars = role.chars();
        let r = role_chars.next();
        if role_chars.next().is_some() || pid.is_empty() || seq.is_empty() {
            return None;
        }
        if r.is_some_and(|c| !c.is_ascii_lowercase() || c.is_ascii_hexdigit()) {
            return None;
        }
        Some((
            InstanceId {
                pid: u32::from_str_radix(pid, 16).ok()?,
                seq: u32::from_str_radix(seq, 16).ok()?,
            },
            r,
        ))
    }
}

/// Base directory of run directories (`$TMPDIR` or `/tmp`).
pub fn run_base() -> PathBuf {
    std::env::temp_dir()
}

/// The run directory, created with an `owner` file naming this process.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    /// Creates `$TMPDIR/<tag>` and writes `owner`. Fails if socket paths inside would be too
    /// long for `sun_path`.
    pub fn create(id: InstanceId) -> Result<RunDir> {
        let path = run_base().join(id.tag());
        // Longest socket name used inside.
        let longest = path.join("qtest.sock");
        if longest.as_os_str().len() > SUN_PATH_MAX {
            return Err(Error::Invalid(format!(
                "run dir {} too long for unix socket paths (set TMPDIR shorter)",
                path.display()
            )));
        }
        std::fs::create_dir(&path)
            .map_err(|e| Error::io(format!("create run dir {}", path.display()), e))?;
        let dir = RunDir { path, keep: false };
        let me = std::process::id();
        let start = process_start_time(me).unwrap_or(0);
        dir.write("owner", &format!("{me} {start}\n"))?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a small file inside.
    pub fn write(&self, name: &str, content: &str) -> Result<()> {
        let p = self.path.join(name);
        std::fs::write(&p, content).map_err(|e| Error::io(format!("write {}", p.display()), e))
    }

    /// Keep the directory (with `qemu.log`) after drop, for debugging (`NTB_KEEP_RUNDIR=1`).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Whether the owner recorded in `dir/owner` is still running. Without an owner file, the PID
/// from the directory name decides.
fn owner_alive(id: InstanceId, dir: Option<&Path>) -> bool {
    let recorded = dir
        .and_then(|d| std::fs::read_to_string(d.join("owner")).ok())
        .and_then(|s| {
            let mut it = s.split_whitespace();
            let pid: u32 = it.next()?.parse().ok()?;
            let start: u64 = it.next()?.parse().ok()?;
            Some((pid, start))
        });
    match recorded {
        Some((pid, start)) => process_start_time(pid) == Some(start),
        None => pid_exists(id.pid),
    }
}

/// What [`cleanup_stale`] removed.
#[derive(Debug, Default, Clone)]
pub struct StaleReport {
    /// Namespaces deleted.
    pub netns: Vec<String>,
    /// QEMU processes killed (PIDs).
    pub killed: Vec<u32>,
    /// Run directories removed.
    pub dirs: Vec<PathBuf>,
}

impl StaleReport {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.netns.is_empty() && self.killed.is_empty() && self.dirs.is_empty()
    }
}

/// Removes what dead earlier runs left behind: QEMU processes still running from a run dir
/// whose owner is gone (normally PDEATHSIG already killed them), their run dirs, and every
/// `ntb…` namespace whose owner is gone (their TAPs and veths go with them). Instances of
/// live processes — including other test processes running in parallel — are never touched.
pub fn cleanup_stale() -> StaleReport {
    let mut report = StaleReport::default();
    let base = run_base();
    if let Ok(rd) = std::fs::read_dir(&base) {
        for e in rd.filter_map(|e| e.ok()) {
            let Some(name) = e.file_name().into_string().ok() else {
                continue;
            };
            let Some((id, None)) = InstanceId::parse(&name) else {
                continue;
            };
            let dir = e.path();
            if !dir.is_dir() || owner_alive(id, Some(&dir)) {
                continue;
            }
            if let Some(qpid) = std::fs::read_to_string(dir.join("qemu.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                // Only kill it if it really is the QEMU of this run (PIDs get recycled).
                let cmdline = std::fs::read(format!("/proc/{qpid}/cmdline")).unwrap_or_default();
                let needle = dir.to_string_lossy().into_owned();
                if String::from_utf8_lossy(&cmdline).contains(needle.as_str()) {
                    if let Ok(p) = libc::pid_t::try_from(qpid) {
                        // SAFETY: kill by PID of a process verified to be this run's QEMU.
                        unsafe { libc::kill(p, libc::SIGKILL) };
                        report.killed.push(qpid);
                    }
                }
            }
            if std::fs::remove_dir_all(&dir).is_ok() {
                report.dirs.push(dir);
            }
        }
    }
    for ns in netns::list_netns() {
        let Some((id, Some(_))) = InstanceId::parse(&ns) else {
            continue;
        };
        let dir = base.join(id.tag());
        let alive = owner_alive(id, dir.is_dir().then_some(dir.as_path()));
        if !alive && netns::delete_netns(&ns).is_ok() {
            report.netns.push(ns);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz_for_any_pid_and_parse_back() {
        for (pid, seq) in [(1, 0), (32768, 7), (4_194_304, 0xfff), (0xff_ffff, 0xfff)] {
            let id = InstanceId { pid, seq };
            for r in ['h', 'g', 'p', 't', 'u', 'v', 'w'] {
                let n = id.name(r);
                assert!(n.len() <= IFNAME_MAX, "{n} is {} bytes", n.len());
                assert_eq!(InstanceId::parse(&n), Some((id, Some(r))));
            }
            assert_eq!(InstanceId::parse(&id.tag()), Some((id, None)));
        }
    }

    #[test]
    fn foreign_names_do_not_parse() {
        for n in [
            "vnh", "ntb", "ntb_1", "ntbx_1h", "ntb1_h", "ntb1_2hh", "ntb1_2-", "ntb-1_2h",
        ] {
            assert_eq!(InstanceId::parse(n), None, "{n}");
        }
    }

    #[test]
    fn ids_in_one_process_are_distinct() {
        let a = InstanceId::next();
        let b = InstanceId::next();
        assert_ne!(a.tag(), b.tag());
        assert_eq!(a.pid, std::process::id());
    }

    #[test]
    fn run_dir_records_owner_and_is_removed_on_drop() {
        let id = InstanceId::next();
        let dir = RunDir::create(id).unwrap();
        let p = dir.path().to_path_buf();
        assert!(owner_alive(id, Some(&p)));
        // A stale-looking owner (wrong start time) is considered dead.
        dir.write("owner", &format!("{} 1\n", std::process::id()))
            .unwrap();
        assert!(!owner_alive(id, Some(&p)));
        drop(dir);
        assert!(!p.exists());
    }
}
