//! The guest-side stand-in TAP and the virtio-net header it carries.
//!
//! The "guest" namespace's TAP is opened by the test process itself with
//! `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR` and a 12-byte header (`TUNSETVNETHDRSZ`), so every
//! frame read or written carries a `virtio_net_hdr_v1` (virtio 1.x §5.1.6) in host (= little)
//! endianness. The Linux network stack in that namespace stands in for Windows's TCP/IP.
//!
//! Direction conventions (tun driver): frames the *kernel transmits* on the TAP are what we
//! read; they may be GSO super-frames / partial checksums only for the kinds enabled with
//! `TUNSETOFFLOAD`. Frames we *write* are received by the kernel; their header may carry GSO
//! and NEEDS_CSUM / DATA_VALID regardless of the offload flags.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::netns::NetNs;

/// `TUNSETIFF` = `_IOW('T', 202, int)`.
pub const TUNSETIFF: libc::c_ulong = 0x4004_54CA;
/// `TUNSETOFFLOAD` = `_IOW('T', 208, unsigned int)`.
pub const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54D0;
/// `TUNSETVNETHDRSZ` = `_IOW('T', 216, int)`.
pub const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54D8;
/// `TUNGETVNETHDRSZ` = `_IOR('T', 215, int)`.
pub const TUNGETVNETHDRSZ: libc::c_ulong = 0x8004_54D7;
/// `IFF_TAP`.
pub const IFF_TAP: libc::c_short = 0x0002;
/// `IFF_NO_PI`: no 4-byte packet-info prefix.
pub const IFF_NO_PI: libc::c_short = 0x1000;
/// `IFF_VNET_HDR`: frames carry a virtio-net header.
pub const IFF_VNET_HDR: libc::c_short = 0x4000;
/// Size of `virtio_net_hdr_v1` (with `num_buffers`), the header the testbed uses everywhere.
pub const VNET_HDR_LEN: usize = 12;

/// `TUNSETOFFLOAD` flags (linux/if_tun.h): what the reader of the TAP accepts.
pub mod offload {
    /// `TUN_F_CSUM`: partial checksums (NEEDS_CSUM).
    pub const CSUM: u32 = 0x01;
    /// `TUN_F_TSO4`.
    pub const TSO4: u32 = 0x02;
    /// `TUN_F_TSO6`.
    pub const TSO6: u32 = 0x04;
    /// `TUN_F_TSO_ECN`.
    pub const TSO_ECN: u32 = 0x08;
    /// `TUN_F_UFO` (legacy UDP fragmentation offload).
    pub const UFO: u32 = 0x10;
    /// `TUN_F_USO4` (Linux ≥ 6.2). The kernel enables UDP_L4 GSO only with USO4 *and* USO6.
    pub const USO4: u32 = 0x20;
    /// `TUN_F_USO6` (Linux ≥ 6.2).
    pub const USO6: u32 = 0x40;
}

/// Header flag bits (`virtio_net_hdr.flags`).
pub mod hdr_flags {
    /// Checksum must be completed: start at `csum_start`, store at `csum_start + csum_offset`.
    pub const NEEDS_CSUM: u8 = 1;
    /// Checksum already validated.
    pub const DATA_VALID: u8 = 2;
    /// RSC_EXT: `csum_start`/`csum_offset` hold coalesced segments / duplicate ACKs.
    pub const RSC_INFO: u8 = 4;
}

/// GSO types (`virtio_net_hdr.gso_type`).
pub mod gso {
    /// Not a GSO frame.
    pub const NONE: u8 = 0;
    /// TCP over IPv4.
    pub const TCPV4: u8 = 1;
    /// UFO (legacy).
    pub const UDP: u8 = 3;
    /// TCP over IPv6.
    pub const TCPV6: u8 = 4;
    /// UDP segmentation (USO), both IP versions.
    pub const UDP_L4: u8 = 5;
    /// ECN bit or-ed into the type.
    pub const ECN: u8 = 0x80;
}

/// `virtio_net_hdr_v1`, little-endian on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// [`hdr_flags`].
    pub flags: u8,
    /// [`gso`].
    pub gso_type: u8,
    /// Length of the headers to replicate per segment.
    pub hdr_len: u16,
    /// Segment payload size.
    pub gso_size: u16,
    /// Checksum start (or RSC segment count with RSC_INFO).
    pub csum_start: u16,
    /// Checksum field offset from `csum_start` (or RSC dup-ACK count).
    pub csum_offset: u16,
    /// Buffers used (mergeable RX buffers); 0 on a TAP.
    pub num_buffers: u16,
}

