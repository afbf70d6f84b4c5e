//! Minimal QMP (QEMU Machine Protocol) client: JSON lines over a unix socket.
//!
//! After the greeting, `qmp_capabilities` leaves negotiation mode. Each command gets one
//! `{"return": …}` or `{"error": {"class", "desc"}}`; asynchronous `{"event": …}` objects may
//! arrive in between and are kept (bounded) for [`Qmp::take_events`].

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The QOM path of the testbed's virtio-net backend (device id `net0`), for the
/// `x-query-virtio-*` commands.
pub const VIRTIO_NET_QOM_PATH: &str = "/machine/peripheral/net0/virtio-backend";
const MAX_EVENTS: usize = 256;

/// A QMP connection (not `Sync` by itself; the machine wraps it in a mutex).
pub struct Qmp {
    w: UnixStream,
    r: BufReader<UnixStream>,
    events: Vec<Value>,
    next_id: u64,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp")
            .field("events", &self.events.len())
            .finish()
    }
}

impl Qmp {
    /// Connects (retrying until `timeout` while QEMU creates the socket), reads the greeting
    /// and sends `qmp_capabilities`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let deadline = Instant::now() + timeout;
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(Error::io(format!("connect QMP {}", path.display()), e));
                }
            }
        };
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| Error::io("QMP read timeout", e))?;
        let r = BufReader::new(
            sock.try_clone()
                .map_err(|e| Error::io("clone QMP socket", e))?,
        );
        let mut q = Qmp {
            w: sock,
            r,
            events: Vec::new(),
            next_id: 0,
        };
        let greeting = q.read_msg()?;
        if greeting.get("QMP").is_none() {
            return Err(Error::Qmp(format!("unexpected greeting {greeting}")));
        }
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    /// Changes how long a reply may take (default 30 s).
    pub fn set_timeout(&mut self, t: Duration) {
        let _ = self.w.set_read_timeout(Some(t));
    }

    fn read_msg(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self
            .r
            .read_line(&mut line)
            .map_err(|e| Error::Qmp(format!("read: {e}")))?;
        if n == 0 {
            return Err(Error::Qmp("QEMU closed the QMP socket".into()));
        }
        serde_json::from_str(&line).map_err(|e| Error::Qmp(format!("bad JSON {line:?}: {e}")))
    }

    /// Executes `command` with optional `arguments`; returns the `return` value.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "execute": command, "id": id });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut text = msg.to_string();
        text.push('\n');
        self.w
            .write_all(text.as_bytes())
            .map_err(|e| Error::Qmp(format!("write {command}: {e}")))?;
        loop {
            let m = self.read_msg()?;
            if m.get("event").is_some() {
                if self.events.len() < MAX_EVENTS {
                    self.events.push(m);
                }
                continue;
            }
            if m.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = m.get("error") {
                return Err(Error::Qmp(format!("{command}: {err}")));
            }
            return Ok(m.get("return").cloned().unwrap_or(Value::Null));
        }
    }

    /// Events received so far (oldest first, at most 256 kept), forgetting them.
    pub fn take_events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.events)
    }

    /// `set_link name=… up=…` (the NIC's link as the guest sees it: virtio-net STATUS bit and
    /// a configuration-change interrupt).
    pub fn set_link(&mut self, name: &str, up: bool) -> Result<()> {
        self.execute("set_link", Some(json!({ "name": name, "up": up })))
            .map(|_| ())
    }

    /// `x-query-virtio-status path=…`: negotiated features, status, queue count …
    pub fn virtio_status(&mut self, path: &str) -> Result<Value> {
        self.execute("x-query-virtio-status", Some(json!({ "path": path })))
    }

    /// `x-query-virtio-queue-status path=… queue=N`: last-avail-idx, used-idx, inuse …
    pub fn virtio_queue_status(&mut self, path: &str, queue: u16) -> Result<Value> {
        self.execute(
            "x-query-virtio-queue-status",
            Some(json!({ "path": path, "queue": queue })),
        )
    }

    /// `human-monitor-command` (HMP), e.g. `info pci`; returns the text.
    pub fn hmp(&mut self, command_line: &str) -> Result<String> {
        let v = self.execute(
            "human-monitor-command",
            Some(json!({ "command-line": command_line })),
        )?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// `quit`. QEMU may close the socket before or after answering; both count as success.
    pub fn quit(&mut self) -> Result<()> {
        match self.execute("quit", None) {
            Ok(_) => Ok(()),
            Err(Error::Qmp(m)) if m.contains("closed") || m.contains("read") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// One BAR line of HMP `info pci`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoPciBar {
    /// BAR index.
    pub index: u8,
    /// "32 bit memory", "64 bit prefetchable memory", "I/O" …
    pub kind: String,
    /// Base address as QEMU maps it.
    pub base: u64,
    /// Last address (inclusive).
    pub last: u64,
}

/// Parses the BARs of the device at `bus:slot.func` from HMP `info pci` text.
pub fn parse_info_pci_bars(text: &str, bus: u8, slot: u8, func: u8) -> Vec<InfoPciBar> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Bus ") {
            // "Bus  0, device   3, function 0:" (field widths vary between QEMU versions)
            let nums: Vec<u8> = t
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            inside = nums == [bus, slot, func];
            continue;
        }
        if !inside {
            continue;
        }
        // "BAR4: 64 bit prefetchable memory at 0xe0004000 [0xe0007fff]."
        let Some(rest) = t.strip_prefix("BAR") else {
            continue;
        };
        let Some((idx, desc)) = rest.split_once(':') else {
            continue;
        };
        let Some((kind, addrs)) = desc.split_once(" at ") else {
            continue;
        };
        let mut it = addrs.split_whitespace();
        let base = it.next().and_then(parse_hex);
        let last = it
            .next()
            .map(|s| s.trim_matches(|c| c == '[' || c == ']' || c == '.'))
            .and_then(parse_hex);
        if let (Ok(index), Some(base), Some(last)) = (idx.trim().parse::<u8>(), base, last) {
            out.push(InfoPciBar {
                index,
                kind: kind.trim().to_string(),
                base,
                last,
            });
        }
    }
    out
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO_PCI: &str = "  Bus  0, device   0, function 0:
    Host bridge: PCI device 8086:29c0
      PCI subsystem 1af4:1100
      id \"\"
  Bus  0, device   3, function 0:
    Ethernet controller: PCI device 1af4:1041
      PCI subsystem 1af4:1100
      IRQ 0, pin A
      BAR1: 32 bit memory at 0xe0000000 [0xe0000fff].
      BAR4: 64 bit prefetchable memory at 0xe0004000 [0xe0007fff].
      id \"net0\"
  Bus  0, device  31, function 0:
    ISA bridge: PCI device 8086:2918
      BAR0: I/O at 0xc000 [0xc07f].
";

    #[test]
    fn info_pci_bars_are_parsed_for_the_requested_function_only() {
        let bars = parse_info_pci_bars(INFO_PCI, 0, 3, 0);
        assert_eq!(
            bars,
            vec![
                InfoPciBar {
                    index: 1,
                    kind: "32 bit memory".into(),
                    base: 0xe000_0000,
                    last: 0xe000_0fff
                },
                InfoPciBar {
                    index: 4,
                    kind: "64 bit prefetchable memory".into(),
                    base: 0xe000_4000,
                    last: 0xe000_7fff
                },
            ]
        );
        assert_eq!(parse_info_pci_bars(INFO_PCI, 0, 31, 0).len(), 1);
        assert!(parse_info_pci_bars(INFO_PCI, 0, 4, 0).is_empty());
    }
}
