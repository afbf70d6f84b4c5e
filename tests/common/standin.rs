//! The Windows-stack stand-in's engine: two threads around the guest namespace's TAP.
//!
//! * **send thread** — waits (poll, no spinning) for frames the guest kernel transmits, reads a
//!   batch of up to [`TX_BATCH`], shapes each as Windows's stack would ([`shape::shape_tx`]) for
//!   the miniport's current offloads, hands the batch to the [`Port`] as one NBL chain and
//!   reaps completions.
//! * **receive thread** — the port pushes indicated NBLs into [`RxQueue`] (from the miniport's
//!   DPC, so that side only copies and queues); this thread verifies every claim
//!   ([`shape::rx_to_tap`]) and writes the frames to the TAP.
//!
//! The port is whatever sits between the stand-in and the virtio rings: the real miniport in
//! ndis-emu ([`crate::ndis_port::NdisPort`]) or the pass-through ceiling
//! ([`crate::passthrough::PassPort`]).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use testbed::tap::{VnetHdr, TUNSETOFFLOAD, VNET_HDR_LEN};
use testbed::GuestTap;

use crate::shape::{self, RxInfo, RxStats, RxVerdict, TxOffloads, TxStats, WinTx};

/// Frames read from the TAP per send batch (one NBL chain). Below a typical ring size so the
/// device never drains completely between batches (qemu-testbed recipe §11).
pub const TX_BATCH: usize = 64;
/// Indications queued for the TAP writer before new ones are dropped (and counted).
pub const RX_QUEUE_MAX: usize = 8192;
/// Frame lists kept for reuse once written to the TAP (a list keeps its buffers' capacity).
pub const RX_FREE_MAX: usize = 256;

/// The miniport side of the stand-in.
pub trait Port: Send + Sync + 'static {
    /// Sends `batch` (drained) as one chain. Counts what it could not send in `st`. Frame
    /// buffers it no longer needs go to `recycle` (the send thread reads the next frames into
    /// them: no allocation and no extra copy per frame).
    fn send(&self, batch: &mut Vec<WinTx>, st: &TxStats, recycle: &mut Vec<Vec<u8>>);
    /// Collects finished sends without blocking; returns how many are still outstanding.
    fn reap(&self, st: &TxStats) -> usize;
}

/// One indicated NBL: its NET_BUFFERs' frames and per-NBL info.
#[derive(Clone, Debug)]
pub struct RxItem {
    /// Frames (one per NET_BUFFER).
    pub frames: Vec<Vec<u8>>,
    /// Info.
    pub info: RxInfo,
    /// Emulated processor of the indication.
    pub cpu: u32,
}

struct RxQ {
    items: VecDeque<RxItem>,
    sleeping: bool,
}