impl VnetHdr {
    /// Serialises to the 12 wire bytes.
    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b[10..12].copy_from_slice(&self.num_buffers.to_le_bytes());
        b
    }

    /// Parses the first 12 bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; VNET_HDR_LEN] = b.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
            num_buffers: u(10),
        })
    }
}

/// One frame read from a TAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapFrame {
    /// Its virtio-net header.
    pub hdr: VnetHdr,
    /// The Ethernet frame (no header).
    pub data: Vec<u8>,
}

/// Settings for the guest-side TAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestTapConfig {
    /// IPv4 address with prefix, e.g. `10.77.0.2/24` (the device's address).
    pub ipv4: String,
    /// MAC of the TAP (frames the guest stack sends carry it as source); default the device MAC.
    pub mac: Option<[u8; 6]>,
    /// MTU (default 1500).
    pub mtu: u32,
    /// [`offload`] flags for `TUNSETOFFLOAD`.
    pub offloads: u32,
}

impl Default for GuestTapConfig {
    fn default() -> Self {
        GuestTapConfig {
            ipv4: "10.77.0.2/24".into(),
            mac: None,
            mtu: 1500,
            offloads: offload::CSUM | offload::TSO4 | offload::TSO6 | offload::TSO_ECN,
        }
    }
}

/// A TAP opened by this process inside a namespace (non-persistent: it disappears when the
/// fd is closed). The fd is non-blocking and pollable (`AsRawFd`). `Send + Sync`: reads and
/// writes are whole-frame system calls.
#[derive(Debug)]
pub struct GuestTap {
    fd: OwnedFd,
    name: String,
    netns: String,
}

