//! Traffic in the namespaces: an in-process TCP stream with content hashes, a lossless
//! (window-paced) UDP datagram transfer with exact counts — optionally sent with
//! `UDP_SEGMENT` (GSO) —, iperf3 runs, ping.
//!
//! Sockets are made on threads that entered the namespace (`setns`), so they belong to it; the
//! threads themselves stay in this process and report through channels and atomics.

use std::io::{Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testbed::NetNs;

/// Result type.
pub type Res<T> = Result<T, String>;

/// Runs `f` on a new thread inside network namespace `ns` (by its `/run/netns` path).
pub fn spawn_in<T: Send + 'static>(
    ns: &NetNs,
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Res<JoinHandle<Res<T>>> {
    let path = ns.path();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let file =
                std::fs::File::open(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
            // SAFETY: setns on an open netns descriptor; affects only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            Ok(f())
        })
        .map_err(|e| format!("spawn {name}: {e}"))
}

fn join<T>(h: JoinHandle<Res<T>>, what: &str) -> Res<T> {
    h.join().map_err(|_| format!("{what} thread panicked"))?
}

/// Streaming FNV-1a (64 bit): boundary-independent, so sender and receiver agree however the
/// stream was cut.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut h = self.0;
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The byte pattern streams are made of: a pseudo-random period of 1 MiB + 7 bytes (not a
/// multiple of any buffer or segment size, so a misplaced segment changes the hash).
pub fn pattern() -> Arc<Vec<u8>> {
    let mut v = Vec::with_capacity((1 << 20) + 7);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while v.len() < (1 << 20) + 7 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x >> 24) as u8);
    }
    Arc::new(v)
}

/// One TCP transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamResult {
    /// Bytes the sender wrote.
    pub sent: u64,
    /// Bytes the receiver read.
    pub received: u64,
    /// Hash of what was sent.
    pub sent_hash: u64,
    /// Hash of what was received.
    pub recv_hash: u64,
    /// Receiver time from the first byte to EOF.
    pub secs: f64,
}

impl StreamResult {
    /// Receiver throughput in Gbit/s.
    pub fn gbps(&self) -> f64 {
        if self.secs > 0.0 {
            self.received as f64 * 8.0 / self.secs / 1e9
        } else {
            0.0
        }
    }
    /// Everything arrived, in order, unchanged.
    pub fn intact(&self) -> bool {
        self.sent == self.received && self.sent_hash == self.recv_hash
    }
}

/// Sends `bytes` over TCP from namespace `from` to `to_ip:port` (listening in `to`), hashing
/// both ends. Gives up after `timeout`.
pub fn tcp_transfer(
    from: &NetNs,
    to: &NetNs,
    to_ip: impl Into<IpAddr>,
    port: u16,
    bytes: u64,
    timeout: Duration,
) -> Res<StreamResult> {
    let to_ip: IpAddr = to_ip.into();
    let pat = pattern();
    let (ready_tx, ready_rx) = mpsc::channel::<Res<()>>();
    let rx = spawn_in(to, "tcp-recv", move || -> Res<(u64, u64, f64)> {
        let any: IpAddr = if to_ip.is_ipv6() {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let l = TcpListener::bind(SocketAddr::new(any, port)).map_err(|e| format!("bind: {e}"));
        let l = match l {
            Ok(l) => {
                let _ = ready_tx.send(Ok(()));
                l
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.clone()));
                return Err(e);
            }
        };
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        let (mut s, _) = loop {
            match l.accept() {
                Ok(x) => break x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Err("accept timed out".into());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        };
        s.set_nonblocking(false).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut h = Fnv::default();
        let mut n = 0u64;
        let mut first: Option<Instant> = None;
        loop {
            if Instant::now() > deadline {
                return Err(format!("receive timed out after {n} bytes"));
            }
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    first.get_or_insert_with(Instant::now);
                    h.update(&buf[..k]);
                    n += k as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read after {n} bytes: {e}")),
            }
        }
        let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
        Ok((n, h.0, secs))
    })?;
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "receiver did not start".to_string())??;
    let tx = spawn_in(from, "tcp-send", move || -> Res<(u64, u64)> {
        let addr = SocketAddr::new(to_ip, port);
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut h = Fnv::default();
        let mut left = bytes;
        let mut pos = 0usize;
        while left > 0 {
            let k = (64 * 1024).min(left as usize).min(pat.len() - pos);
            let chunk = &pat[pos..pos + k];
            s.write_all(chunk)
                .map_err(|e| format!("write after {} bytes: {e}", bytes - left))?;
            h.update(chunk);
            left -= k as u64;
            pos = (pos + k) % pat.len();
        }
        s.shutdown(std::net::Shutdown::Write)
            .map_err(|e| e.to_string())?;
        // Wait for the receiver's close so nothing is cut short.
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
        Ok((bytes, h.0))
    })?;
    let (sent, sent_hash) = join(tx, "sender")??;
    let (received, recv_hash, secs) = join(rx, "receiver")??;
    Ok(StreamResult {
        sent,
        received,
        sent_hash,
        recv_hash,
        secs,
    })
}

