//! Frames sent into the host TAP with AF_PACKET: they go straight to the TAP's reader (QEMU),
//! bypassing the host's IP stack and qdisc (`PACKET_QDISC_BYPASS`: a fair-queueing qdisc would
//! reorder frames of different flows). A second socket with `PACKET_VNET_HDR` sends GSO
//! super-frames: the TAP hands them to QEMU unsegmented, exactly like the host's GRO/TSO
//! frames (virtio `gso_type` TCPV4/TCPV6, `NEEDS_CSUM`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use testbed::tap::VnetHdr;
use testbed::NetNs;

const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_QDISC_BYPASS: libc::c_int = 20;
/// Packet sockets take the 10-byte `struct virtio_net_hdr` (no `num_buffers`).
const PKT_VNET_LEN: usize = 10;

/// Raw senders bound to one interface.
pub struct Injector {
    plain: OwnedFd,
    vnet: OwnedFd,
    ifindex: i32,
}

fn socket(ifindex: i32, vnet: bool) -> Result<OwnedFd, String> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let s = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let set = |opt: libc::c_int| {
        // SAFETY: setsockopt with a live c_int of the size given.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_PACKET,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(format!(
                "setsockopt {opt}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    };
    set(PACKET_QDISC_BYPASS)?;
    if vnet {
        set(PACKET_VNET_HDR)?;
    }
    // SAFETY: an all-zero sockaddr_ll is a valid value; the fields we need are set below.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    // Protocol 0: this socket only sends (it receives nothing).
    sa.sll_protocol = 0;
    sa.sll_ifindex = ifindex;
    // SAFETY: bind with a live sockaddr_ll of the size given.
    let r = unsafe {
        libc::bind(
            s.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(format!("bind: {}", std::io::Error::last_os_error()));
    }
    Ok(s)
}

impl Injector {
    /// Opens the senders inside `ns` (the sockets keep that namespace) for interface `dev`.
    pub fn open(ns: &NetNs, dev: &str) -> Result<Injector, String> {
        let dev = dev.to_string();
        ns.run_in(move || -> Result<Injector, String> {
            let name = std::ffi::CString::new(dev.clone()).map_err(|e| e.to_string())?;
            // SAFETY: a NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
            if ifindex == 0 {
                return Err(format!("no interface {dev}"));
            }
            Ok(Injector {
                plain: socket(ifindex, false)?,
                vnet: socket(ifindex, true)?,
                ifindex,
            })
        })
        .map_err(|e| format!("netns: {e}"))?
    }

    fn send_on(&self, fd: &OwnedFd, bufs: &[&[u8]]) -> Result<(), String> {
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        loop {
            // SAFETY: writev from live buffers described by `iov`.
            let n = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as i32) };
            if n >= 0 {
                if n as usize != total {
                    return Err(format!("short send: {n} of {total} bytes"));
                }
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => continue,
                // The TAP queue is full: QEMU is reading; retry shortly.
                std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_micros(200))
                }
                _ => return Err(format!("send on ifindex {}: {e}", self.ifindex)),
            }
        }
    }

    /// Sends one Ethernet frame as is.
    pub fn send(&self, frame: &[u8]) -> Result<(), String> {
        self.send_on(&self.plain, &[frame])
    }

    /// Sends one frame with a virtio-net header (GSO super-frames, partial checksums).
    pub fn send_vnet(&self, h: &VnetHdr, frame: &[u8]) -> Result<(), String> {
        let hb = h.to_bytes();
        self.send_on(&self.vnet, &[&hb[..PKT_VNET_LEN], frame])
    }
}