#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl GuestTap {
    /// Creates TAP `name` inside `ns` with a 12-byte vnet header and `offloads`, sets MAC, MTU
    /// and address (if given) and brings it up.
    pub fn open(ns: &NetNs, name: &str, cfg: &GuestTapConfig) -> Result<GuestTap> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(Error::Invalid(format!("bad interface name {name:?}")));
        }
        let fd = ns.run_in(|| -> Result<OwnedFd> {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open("/dev/net/tun")
                .map_err(|e| Error::io("open /dev/net/tun", e))?;
            let mut req = IfReqFlags {
                name: [0; libc::IFNAMSIZ],
                flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
                _pad: [0; 22],
            };
            for (d, s) in req.name.iter_mut().zip(name.bytes()) {
                *d = s as libc::c_char;
            }
            // SAFETY: TUNSETIFF reads/writes a struct ifreq; IfReqFlags has its layout (name,
            // flags, padding to 40 bytes) and lives across the call.
            if unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req) } != 0 {
                return Err(Error::last_os(format!("TUNSETIFF {name}")));
            }
            let sz: libc::c_int = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer.
            if unsafe { libc::ioctl(f.as_raw_fd(), TUNSETVNETHDRSZ, &sz) } != 0 {
                return Err(Error::last_os("TUNSETVNETHDRSZ"));
            }
            Ok(OwnedFd::from(f))
        })??;
        let tap = GuestTap {
            fd,
            name: name.to_string(),
            netns: ns.name().to_string(),
        };
        tap.set_offloads(cfg.offloads)?;
        if let Some(mac) = cfg.mac {
            ns.ip(&["link", "set", "dev", name, "address", &format_mac(&mac)])?;
        }
        ns.ip(&["link", "set", "dev", name, "mtu", &cfg.mtu.to_string()])?;
        if !cfg.ipv4.is_empty() {
            ns.ip(&["addr", "add", &cfg.ipv4, "dev", name])?;
        }
        ns.ip(&["link", "set", "dev", name, "up"])?;
        Ok(tap)
    }

    /// Interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Namespace it lives in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Changes the interface MTU (`ip link set mtu`).
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        crate::process::run_ok(
            "ip",
            &[
                "-n",
                &self.netns,
                "link",
                "set",
                "dev",
                &self.name,
                "mtu",
                &mtu.to_string(),
            ],
            None,
            crate::netns::HELPER_TIMEOUT,
        )
        .map(|_| ())
    }

    /// Changes what the kernel may hand us (`TUNSETOFFLOAD`, [`offload`] flags). Takes effect
    /// for frames the stack transmits from now on (the device's features are re-evaluated).
    pub fn set_offloads(&self, flags: u32) -> Result<()> {
        // SAFETY: TUNSETOFFLOAD takes the flags by value as the ioctl argument.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), TUNSETOFFLOAD, flags as libc::c_ulong) } != 0 {
            return Err(Error::last_os(format!(
                "TUNSETOFFLOAD {flags:#x} on {}",
                self.name
            )));
        }
        Ok(())
    }

    /// The vnet header size the kernel uses for this fd (12 unless changed).
    pub fn vnet_hdr_size(&self) -> Result<usize> {
        let mut sz: libc::c_int = 0;
        // SAFETY: TUNGETVNETHDRSZ writes an int through the pointer.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), TUNGETVNETHDRSZ, &mut sz) } != 0 {
            return Err(Error::last_os("TUNGETVNETHDRSZ"));
        }
        usize::try_from(sz).map_err(|_| Error::Setup(format!("vnet hdr size {sz}")))
    }

    /// Reads one `[vnet header | frame]` into `buf` without blocking: `Ok(None)` when no frame
    /// is queued. A buffer shorter than the frame truncates it (size it 64 KiB + 12 + 18).
    pub fn read_raw(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: read into a live mutable buffer of the given length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }

    /// Reads one frame (non-blocking), split into header and data.
    pub fn recv(&self) -> io::Result<Option<TapFrame>> {
        let mut buf = vec![0u8; VNET_HDR_LEN + 65536 + 64];
        match self.read_raw(&mut buf)? {
            None => Ok(None),
            Some(n) => {
                let hdr = VnetHdr::from_bytes(&buf[..n]).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "frame shorter than vnet header")
                })?;
                buf.truncate(n);
                buf.drain(..VNET_HDR_LEN);
                Ok(Some(TapFrame { hdr, data: buf }))
            }
        }
    }

    /// Waits up to `timeout` for a frame and reads it.
    pub fn recv_timeout(&self, timeout: Duration) -> io::Result<Option<TapFrame>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(f) = self.recv()? {
                return Ok(Some(f));
            }
            let now = std::time::Instant::now();
            if now >= deadline || !self.wait_readable(deadline - now)? {
                return Ok(None);
            }
        }
    }

    /// Writes one frame with its header (one `writev`: the kernel receives it as a packet).
    pub fn send(&self, hdr: &VnetHdr, frame: &[u8]) -> io::Result<()> {
        let h = hdr.to_bytes();
        let iov = [
            libc::iovec {
                iov_base: h.as_ptr() as *mut libc::c_void,
                iov_len: h.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        loop {
            // SAFETY: writev from two live buffers described by `iov`.
            let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if n >= 0 {
                return if n as usize == h.len() + frame.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(io::ErrorKind::WriteZero, "short TAP write"))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Writes `[vnet header | frame]` already laid out in one buffer.
    pub fn send_raw(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: write from a live buffer of the given length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != buf.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short TAP write"));
        }
        Ok(())
    }

    /// Waits until a frame can be read (poll); false on timeout.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: poll on one live pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n >= 0 {
                return Ok(n > 0);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl AsRawFd for GuestTap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for GuestTap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `52:54:00:12:34:56` form.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_iow_encoding() {
        // _IOW(type, nr, size) = (1 << 30) | (size << 16) | (type << 8) | nr
        let iow = |nr: libc::c_ulong| (1 << 30) | (4 << 16) | (libc::c_ulong::from(b'T') << 8) | nr;
        let ior = |nr: libc::c_ulong| (2 << 30) | (4 << 16) | (libc::c_ulong::from(b'T') << 8) | nr;
        assert_eq!(TUNSETIFF, iow(202));
        assert_eq!(TUNSETOFFLOAD, iow(208));
        assert_eq!(TUNSETVNETHDRSZ, iow(216));
        assert_eq!(TUNGETVNETHDRSZ, ior(215));
        assert_eq!(
            std::mem::size_of::<IfReqFlags>(),
            40,
            "struct ifreq size on x86-64"
        );
    }

    #[test]
    fn vnet_header_roundtrips_little_endian() {
        let h = VnetHdr {
            flags: hdr_flags::NEEDS_CSUM,
            gso_type: gso::UDP_L4,
            hdr_len: 42,
            gso_size: 1400,
            csum_start: 34,
            csum_offset: 6,
            num_buffers: 0x0102,
        };
        let b = h.to_bytes();
        assert_eq!(b, [1, 5, 42, 0, 0x78, 0x05, 34, 0, 6, 0, 0x02, 0x01]);
        assert_eq!(VnetHdr::from_bytes(&b), Some(h));
        assert_eq!(VnetHdr::from_bytes(&b[..11]), None);
    }

    #[test]
    fn mac_formats_with_colons() {
        assert_eq!(
            format_mac(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            "52:54:00:12:34:56"
        );
    }
}