/// One UDP transfer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UdpResult {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received (each of the expected size and content).
    pub received: u64,
    /// Datagrams received with a wrong size or content.
    pub bad: u64,
    /// Sizes of the first wrong datagrams.
    pub bad_sizes: Vec<usize>,
    /// Duplicates (a sequence number seen twice).
    pub duplicates: u64,
    /// Sender time.
    pub secs: f64,
    /// `sendmsg` calls.
    pub sends: u64,
    /// Sends refused with ENOBUFS (the guest TAP's queue was full) and retried.
    pub enobufs: u64,
    /// Times the sender waited for the receiver (pacing window full).
    pub paced: u64,
}

impl UdpResult {
    /// Payload throughput in Gbit/s.
    pub fn gbps(&self, size: usize) -> f64 {
        if self.secs > 0.0 {
            self.received as f64 * size as f64 * 8.0 / self.secs / 1e9
        } else {
            0.0
        }
    }
}

/// `SOL_UDP`.
const SOL_UDP: libc::c_int = 17;
/// `UDP_SEGMENT` (linux/udp.h).
const UDP_SEGMENT: libc::c_int = 103;

fn fill_datagram(buf: &mut [u8], seq: u64) {
    let n = buf.len();
    if n >= 8 {
        buf[..8].copy_from_slice(&seq.to_le_bytes());
    }
    for (j, b) in buf.iter_mut().enumerate().skip(8) {
        *b = (seq as usize).wrapping_mul(131).wrapping_add(j) as u8;
    }
}

fn check_datagram(buf: &[u8], size: usize) -> Option<u64> {
    if buf.len() != size || size < 8 {
        return None;
    }
    let seq = u64::from_le_bytes(buf[..8].try_into().ok()?);
    let ok = |j: usize| buf[j] == (seq as usize).wrapping_mul(131).wrapping_add(j) as u8;
    [8, size / 2, size - 1]
        .into_iter()
        .filter(|&j| j >= 8)
        .all(ok)
        .then_some(seq)
}

