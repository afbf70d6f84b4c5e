//! Capture on the host TAP (AF_PACKET with `PACKET_VNET_HDR`, so GSO frames show as such):
//! what the device put on the "wire" side. Summaries only — frame sizes against the MTU,
//! checksums of fully checksummed frames, TCP segment / UDP datagram counts.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use testbed::tap::{gso, hdr_flags, VnetHdr};
use testbed::NetNs;

use crate::pkt::{self, IpVer, PROTO_TCP, PROTO_UDP};
use crate::traffic::{spawn_in, Res};

/// Which frames to look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Frames the device wrote into the TAP (guest → host).
    FromDevice,
    /// Frames the host sends to the device.
    ToDevice,
}

/// Capture counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSnap {
    /// Frames.
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
    /// GSO frames (vnet header gso_type ≠ NONE).
    pub gso: u64,
    /// Largest frame.
    pub max_len: u64,
    /// Non-GSO frames longer than MTU + Ethernet header.
    pub over_mtu: u64,
    /// Frames with a partial checksum (NEEDS_CSUM: checksummed later by the host stack).
    pub partial: u64,
    /// Fully checksummed IPv4 TCP/UDP frames whose IP or L4 checksum is wrong.
    pub bad_csum: u64,
    /// Fully checksummed frames verified.
    pub good_csum: u64,
    /// TCP segments with payload (a GSO frame counts its segments).
    pub tcp_segments: u64,
    /// UDP datagrams / fragments (a USO frame counts its segments).
    pub udp_frames: u64,
    /// Frames the kernel dropped because the capture socket's buffer was full (`tp_drops`):
    /// when non-zero, the counts above are short by that many frames.
    pub drops: u64,
}

#[derive(Default)]
struct Cnt {
    frames: AtomicU64,
    bytes: AtomicU64,
    gso: AtomicU64,
    max_len: AtomicU64,
    over_mtu: AtomicU64,
    partial: AtomicU64,
    bad_csum: AtomicU64,
    good_csum: AtomicU64,
    tcp_segments: AtomicU64,
    udp_frames: AtomicU64,
    drops: AtomicU64,
}

/// A running capture (stops on drop).
pub struct Capture {
    stop: Arc<AtomicBool>,
    c: Arc<Cnt>,
    t: Option<JoinHandle<Res<Res<()>>>>,
}

const ETH_P_ALL: u16 = 0x0003;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_OUTGOING: u8 = 4;
/// Packet sockets prepend the 10-byte `struct virtio_net_hdr` (no `num_buffers`).
const PKT_VNET_LEN: usize = 10;

fn pkt_vnet_hdr(b: &[u8]) -> VnetHdr {
    let mut full = [0u8; 12];
    full[..PKT_VNET_LEN].copy_from_slice(&b[..PKT_VNET_LEN]);
    VnetHdr::from_bytes(&full).unwrap_or_default()
}