/// Where a port delivers indications (cheap to call from a DPC: a lock, a push, rarely a wake).
pub struct RxQueue {
    q: Mutex<RxQ>,
    /// Written frame lists for the next indications ([`RxQueue::frame_list`]).
    free: Mutex<Vec<Vec<Vec<u8>>>>,
    cv: Condvar,
    stop: AtomicBool,
    /// Indications dropped because the queue was full.
    pub dropped: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RxQueue {
    fn new() -> Self {
        RxQueue {
            q: Mutex::new(RxQ {
                items: VecDeque::new(),
                sleeping: false,
            }),
            free: Mutex::new(Vec::new()),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues one indication.
    pub fn push(&self, item: RxItem) {
        let wake = {
            let mut g = lock(&self.q);
            if g.items.len() >= RX_QUEUE_MAX {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            g.items.push_back(item);
            std::mem::replace(&mut g.sleeping, false)
        };
        if wake {
            self.cv.notify_one();
        }
    }

    fn take(&self, out: &mut Vec<RxItem>) -> bool {
        let mut g = lock(&self.q);
        loop {
            if !g.items.is_empty() {
                out.extend(g.items.drain(..));
                return true;
            }
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            g.sleeping = true;
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(200))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A list to copy the next indication's frames into: one the writer is done with when
    /// there is one (its buffers are empty but keep their capacity: no allocation per frame),
    /// else a new one.
    pub fn frame_list(&self) -> Vec<Vec<u8>> {
        lock(&self.free).pop().unwrap_or_default()
    }

    /// Takes written frame lists back for reuse (beyond [`RX_FREE_MAX`] they are freed).
    fn recycle(&self, lists: &mut Vec<Vec<Vec<u8>>>) {
        for l in lists.iter_mut() {
            for b in l.iter_mut() {
                b.clear();
            }
        }
        let mut free = lock(&self.free);
        let room = RX_FREE_MAX.saturating_sub(free.len());
        free.extend(lists.drain(..).take(room));
        drop(free);
        lists.clear();
    }

    /// Indications waiting for the writer.
    pub fn len(&self) -> usize {
        lock(&self.q).items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Shared {
    fd: OwnedFd,
    stop_fd: OwnedFd,
    stop: AtomicBool,
    tx: TxStats,
    rx: RxStats,
    offloads: Mutex<TxOffloads>,
    mtu: AtomicUsize,
    errors: Mutex<Vec<String>>,
    /// Send-thread wakeups (poll returns): batching visibility for the bench.
    tx_wakeups: AtomicU64,
    /// Receive-thread wakeups.
    rx_wakeups: AtomicU64,
    /// Send-thread wall time by phase (ns): waiting for frames, reading + shaping, the port's
    /// send (the miniport's send handler runs here, on the caller's thread), reaping.
    tx_phase_ns: [AtomicU64; 4],
    /// Gets a copy of every indication as the miniport made it (before any fix-up).
    observer: Mutex<Option<std::sync::mpsc::Sender<RxItem>>>,
}

/// A running stand-in (stops on drop).
pub struct Standin {
    sh: Arc<Shared>,
    port: Arc<dyn Port>,
    rxq: Arc<RxQueue>,
    threads: Vec<JoinHandle<()>>,
}

fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor the caller keeps open; the result is a new
    // descriptor we own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd with valid flags; the result is a new descriptor we own.
    let n = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn set_tun_offloads(fd: RawFd, flags: u32) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its flags by value.
    if unsafe { libc::ioctl(fd, TUNSETOFFLOAD, flags as libc::c_ulong) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Standin {
    /// Starts the stand-in on `tap` (its descriptor is duplicated; the TAP itself stays with
    /// the testbed) with `port` and the initial offloads; `mtu` is the guest TAP's L3 MTU.
    /// Returns the stand-in and the queue the port must push indications into.
    pub fn start(
        tap: &GuestTap,
        port: Arc<dyn Port>,
        offloads: TxOffloads,
        mtu: usize,
    ) -> io::Result<Standin> {
        let sh = Arc::new(Shared {
            fd: dup(tap.as_raw_fd())?,
            stop_fd: eventfd()?,
            stop: AtomicBool::new(false),
            tx: TxStats::default(),
            rx: RxStats::default(),
            offloads: Mutex::new(offloads),
            mtu: AtomicUsize::new(mtu),
            errors: Mutex::new(Vec::new()),
            tx_wakeups: AtomicU64::new(0),
            rx_wakeups: AtomicU64::new(0),
            tx_phase_ns: Default::default(),
            observer: Mutex::new(None),
        });
        set_tun_offloads(sh.fd.as_raw_fd(), offloads.tun_flags())?;
        let rxq = Arc::new(RxQueue::new());
        let mut threads = Vec::new();
        {
            let sh = sh.clone();
            let port = port.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("standin-tx".into())
                    .spawn(move || tx_loop(&sh, &*port))?,
            );
        }
        {
            let sh = sh.clone();
            let q = rxq.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("standin-rx".into())
                    .spawn(move || rx_loop(&sh, &q))?,
            );
        }
        Ok(Standin {
            sh,
            port,
            rxq,
            threads,
        })
    }

    /// The queue ports push indications into.
    pub fn rx_queue(&self) -> Arc<RxQueue> {
        self.rxq.clone()
    }

    /// Applies new offloads: the guest TAP's `TUNSETOFFLOAD` and the shaping rules.
    pub fn set_offloads(&self, o: TxOffloads) -> io::Result<()> {
        *lock(&self.sh.offloads) = o;
        set_tun_offloads(self.sh.fd.as_raw_fd(), o.tun_flags())
    }

    /// Sends a copy of every indication, as the miniport made it, to `tx` from now on (`None`
    /// stops). For conformance suites that check per-NBL info and headers themselves.
    pub fn observe(&self, tx: Option<std::sync::mpsc::Sender<RxItem>>) {
        *lock(&self.sh.observer) = tx;
    }

    /// Offloads in use.
    pub fn offloads(&self) -> TxOffloads {
        *lock(&self.sh.offloads)
    }

    /// Changes the MTU used for the oversize count.
    pub fn set_mtu(&self, mtu: usize) {
        self.sh.mtu.store(mtu, Ordering::Relaxed);
    }

    /// Send counters.
    pub fn tx_stats(&self) -> shape::TxSnap {
        self.sh.tx.snapshot()
    }

    /// Receive counters.
    pub fn rx_stats(&self) -> shape::RxSnap {
        self.sh.rx.snapshot()
    }

    /// `(send-thread wakeups, receive-thread wakeups)`.
    pub fn wakeups(&self) -> (u64, u64) {
        (
            self.sh.tx_wakeups.load(Ordering::Relaxed),
            self.sh.rx_wakeups.load(Ordering::Relaxed),
        )
    }

    /// Send-thread wall time (ns) spent `[waiting, reading+shaping, sending, reaping]`.
    pub fn tx_phases(&self) -> [u64; 4] {
        std::array::from_fn(|i| self.sh.tx_phase_ns[i].load(Ordering::Relaxed))
    }

    /// Errors the threads recorded (a panic in the port, TAP errors).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.sh.errors).clone()
    }

    /// Collects completions that arrived after [`Standin::stop`] (e.g. during the final pause).
    pub fn reap_final(&self) {
        let _ =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.port.reap(&self.sh.tx)));
    }

    /// Stops both threads and waits for them.
    pub fn stop(&mut self) {
        self.sh.stop.store(true, Ordering::SeqCst);
        self.rxq.stop.store(true, Ordering::SeqCst);
        let one: u64 = 1;
        // SAFETY: an 8-byte write from a live u64 to our eventfd.
        unsafe { libc::write(self.sh.stop_fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        self.rxq.cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.stop();
    }
}

fn record(sh: &Shared, msg: String) {
    eprintln!("stand-in: {msg}");
    let mut e = lock(&sh.errors);
    if e.len() < 64 {
        e.push(msg);
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Waits until the TAP is readable or the stop event fires (or `ms` passes).
fn wait_readable(sh: &Shared, ms: i32) -> bool {
    let mut p = [
        libc::pollfd {
            fd: sh.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: sh.stop_fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: poll on two live pollfds.
    let n = unsafe { libc::poll(p.as_mut_ptr(), 2, ms) };
    n > 0 && p[0].revents & libc::POLLIN != 0
}

/// Largest frame a TAP can hand over (64 KiB GSO frame + Ethernet/VLAN slack).
const FRAME_CAP: usize = 65536 + 64;

/// Reads one `[vnet header | frame]` without blocking, the frame straight into `buf` (cleared
/// first; its length is the frame's afterwards). False when no frame is queued.
fn read_frame(fd: RawFd, hdr: &mut [u8; VNET_HDR_LEN], buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    buf.reserve(FRAME_CAP);
    let spare = buf.spare_capacity_mut();
    let cap = spare.len();
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: VNET_HDR_LEN,
        },
        libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: cap,
        },
    ];
    loop {
        // SAFETY: readv into two live, writable buffers described by `iov` (the second is the
        // vector's spare capacity; its bytes are exposed below only once the kernel wrote them).
        let n = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
        if n >= 0 {
            let len = (n as usize).saturating_sub(VNET_HDR_LEN).min(cap);
            // SAFETY: the kernel wrote `len` bytes at the start of the spare capacity.
            unsafe { buf.set_len(len) };
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

fn tx_loop(sh: &Shared, port: &dyn Port) {
    let mut hdr = [0u8; VNET_HDR_LEN];
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut batch: Vec<WinTx> = Vec::with_capacity(TX_BATCH * 2);
    let mut outstanding = 0usize;
    while !sh.stop.load(Ordering::SeqCst) {
        // With sends in flight, come back soon to reap their completions.
        let ms = if outstanding > 0 { 2 } else { 500 };
        let t0 = std::time::Instant::now();
        let readable = wait_readable(sh, ms);
        let t1 = std::time::Instant::now();
        sh.tx_phase_ns[0].fetch_add((t1 - t0).as_nanos() as u64, Ordering::Relaxed);
        sh.tx_wakeups.fetch_add(1, Ordering::Relaxed);
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        if readable {
            let off = *lock(&sh.offloads);
            let mut frames = 0;
            while frames < TX_BATCH {
                let mut buf = pool.pop().unwrap_or_default();
                match read_frame(sh.fd.as_raw_fd(), &mut hdr, &mut buf) {
                    Ok(true) => {
                        frames += 1;
                        sh.tx.tap_frames.fetch_add(1, Ordering::Relaxed);
                        sh.tx
                            .tap_bytes
                            .fetch_add(buf.len() as u64, Ordering::Relaxed);
                        let h = VnetHdr::from_bytes(&hdr).unwrap_or_default();
                        shape::shape_tx(&h, buf, &off, &mut batch, &sh.tx);
                    }
                    Ok(false) => {
                        pool.push(buf);
                        break;
                    }
                    Err(e) => {
                        record(sh, format!("TAP read: {e}"));
                        std::thread::sleep(Duration::from_millis(10));
                        break;
                    }
                }
            }
            let t2 = std::time::Instant::now();
            sh.tx_phase_ns[1].fetch_add((t2 - t1).as_nanos() as u64, Ordering::Relaxed);
            if !batch.is_empty() {
                sh.tx.nbls.fetch_add(batch.len() as u64, Ordering::Relaxed);
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    port.send(&mut batch, &sh.tx, &mut pool)
                }));
                // Keep a bounded number of 64 KiB buffers around.
                pool.truncate(2 * TX_BATCH);
                sh.tx_phase_ns[2].fetch_add(t2.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if let Err(p) = r {
                    record(sh, format!("send: {}", panic_text(&*p)));
                    batch.clear();
                    return;
                }
            }
        }
        let t3 = std::time::Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| port.reap(&sh.tx)));
        sh.tx_phase_ns[3].fetch_add(t3.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match r {
            Ok(n) => outstanding = n,
            Err(p) => {
                record(sh, format!("reap: {}", panic_text(&*p)));
                return;
            }
        }
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| port.reap(&sh.tx)));
}

fn write_frame(fd: RawFd, h: &VnetHdr, frame: &[u8]) -> io::Result<()> {
    let hb = h.to_bytes();
    let iov = [
        libc::iovec {
            iov_base: hb.as_ptr() as *mut libc::c_void,
            iov_len: hb.len(),
        },
        libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        },
    ];
    loop {
        // SAFETY: writev from two live buffers described by `iov`.
        let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn rx_loop(sh: &Shared, q: &RxQueue) {
    let mut items = Vec::new();
    let mut written = Vec::new();
    let mut order = shape::TcpOrder::default();
    while q.take(&mut items) {
        sh.rx_wakeups.fetch_add(1, Ordering::Relaxed);
        let mtu = sh.mtu.load(Ordering::Relaxed);
        let obs = lock(&sh.observer).clone();
        for mut it in items.drain(..) {
            if let Some(o) = &obs {
                let _ = o.send(it.clone());
            }
            sh.rx.nbls.fetch_add(1, Ordering::Relaxed);
            match it.cpu {
                0 => &sh.rx.on_cpu0,
                1 => &sh.rx.on_cpu1,
                _ => &sh.rx.on_cpu_other,
            }
            .fetch_add(1, Ordering::Relaxed);
            if it.info.receive_flags & shape::RECEIVE_FLAGS_RESOURCES != 0 {
                sh.rx.resources.fetch_add(1, Ordering::Relaxed);
            }
            let nbs = it.frames.len();
            for f in it.frames.iter_mut() {
                let RxVerdict::Deliver(h) = shape::rx_to_tap(f, &it.info, nbs, mtu, &sh.rx) else {
                    continue;
                };
                order.observe(f, &sh.rx);
                match write_frame(sh.fd.as_raw_fd(), &h, f) {
                    Ok(()) => {
                        sh.rx.tap_frames.fetch_add(1, Ordering::Relaxed);
                        if h.gso_type != 0 {
                            sh.rx.tap_gso.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        let n = sh.rx.tap_errors.fetch_add(1, Ordering::Relaxed);
                        if n < 4 {
                            record(sh, format!("TAP write of {} bytes ({h:?}): {e}", f.len()));
                        }
                    }
                }
            }
            written.push(it.frames);
        }
        q.recycle(&mut written);
    }
}