fn set_int(fd: i32, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> Res<()> {
    // SAFETY: setsockopt with a pointer to a live int of the given size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(format!(
            "setsockopt({level},{opt}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// How to send a UDP transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpSpec {
    /// Datagram payload size.
    pub size: usize,
    /// Datagrams to send (`None`: send for `duration`).
    pub count: Option<u64>,
    /// Send time when `count` is `None`.
    pub duration: Duration,
    /// `UDP_SEGMENT` with this many datagrams per `sendmsg` (None: one datagram per send).
    pub gso_segments: Option<usize>,
    /// Most datagrams in flight (sent, not yet received): keeps the transfer lossless.
    pub window: u64,
}

impl UdpSpec {
    /// `count` datagrams of `size` bytes, one per send. At most ~1 MiB in flight: more would
    /// overflow the guest TAP's queue (1000 frames; a 65507-byte datagram is 45 fragments) or
    /// the host's fragment reassembly memory — losses that are nobody's datapath's.
    pub fn count(size: usize, count: u64) -> Self {
        UdpSpec {
            size,
            count: Some(count),
            duration: Duration::from_secs(3600),
            gso_segments: None,
            window: ((1 << 20) / size.max(1)).clamp(8, 256) as u64,
        }
    }
    /// Sends with `UDP_SEGMENT`, `segs` datagrams per call.
    pub fn gso(mut self, segs: usize) -> Self {
        self.gso_segments = Some(segs);
        self
    }
}

/// Sends datagrams from `from` to `to_ip:port` (received in `to`), lossless by pacing on the
/// receiver's count, and counts exactly what arrived.
pub fn udp_transfer(
    from: &NetNs,
    to: &NetNs,
    to_ip: Ipv4Addr,
    port: u16,
    spec: UdpSpec,
) -> Res<UdpResult> {
    let got = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<Res<()>>();
    let size = spec.size;
    let rx = {
        let got = got.clone();
        let done = done.clone();
        spawn_in(to, "udp-recv", move || -> Res<(u64, Vec<usize>, u64)> {
            let s = match UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("bind: {e}")));
                    return Err(format!("bind: {e}"));
                }
            };
            let _ = set_int(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                32 << 20,
            );
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .map_err(|e| e.to_string())?;
            let _ = ready_tx.send(Ok(()));
            // recvmmsg: up to BATCH datagrams per system call, so the receiver is never
            // what bounds the transfer.
            const BATCH: usize = 64;
            let slot = size.max(1) + 64;
            let mut buf = vec![0u8; BATCH * slot];
            let mut bad = 0u64;
            let mut bad_sizes = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut dups = 0u64;
            let mut idle_since: Option<Instant> = None;
            loop {
                let mut iov: Vec<libc::iovec> = buf
                    .chunks_mut(slot)
                    .map(|c| libc::iovec {
                        iov_base: c.as_mut_ptr().cast(),
                        iov_len: c.len(),
                    })
                    .collect();
                // SAFETY: mmsghdr is plain data; zero is a valid start, filled below.
                let mut msgs: Vec<libc::mmsghdr> =
                    (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
                for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
                    m.msg_hdr.msg_iov = v;
                    m.msg_hdr.msg_iovlen = 1;
                }
                // SAFETY: recvmmsg into BATCH live message headers, each pointing at its own
                // live iovec over a distinct chunk of `buf`.
                let n = unsafe {
                    libc::recvmmsg(
                        s.as_raw_fd(),
                        msgs.as_mut_ptr(),
                        BATCH as u32,
                        libc::MSG_WAITFORONE,
                        std::ptr::null_mut(),
                    )
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) {
                        if done.load(Ordering::Acquire) {
                            let t = idle_since.get_or_insert_with(Instant::now);
                            if t.elapsed() > Duration::from_secs(2) {
                                break;
                            }
                        }
                        continue;
                    }
                    return Err(format!("recvmmsg: {e}"));
                }
                idle_since = None;
                let mut ok = 0u64;
                for (i, m) in msgs.iter().take(n as usize).enumerate() {
                    let len = m.msg_len as usize;
                    let d = &buf[i * slot..i * slot + len.min(slot)];
                    match check_datagram(d, size) {
                        Some(seq) => {
                            if !seen.insert(seq) {
                                dups += 1;
                            }
                            ok += 1;
                        }
                        None => {
                            bad += 1;
                            if bad_sizes.len() < 8 {
                                bad_sizes.push(len);
                            }
                        }
                    }
                }
                got.fetch_add(ok, Ordering::Release);
            }
            Ok((bad, bad_sizes, dups))
        })?
    };
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "receiver did not start".to_string())??;
    let tx = {
        let got = got.clone();
        let done = done.clone();
        spawn_in(
            from,
            "udp-send",
            move || -> Res<(u64, u64, f64, u64, u64)> {
                let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                    .map_err(|e| format!("bind: {e}"))?;
                s.connect(SocketAddrV4::new(to_ip, port))
                    .map_err(|e| format!("connect: {e}"))?;
                let segs = spec.gso_segments.unwrap_or(1).max(1);
                if spec.gso_segments.is_some() {
                    set_int(
                        s.as_raw_fd(),
                        SOL_UDP,
                        UDP_SEGMENT,
                        spec.size as libc::c_int,
                    )?;
                }
                let _ = set_int(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUFFORCE,
                    8 << 20,
                );
                let mut buf = vec![0u8; spec.size * segs];
                let start = Instant::now();
                let mut seq = 0u64;
                let mut sends = 0u64;
                let mut enobufs = 0u64;
                let mut paced = 0u64;
                let mut presumed_lost = 0u64;
                let mut last_got = 0u64;
                let mut progress = Instant::now();
                let limit = spec.count.unwrap_or(u64::MAX);
                let mut stall = Instant::now();
                while seq < limit && start.elapsed() < spec.duration {
                    // Pace: never more than `window` datagrams ahead of the receiver — and only one
                    // until the first arrived (the neighbour entry is resolved then; the kernel's
                    // unresolved-neighbour queue would otherwise drop a burst).
                    let have = got.load(Ordering::Acquire);
                    if have != last_got {
                        last_got = have;
                        progress = Instant::now();
                    }
                    // Datagrams lost on the way would hold the window shut for good: after
                    // 50 ms without progress the ones in flight are presumed lost.
                    if seq > have + presumed_lost && progress.elapsed() > Duration::from_millis(50)
                    {
                        presumed_lost = seq - have;
                        progress = Instant::now();
                    }
                    let inflight = seq - have - presumed_lost.min(seq - have);
                    let window = if have == 0 {
                        1
                    } else {
                        spec.window.max(segs as u64)
                    };
                    if seq > 0 && inflight + segs as u64 > window {
                        if stall.elapsed() > Duration::from_secs(5) {
                            break;
                        }
                        paced += 1;
                        std::thread::yield_now();
                        continue;
                    }
                    stall = Instant::now();
                    let k = (limit - seq).min(segs as u64) as usize;
                    for i in 0..k {
                        fill_datagram(&mut buf[i * spec.size..(i + 1) * spec.size], seq + i as u64);
                    }
                    match s.send(&buf[..k * spec.size]) {
                        Ok(_) => {
                            seq += k as u64;
                            sends += 1;
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            enobufs += 1;
                            std::thread::sleep(Duration::from_micros(50));
                        }
                        Err(e) => {
                            done.store(true, Ordering::Release);
                            return Err(format!("send #{seq}: {e}"));
                        }
                    }
                }
                // Wait for the tail (bounded); the time counts until the last datagram arrived.
                let t = Instant::now();
                let mut last = (got.load(Ordering::Acquire), Instant::now());
                while got.load(Ordering::Acquire) < seq && t.elapsed() < Duration::from_secs(3) {
                    std::thread::sleep(Duration::from_millis(1));
                    let g = got.load(Ordering::Acquire);
                    if g != last.0 {
                        last = (g, Instant::now());
                    }
                }
                let secs = last.1.duration_since(start).as_secs_f64();
                done.store(true, Ordering::Release);
                Ok((seq, sends, secs, enobufs, paced))
            },
        )?
    };
    let (sent, sends, secs, enobufs, paced) = join(tx, "sender")??;
    let (bad, bad_sizes, duplicates) = join(rx, "receiver")??;
    Ok(UdpResult {
        sent,
        received: got.load(Ordering::Acquire),
        bad,
        bad_sizes,
        duplicates,
        secs,
        sends,
        enobufs,
        paced,
    })
}