impl Capture {
    /// Starts capturing on `dev` in `ns`; `mtu` is the L3 MTU for the oversize count.
    pub fn start(ns: &NetNs, dev: &str, dir: Dir, mtu: usize) -> Res<Capture> {
        let stop = Arc::new(AtomicBool::new(false));
        let c = Arc::new(Cnt::default());
        let (tx, rx) = std::sync::mpsc::channel::<Res<()>>();
        let dev = dev.to_string();
        let t = {
            let stop = stop.clone();
            let c = c.clone();
            spawn_in(ns, "capture", move || -> Res<()> {
                let s = match open(&dev, true) {
                    Ok(s) => {
                        let _ = tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                run(&s, &stop, &c, dir, mtu);
                Ok(())
            })?
        };
        rx.recv_timeout(Duration::from_secs(10))
            .map_err(|_| "capture did not start".to_string())??;
        Ok(Capture {
            stop,
            c,
            t: Some(t),
        })
    }

    /// Counters so far.
    pub fn snapshot(&self) -> CapSnap {
        let c = &self.c;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CapSnap {
            frames: l(&c.frames),
            bytes: l(&c.bytes),
            gso: l(&c.gso),
            max_len: l(&c.max_len),
            over_mtu: l(&c.over_mtu),
            partial: l(&c.partial),
            bad_csum: l(&c.bad_csum),
            good_csum: l(&c.good_csum),
            tcp_segments: l(&c.tcp_segments),
            udp_frames: l(&c.udp_frames),
            drops: l(&c.drops),
        }
    }

    /// Stops and returns the final counters.
    pub fn stop(mut self) -> CapSnap {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.t.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

fn open(dev: &str, vnet: bool) -> Res<OwnedFd> {
    let name = std::ffi::CString::new(dev).map_err(|e| e.to_string())?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        return Err(format!("no interface {dev}"));
    }
    // SAFETY: socket() with constant arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        )
    };
    if fd < 0 {
        return Err(format!("AF_PACKET: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor we own.
    let s = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = libc::c_int::from(vnet);
    // SAFETY: setsockopt with a live int.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_VNET_HDR,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    let big: libc::c_int = 64 << 20;
    // SAFETY: as above.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&big as *const libc::c_int).cast(),
            4,
        )
    };
    // SAFETY: sockaddr_ll is plain data; zero is a valid start.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ETH_P_ALL.to_be();
    sa.sll_ifindex = idx as i32;
    // SAFETY: bind with a live sockaddr_ll of its size.
    let r = unsafe {
        libc::bind(
            s.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r != 0 {
        return Err(format!(
            "bind AF_PACKET: {}",
            std::io::Error::last_os_error()
        ));
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: setsockopt with a live timeval.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    Ok(s)
}

/// Adds the socket's `tp_drops` since the last call (PACKET_STATISTICS resets on read).
fn add_drops(s: &OwnedFd, c: &Cnt) {
    // SAFETY: tpacket_stats is plain data; zero is a valid start.
    let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as u32;
    // SAFETY: getsockopt into a live tpacket_stats of its size.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if r == 0 {
        c.drops.fetch_add(u64::from(st.tp_drops), Ordering::Relaxed);
    }
}

fn run(s: &OwnedFd, stop: &AtomicBool, c: &Cnt, dir: Dir, mtu: usize) {
    let mut buf = vec![0u8; PKT_VNET_LEN + 65536 + 64];
    // A loaded machine can leave the capture behind the traffic: after `stop`, what the socket
    // already holds is still counted (non-blocking reads until it is empty).
    let mut draining = false;
    loop {
        if !draining && stop.load(Ordering::SeqCst) {
            draining = true;
        }
        let flags = if draining { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: sockaddr_ll is plain data.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut sl = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: recvfrom into a live buffer with a live address out-parameter.
        let n = unsafe {
            libc::recvfrom(
                s.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
                (&mut sa as *mut libc::sockaddr_ll).cast(),
                &mut sl,
            )
        };
        if n < 0 {
            if draining {
                break;
            }
            continue;
        }
        let outgoing = sa.sll_pkttype == PACKET_OUTGOING;
        if outgoing != (dir == Dir::ToDevice) {
            continue;
        }
        let n = n as usize;
        if n < PKT_VNET_LEN {
            continue;
        }
        let h = pkt_vnet_hdr(&buf);
        account(c, &h, &buf[PKT_VNET_LEN..n], mtu);
    }
    add_drops(s, c);
}

fn account(c: &Cnt, h: &VnetHdr, f: &[u8], mtu: usize) {
    c.frames.fetch_add(1, Ordering::Relaxed);
    c.bytes.fetch_add(f.len() as u64, Ordering::Relaxed);
    c.max_len.fetch_max(f.len() as u64, Ordering::Relaxed);
    let is_gso = h.gso_type & !gso::ECN != gso::NONE;
    if is_gso {
        c.gso.fetch_add(1, Ordering::Relaxed);
    } else if f.len() > mtu + 14 {
        c.over_mtu.fetch_add(1, Ordering::Relaxed);
    }
    let partial = h.flags & hdr_flags::NEEDS_CSUM != 0;
    if partial {
        c.partial.fetch_add(1, Ordering::Relaxed);
    }
    let Some(p) = pkt::parse(f) else { return };
    let Some(ip) = p.ip else { return };
    let segs = |hl: usize| -> u64 {
        let payload = f.len().saturating_sub(hl);
        if payload == 0 {
            0
        } else if is_gso && h.gso_size > 0 {
            payload.div_ceil(usize::from(h.gso_size)) as u64
        } else {
            1
        }
    };
    match ip.proto {
        PROTO_TCP => {
            let thl = pkt::tcp_hlen(f, ip.l4).unwrap_or(20);
            c.tcp_segments
                .fetch_add(segs(ip.l4 + thl), Ordering::Relaxed);
        }
        PROTO_UDP => {
            let n = if ip.later_fragment {
                1
            } else {
                segs(ip.l4 + 8).max(1)
            };
            c.udp_frames.fetch_add(n, Ordering::Relaxed);
        }
        _ => {}
    }
    if !is_gso && !partial && matches!(ip.proto, PROTO_TCP | PROTO_UDP) && !ip.fragment {
        let ip_ok = ip.ver == IpVer::V6 || pkt::ipv4_header_ok(f, p.l3, ip.hlen);
        if ip_ok && pkt::l4_ok(f, &ip) {
            c.good_csum.fetch_add(1, Ordering::Relaxed);
        } else {
            c.bad_csum.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends raw frames out of `dev` in `ns` (AF_PACKET): for a TAP they go to its reader — QEMU —
/// exactly as written (no checksum fix-ups), i.e. they reach the device's receive path.
pub fn inject(ns: &NetNs, dev: &str, frames: Vec<Vec<u8>>) -> Res<usize> {
    let dev = dev.to_string();
    let h = spawn_in(ns, "inject", move || -> Res<usize> {
        let s = open(&dev, false)?;
        let mut n = 0;
        for f in &frames {
            // SAFETY: send from a live buffer on our bound AF_PACKET socket.
            let r = unsafe { libc::send(s.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
            if r < 0 {
                return Err(format!("inject: {}", std::io::Error::last_os_error()));
            }
            n += 1;
        }
        Ok(n)
    })?;
    h.join()
        .map_err(|_| "inject thread panicked".to_string())??
}
