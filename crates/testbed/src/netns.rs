//! Network namespaces: creation and removal, sysctls, running code and commands inside,
//! interface statistics and ethtool offload switches.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::{self, ChildProc, CmdOutput, SpawnOptions};

/// How long helper commands (`ip`, `ethtool`) may take before they are killed.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

/// Where `ip netns add` puts the namespace handles.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// A named network namespace (`ip netns add NAME`). When `owned`, dropping it deletes it.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    owned: bool,
}

impl NetNs {
    /// Creates the namespace and brings its loopback up.
    pub fn create(name: &str) -> Result<NetNs> {
        validate_name(name)?;
        process::run_ok("ip", &["netns", "add", name], None, HELPER_TIMEOUT)?;
        let ns = NetNs {
            name: name.to_string(),
            owned: true,
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A handle to an existing namespace that is not deleted on drop.
    pub fn existing(name: &str) -> Result<NetNs> {
        validate_name(name)?;
        let ns = NetNs {
            name: name.to_string(),
            owned: false,
        };
        if !ns.path().exists() {
            return Err(Error::Invalid(format!("no network namespace {name}")));
        }
        Ok(ns)
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace handle file (`/run/netns/NAME`), usable with `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_RUN_DIR).join(&self.name)
    }

    /// Runs `f` on a fresh thread that has entered this namespace, and returns its result.
    /// Sockets and TAP file descriptors created inside `f` belong to the namespace and stay
    /// there after the thread ends (the namespace is a property of the socket, not of the
    /// thread that uses it). `/proc/thread-self/net/…` and `/proc/sys/net/…` read inside `f`
    /// show this namespace.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let file = File::open(self.path())
            .map_err(|e| Error::io(format!("open netns {}", self.path().display()), e))?;
        std::thread::scope(|s| {
            let h = s.spawn(|| -> Result<T> {
                // SAFETY: setns on an open netns fd; it affects only this (scoped) thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::last_os(format!("setns into {}", self.name)));
                }
                Ok(f())
            });
            h.join()
                .map_err(|_| Error::Setup(format!("thread inside netns {} panicked", self.name)))?
        })
    }

    /// Sets a sysctl (`net.ipv4.tcp_timestamps`, dotted form) inside this namespace.
    pub fn sysctl_set(&self, key: &str, value: &str) -> Result<()> {
        let path = sysctl_path(key)?;
        self.run_in(|| {
            std::fs::write(&path, value)
                .map_err(|e| Error::io(format!("sysctl {key}={value} in {}", self.name), e))
        })?
    }

    /// Reads a sysctl inside this namespace (trimmed).
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        let path = sysctl_path(key)?;
        self.run_in(|| {
            std::fs::read_to_string(&path)
                .map(|s| s.trim().to_string())
                .map_err(|e| Error::io(format!("read sysctl {key} in {}", self.name), e))
        })?
    }

    /// Runs `ip -n NAME ARGS…` and returns its stdout.
    pub fn ip<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut cmd = Command::new("ip");
        cmd.arg("-n").arg(&self.name).args(args);
        let desc = format!(
            "ip -n {} {}",
            self.name,
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        process::run(cmd, None, HELPER_TIMEOUT)?.ok(&desc)
    }

    /// Starts `cmd` inside the namespace (PDEATHSIG=SIGKILL, stdout/stderr captured). The
    /// returned handle kills the process by PID when dropped.
    pub fn spawn(&self, cmd: Command) -> Result<ChildProc> {
        let path = self.path();
        process::spawn(
            cmd,
            SpawnOptions {
                netns: Some(&path),
                capture: true,
                ..Default::default()
            },
        )
    }

    /// Runs `cmd` inside the namespace to completion (killed after `timeout`).
    pub fn run(&self, cmd: Command, timeout: Duration) -> Result<CmdOutput> {
        self.spawn(cmd)?.finish(timeout)
    }

    /// Runs `program ARGS…` inside the namespace and returns stdout (error on failure).
    pub fn run_ok<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Result<String> {
        let path = self.path();
        process::run_ok(program, args, Some(&path), HELPER_TIMEOUT)
    }

    /// `ethtool -K DEV name on|off …` inside the namespace. Use it *after* the device reached
    /// DRIVER_OK for the TAP QEMU owns: QEMU's TUNSETOFFLOAD at feature negotiation rewrites
    /// the TAP's wanted features (recipe pitfall 5).
    pub fn ethtool_set(&self, dev: &str, features: &[(&str, bool)]) -> Result<()> {
        let mut args: Vec<String> = vec!["-K".into(), dev.into()];
        for (name, on) in features {
            args.push((*name).into());
            args.push(if *on { "on" } else { "off" }.into());
        }
        self.run_ok("ethtool", &args).map(|_| ())
    }

    /// `ethtool -k DEV` parsed into (feature, on) pairs, e.g. ("tcp-segmentation-offload", true).
    pub fn ethtool_features(&self, dev: &str) -> Result<Vec<(String, bool)>> {
        Ok(parse_ethtool_k(&self.run_ok("ethtool", &["-k", dev])?))
    }

    /// Counters of interface `dev` from `/proc/net/dev` as seen inside the namespace.
    pub fn if_stats(&self, dev: &str) -> Result<IfStats> {
        let text = self.run_in(|| {
            std::fs::read_to_string("/proc/thread-self/net/dev")
                .map_err(|e| Error::io("read /proc/thread-self/net/dev", e))
        })??;
        parse_proc_net_dev(&text, dev).ok_or_else(|| {
            Error::Setup(format!("interface {dev} not found in netns {}", self.name))
        })
    }

    /// Deletes the namespace now (also done on drop when owned).
    pub fn delete(mut self) -> Result<()> {
        self.owned = false;
        delete_netns(&self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if self.owned {
            if let Err(e) = delete_netns(&self.name) {
                eprintln!("testbed: {e}");
            }
        }
    }
}

/// `ip netns del NAME` (interfaces inside — TAPs, veths — go with it).
pub fn delete_netns(name: &str) -> Result<()> {
    process::run_ok("ip", &["netns", "del", name], None, HELPER_TIMEOUT).map(|_| ())
}

/// Names of all namespaces in /run/netns.
pub fn list_netns() -> Vec<String> {
    match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::Invalid(format!("bad namespace name {name:?}")));
    }
    Ok(())
}

fn sysctl_path(key: &str) -> Result<PathBuf> {
    if key.is_empty()
        || key.contains("..")
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        return Err(Error::Invalid(format!("bad sysctl key {key:?}")));
    }
    Ok(PathBuf::from("/proc/sys").join(key.replace('.', "/")))
}

/// Interface counters (the common subset of `/proc/net/dev`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfStats {
    /// Received bytes.
    pub rx_bytes: u64,
    /// Received packets.
    pub rx_packets: u64,
    /// Receive drops.
    pub rx_dropped: u64,
    /// Transmitted bytes.
    pub tx_bytes: u64,
    /// Transmitted packets.
    pub tx_packets: u64,
    /// Transmit drops (on a TAP: frames nobody read from the queue).
    pub tx_dropped: u64,
}

/// Finds `dev` in `/proc/net/dev` text.
pub fn parse_proc_net_dev(text: &str, dev: &str) -> Option<IfStats> {
    for line in text.lines().skip(2) {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != dev {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if v.len() < 16 {
            return None;
        }
        // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop …
        return Some(IfStats {
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_dropped: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_dropped: v[11],
        });
    }
    None
}

/// Parses `ethtool -k` output lines `name: on [fixed]`.
pub fn parse_ethtool_k(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|l| {
            let (name, val) = l.split_once(':')?;
            let name = name.trim();
            let val = val.split_whitespace().next()?;
            match val {
                "on" => Some((name.to_string(), true)),
                "off" => Some((name.to_string(), false)),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_dev_line_maps_to_counters() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\nntb1_0t:    1000      10    0    2    0     0          0         0     3000      30    0    4    0     0       0          0\n";
        let s = parse_proc_net_dev(text, "ntb1_0t").unwrap();
        assert_eq!(
            s,
            IfStats {
                rx_bytes: 1000,
                rx_packets: 10,
                rx_dropped: 2,
                tx_bytes: 3000,
                tx_packets: 30,
                tx_dropped: 4
            }
        );
        assert!(parse_proc_net_dev(text, "eth0").is_none());
    }

    #[test]
    fn ethtool_k_output_parses_on_off_and_fixed() {
        let text = "Features for t0:\nrx-checksumming: off [fixed]\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\ntcp-segmentation-offload: on\n\ttx-tcp-segmentation: on\n";
        let f = parse_ethtool_k(text);
        assert!(f.contains(&("tx-checksumming".into(), true)));
        assert!(f.contains(&("rx-checksumming".into(), false)));
        assert!(f.contains(&("tx-tcp-segmentation".into(), true)));
        assert_eq!(f.len(), 5);
    }

    #[test]
    fn sysctl_keys_map_to_proc_paths_and_reject_traversal() {
        assert_eq!(
            sysctl_path("net.ipv4.tcp_timestamps").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/tcp_timestamps")
        );
        assert!(sysctl_path("net/../../etc").is_err());
        assert!(sysctl_path("a b").is_err());
    }
}