/// iperf3's summary of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IperfResult {
    /// Receiver-side throughput (bit/s).
    pub bps: f64,
    /// Sender-side throughput (bit/s).
    pub sender_bps: f64,
    /// TCP retransmits (sender).
    pub retransmits: u64,
    /// UDP: datagrams (sender count).
    pub packets: u64,
    /// UDP: lost datagrams.
    pub lost: u64,
    /// Client host CPU (%).
    pub cpu_client: f64,
    /// Server host CPU (%).
    pub cpu_server: f64,
}

fn listening(ns: &NetNs, port: u16) -> bool {
    // iperf3 listens on `::` (dual stack) unless told otherwise: look in tcp and tcp6.
    let hex = format!(":{port:04X}");
    ns.run_in(|| {
        ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .any(|t| {
                t.lines().any(|l| {
                    let mut w = l.split_whitespace();
                    let local = w.nth(1);
                    let state = w.nth(1);
                    local.is_some_and(|a| a.ends_with(&hex)) && state == Some("0A")
                })
            })
    })
    .unwrap_or(false)
}

/// Runs `iperf3 -s -1` in `server` and `iperf3 -c` with `args` in `client` for `secs`.
pub fn iperf3(
    server: &NetNs,
    client: &NetNs,
    server_ip: Ipv4Addr,
    port: u16,
    secs: u32,
    args: &[&str],
) -> Res<IperfResult> {
    let mut s = Command::new("iperf3");
    s.args(["-s", "-1", "-J", "-p", &port.to_string()]);
    let mut srv = server.spawn(s).map_err(|e| format!("iperf3 -s: {e}"))?;
    let t = Instant::now();
    while !listening(server, port) {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = srv.kill();
            return Err("iperf3 server did not listen".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Command::new("iperf3");
    c.args([
        "-c",
        &server_ip.to_string(),
        "-p",
        &port.to_string(),
        "-J",
        "-t",
        &secs.to_string(),
    ]);
    c.args(args);
    let out = client
        .run(c, Duration::from_secs(u64::from(secs) + 30))
        .map_err(|e| format!("iperf3 -c: {e}"))?;
    let _ = srv.finish(Duration::from_secs(5));
    let text = out.stdout.clone();
    parse_iperf(&text)
}

/// Parses iperf3's `-J` output.
pub fn parse_iperf(text: &str) -> Res<IperfResult> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("iperf3 JSON: {e}: {text:.300}"))?;
    if let Some(e) = v["error"].as_str() {
        return Err(format!("iperf3: {e}"));
    }
    let end = &v["end"];
    let f = |x: &serde_json::Value| x.as_f64().unwrap_or(0.0);
    let u = |x: &serde_json::Value| x.as_u64().unwrap_or(0);
    let mut r = IperfResult {
        cpu_client: f(&end["cpu_utilization_percent"]["host_total"]),
        cpu_server: f(&end["cpu_utilization_percent"]["remote_total"]),
        ..IperfResult::default()
    };
    let udp = end["sum"]["jitter_ms"].is_number() || end["sum_sent"]["jitter_ms"].is_number();
    if !udp {
        r.bps = f(&end["sum_received"]["bits_per_second"]);
        r.sender_bps = f(&end["sum_sent"]["bits_per_second"]);
        r.retransmits = u(&end["sum_sent"]["retransmits"]);
    } else {
        // UDP (iperf3 ≥ 3.11 has sum_sent/sum_received; older ones only `sum`, the sender's
        // view with the server's loss figures).
        let sent = if end["sum_sent"].is_object() {
            &end["sum_sent"]
        } else {
            &end["sum"]
        };
        r.sender_bps = f(&sent["bits_per_second"]);
        r.packets = u(&sent["packets"]);
        if end["sum_received"].is_object() {
            r.bps = f(&end["sum_received"]["bits_per_second"]);
            r.lost = u(&end["sum_received"]["lost_packets"]);
        } else {
            r.lost = u(&end["sum"]["lost_packets"]);
            r.bps = if r.packets > 0 {
                r.sender_bps * (r.packets - r.lost.min(r.packets)) as f64 / r.packets as f64
            } else {
                0.0
            };
        }
    }
    Ok(r)
}

/// `ping -c count` from `ns` to `ip`: replies received.
pub fn ping(ns: &NetNs, ip: Ipv4Addr, count: u32) -> Res<u32> {
    let mut c = Command::new("ping");
    c.args([
        "-c",
        &count.to_string(),
        "-i",
        "0.2",
        "-W",
        "2",
        &ip.to_string(),
    ]);
    let out = ns
        .run(c, Duration::from_secs(u64::from(count) + 10))
        .map_err(|e| format!("ping: {e}"))?;
    let text = &out.stdout;
    Ok(parse_ping_received(text).unwrap_or(0))
}

/// `N received` from ping's summary line.
pub fn parse_ping_received(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.contains("received"))?;
    let part = line.split(',').find(|p| p.contains("received"))?;
    part.split_whitespace().next()?.parse().ok()
}

/// The MAC of `dev` in `ns` (`ip link show`: sysfs would show the root namespace).
pub fn mac_of(ns: &NetNs, dev: &str) -> Res<String> {
    let out = ns
        .ip(&["link", "show", "dev", dev])
        .map_err(|e| format!("{e}"))?;
    let mut w = out.split_whitespace();
    while let Some(x) = w.next() {
        if x == "link/ether" {
            return w.next().map(str::to_string).ok_or("no MAC".into());
        }
    }
    Err(format!("no link/ether in {out:?}"))
}

/// The neighbour entry (MAC) for `ip` in `ns`, if resolved.
pub fn neighbour(ns: &NetNs, ip: Ipv4Addr) -> Option<String> {
    let out = ns.ip(&["neigh", "show", &ip.to_string()]).ok()?;
    let mut w = out.split_whitespace();
    while let Some(x) = w.next() {
        if x == "lladdr" {
            return w.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_does_not_depend_on_chunking() {
        let p = pattern();
        let mut a = Fnv::default();
        a.update(&p[..100_000]);
        let mut b = Fnv::default();
        for c in p[..100_000].chunks(1461) {
            b.update(c);
        }
        assert_eq!(a.0, b.0);
        let mut c = Fnv::default();
        let mut q = p[..100_000].to_vec();
        q.swap(5000, 6000);
        c.update(&q);
        assert_ne!(a.0, c.0, "reordered bytes change the hash");
    }

    #[test]
    fn datagram_content_checks_size_and_pattern() {
        let mut b = vec![0u8; 1472];
        fill_datagram(&mut b, 77);
        assert_eq!(check_datagram(&b, 1472), Some(77));
        assert_eq!(check_datagram(&b[..1000], 1472), None);
        b[1471] ^= 1;
        assert_eq!(check_datagram(&b, 1472), None);
    }

    #[test]
    fn iperf_json_summaries_parse() {
        let tcp = r#"{"end":{"sum_sent":{"bits_per_second":2.5e9,"retransmits":3},"sum_received":{"bits_per_second":2.4e9},"cpu_utilization_percent":{"host_total":50.0,"remote_total":20.0}}}"#;
        let r = parse_iperf(tcp).unwrap();
        assert_eq!((r.bps, r.retransmits, r.cpu_client), (2.4e9, 3, 50.0));
        let udp = r#"{"end":{"sum":{"bits_per_second":1e9,"jitter_ms":0.1,"packets":1000,"lost_packets":10}}}"#;
        let r = parse_iperf(udp).unwrap();
        assert_eq!((r.packets, r.lost), (1000, 10));
        assert!((r.bps - 0.99e9).abs() < 1.0);
        // iperf3 3.12 (this machine): sum_sent / sum_received.
        let udp = r#"{"end":{"sum":{"bits_per_second":1e9,"jitter_ms":0.1,"packets":1000,"lost_packets":10},"sum_sent":{"bits_per_second":1e9,"jitter_ms":0,"packets":1000,"lost_packets":0},"sum_received":{"bits_per_second":0.5e9,"jitter_ms":0.1,"packets":1000,"lost_packets":500}}}"#;
        let r = parse_iperf(udp).unwrap();
        assert_eq!((r.packets, r.lost, r.bps), (1000, 500, 0.5e9));
        assert!(parse_iperf(r#"{"error":"unable to connect"}"#).is_err());
    }

    #[test]
    fn ping_summary_parses() {
        let t = "5 packets transmitted, 4 received, 20% packet loss, time 801ms\n";
        assert_eq!(parse_ping_received(t), Some(4));
    }
}
