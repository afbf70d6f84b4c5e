//! The bench's ceiling: a trivial pass-through in place of NDIS + miniport. It drives the QEMU
//! device with netkvm-virtio directly (modern transport, split rings, mergeable receive
//! buffers) and translates between the stand-in's Windows-shaped NBLs and virtio headers with
//! the least work a correct driver can do:
//!
//! * send: LSO/USO info → `GSO_TCPV4/6` / `GSO_UDP_L4` with the pseudo-header completed with
//!   the length; checksum requests → `NEEDS_CSUM`; IPv4 header checksums computed (virtio has
//!   no IP checksum offload); one descriptor per frame, copied into pre-mapped slots;
//! * receive: `DATA_VALID` → checksum succeeded; `NEEDS_CSUM` → checksum completed here and
//!   reported succeeded; GSO super-frames and `RSC_INFO` frames → SCUs with
//!   `CoalescedSegCount` (segments from the header, or payload / gso_size) and the IPv4 header
//!   checksum recomputed. No software RSC.
//!
//! The same stand-in, testbed and traffic run on top, so the ratio driver / ceiling isolates
//! what ndis-emu + netkvmrs cost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netkvm_virtio::hal::{BarIndex, DmaAllocError, DmaRegion, Hal, PciConfig};
use netkvm_virtio::queue::{Buffer, QueueConfig, SplitQueue};
use netkvm_virtio::{Features, PciTransport};
use testbed::tap::{gso, hdr_flags, VnetHdr, VNET_HDR_LEN};
use testbed::Machine;

use crate::pkt::{self, IpVer, PROTO_TCP, PROTO_UDP};
use crate::shape::{csum, lso, slot, uso, RxInfo, SegOffload, TxOffloads, TxStats, WinTx};
use crate::standin::{Port, RxItem, RxQueue};

/// The platform seam of netkvm-virtio over a testbed machine: registers through qtest
/// (writes posted, reads synchronous), DMA memory from guest RAM (a bump allocator: the
/// pass-through frees nothing before the machine goes away).
pub struct TbHal {
    m: Arc<Machine>,
    next: Mutex<u64>,
}

impl TbHal {
    fn new(m: Arc<Machine>) -> Arc<TbHal> {
        let start = m.ram().dma_range().start;
        Arc::new(TbHal {
            m,
            next: Mutex::new(start),
        })
    }

    fn base(&self, bar: BarIndex) -> u64 {
        self.m.bar(bar).map_or(0, |b| b.base)
    }
}

// SAFETY: register accesses go to the BAR's guest-physical range through qtest, one access per
// call, in program order (qtest executes commands in order; a synchronous read observes every
// posted write before it). DMA regions are disjoint page-aligned ranges of the shared guest
// RAM, which QEMU accesses at guest-physical address == offset; x86 is cache-coherent.
unsafe impl Hal for TbHal {
    fn bar_len(&self, bar: BarIndex) -> Option<u64> {
        self.m.bar(bar).filter(|b| b.is_memory()).map(|b| b.len)
    }
    unsafe fn read8(&self, bar: BarIndex, offset: u64) -> u8 {
        self.m.mmio_read8(self.base(bar) + offset).unwrap_or(0xFF)
    }
    unsafe fn read16(&self, bar: BarIndex, offset: u64) -> u16 {
        self.m
            .mmio_read16(self.base(bar) + offset)
            .unwrap_or(0xFFFF)
    }
    unsafe fn read32(&self, bar: BarIndex, offset: u64) -> u32 {
        self.m.mmio_read32(self.base(bar) + offset).unwrap_or(!0)
    }
    unsafe fn write8(&self, bar: BarIndex, offset: u64, value: u8) {
        let _ = self.m.mmio_post8(self.base(bar) + offset, value);
    }
    unsafe fn write16(&self, bar: BarIndex, offset: u64, value: u16) {
        let _ = self.m.mmio_post16(self.base(bar) + offset, value);
    }
    unsafe fn write32(&self, bar: BarIndex, offset: u64, value: u32) {
        let _ = self.m.mmio_post32(self.base(bar) + offset, value);
    }
    fn dma_alloc(&self, len: usize) -> Result<DmaRegion, DmaAllocError> {
        let len = len.max(1).div_ceil(4096) * 4096;
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let pa = *next;
        let end = self.m.ram().dma_range().end;
        if pa + len as u64 > end {
            return Err(DmaAllocError { len });
        }
        let va = self
            .m
            .ram()
            .ptr(pa, len as u64)
            .and_then(std::ptr::NonNull::new)
            .ok_or(DmaAllocError { len })?;
        *next = pa + len as u64;
        Ok(DmaRegion {
            vaddr: va,
            paddr: pa,
            len,
        })
    }
    unsafe fn dma_free(&self, _region: DmaRegion) {}
    fn stall_us(&self, us: u32) {
        std::thread::sleep(Duration::from_micros(u64::from(us)));
    }
}

struct TbPci(Arc<Machine>);

impl PciConfig for TbPci {
    fn read8(&self, offset: u16) -> u8 {
        self.0.pci_read8(offset).unwrap_or(0xFF)
    }
    fn read16(&self, offset: u16) -> u16 {
        self.0.pci_read16(offset).unwrap_or(0xFFFF)
    }
    fn read32(&self, offset: u16) -> u32 {
        self.0.pci_read32(offset).unwrap_or(!0)
    }
    fn write8(&self, offset: u16, value: u8) {
        let _ = self.0.pci_write8(offset, value);
    }
}

/// Pass-through counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Frames put on the TX ring.
    pub tx_frames: u64,
    /// TX notifications sent.
    pub tx_kicks: u64,
    /// Frames assembled from the RX ring.
    pub rx_frames: u64,
    /// RX refill notifications.
    pub rx_kicks: u64,
    /// Frames dropped as malformed (bad header / buffer count).
    pub rx_bad: u64,
    /// Times the send side waited for ring space.
    pub tx_full_waits: u64,
}

#[derive(Default)]
struct Counters {
    tx_frames: AtomicU64,
    tx_kicks: AtomicU64,
    rx_frames: AtomicU64,
    rx_kicks: AtomicU64,
    rx_bad: AtomicU64,
    tx_full_waits: AtomicU64,
}

const RX_BUF: usize = 4096;
const TX_SLOT: usize = 65536 + 4096;
const RX_VECTOR: u16 = 1;
const TX_VECTOR: u16 = 2;

struct Tx {
    q: SplitQueue<Arc<TbHal>, u16>,
    slots: DmaRegion,
    free: Vec<u16>,
}

struct Rx {
    q: SplitQueue<Arc<TbHal>, u16>,
    bufs: DmaRegion,
    n: u16,
}

/// The pass-through as a stand-in [`Port`].
pub struct PassPort {
    m: Arc<Machine>,
    transport: Mutex<PciTransport<Arc<TbHal>>>,
    tx: Mutex<Tx>,
    rx: Mutex<Option<Rx>>,
    sink: Mutex<Option<Arc<RxQueue>>>,
    features: Features,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    c: Counters,
    mtu: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the pass-through asks for (the miniport's offload set, without control queue).
pub fn wanted() -> Features {
    Features::VERSION_1
        | Features::MAC
        | Features::STATUS
        | Features::MRG_RXBUF
        | Features::RING_EVENT_IDX
        | Features::CSUM
        | Features::GUEST_CSUM
        | Features::HOST_TSO4
        | Features::HOST_TSO6
        | Features::GUEST_TSO4
        | Features::GUEST_TSO6
        | Features::HOST_USO
        | Features::RSC_EXT
        | Features::MTU
}

impl PassPort {
    /// Brings the device up (reset, features, queues 0/1 with MSI-X vectors 1/2, RX buffers
    /// posted, DRIVER_OK) and starts the receive thread.
    pub fn start(m: Arc<Machine>, mtu: u32) -> Result<Arc<PassPort>, String> {
        let hal = TbHal::new(m.clone());
        let mut t = PciTransport::new(hal.clone(), &TbPci(m.clone()))
            .map_err(|e| format!("transport: {e:?}"))?;
        t.begin_init().map_err(|e| format!("reset: {e:?}"))?;
        let f = t
            .negotiate(wanted())
            .map_err(|e| format!("features: {e:?}"))?;
        let _ = t.set_config_vector(0);
        let qcfg = QueueConfig {
            max_size: 1024,
            indirect_max: 0,
            indirect_min: 2,
            event_idx: false,
        };
        // SAFETY: the queues live in `PassPort` until `stop`, which resets the device first.
        let rxq = unsafe { t.create_split_queue::<u16>(0, qcfg, Some(RX_VECTOR)) }
            .map_err(|e| format!("rx queue: {e:?}"))?;
        // SAFETY: as above.
        let txq = unsafe { t.create_split_queue::<u16>(1, qcfg, Some(TX_VECTOR)) }
            .map_err(|e| format!("tx queue: {e:?}"))?;
        let n_rx = rxq.size();
        let n_tx = txq.size();
        let bufs = hal
            .dma_alloc(usize::from(n_rx) * RX_BUF)
            .map_err(|_| "rx buffers")?;
        let slots = hal
            .dma_alloc(usize::from(n_tx) * TX_SLOT)
            .map_err(|_| "tx slots")?;
        let mut rx = Rx {
            q: rxq,
            bufs,
            n: n_rx,
        };
        for i in 0..n_rx {
            post_rx(&mut rx, i);
        }
        rx.q.publish();
        t.driver_ok();
        rx.q.notify();
        let p = Arc::new(PassPort {
            m,
            transport: Mutex::new(t),
            tx: Mutex::new(Tx {
                q: txq,
                slots,
                free: (0..n_tx).rev().collect(),
            }),
            rx: Mutex::new(Some(rx)),
            sink: Mutex::new(None),
            features: f,
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            c: Counters::default(),
            mtu,
        });
        let p2 = p.clone();
        let th = std::thread::Builder::new()
            .name("passthrough-rx".into())
            .spawn(move || p2.rx_loop())
            .map_err(|e| format!("rx thread: {e}"))?;
        *lock(&p.thread) = Some(th);
        Ok(p)
    }

    /// Negotiated features.
    pub fn features(&self) -> Features {
        self.features
    }

    /// What the pass-through offloads (for the stand-in): what the device negotiated.
    pub fn tx_offloads(&self) -> TxOffloads {
        let f = self.features;
        let csum = f.contains(Features::CSUM);
        let seg = |feat: Features| {
            (csum && f.contains(feat)).then_some(SegOffload {
                max_size: 62 * 1024,
                min_segs: 2,
                sub_mss_final: true,
            })
        };
        TxOffloads {
            ip4: true,
            tcp4: csum,
            udp4: csum,
            tcp6: csum,
            udp6: csum,
            lso4: seg(Features::HOST_TSO4),
            lso6: seg(Features::HOST_TSO6),
            lso1: None,
            uso4: seg(Features::HOST_USO),
            uso6: seg(Features::HOST_USO),
        }
    }

    /// Where indications go.
    pub fn connect_rx(&self, q: Arc<RxQueue>) {
        *lock(&self.sink) = Some(q);
    }

    /// Counters.
    pub fn stats(&self) -> PassStats {
        let c = &self.c;
        PassStats {
            tx_frames: c.tx_frames.load(Ordering::Relaxed),
            tx_kicks: c.tx_kicks.load(Ordering::Relaxed),
            rx_frames: c.rx_frames.load(Ordering::Relaxed),
            rx_kicks: c.rx_kicks.load(Ordering::Relaxed),
            rx_bad: c.rx_bad.load(Ordering::Relaxed),
            tx_full_waits: c.tx_full_waits.load(Ordering::Relaxed),
        }
    }

    /// Stops the receive thread and resets the device (the rings are no longer used).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        let _ = lock(&self.transport).reset();
    }

    fn rx_loop(&self) {
        let mut rx = match lock(&self.rx).take() {
            Some(r) => r,
            None => return,
        };
        let mut pending: Vec<(u16, u32)> = Vec::new();
        let mut items = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            let mut got = 0u32;
            let mut refill = 0u32;
            loop {
                match rx.q.pop_used() {
                    Ok(Some(u)) => {
                        got += 1;
                        pending.push((u.token, u.len));
                        if let Some(item) = self.assemble(&mut rx, &mut pending, &mut refill) {
                            items.push(item);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.c.rx_bad.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(10));
                        break;
                    }
                }
                if got >= 256 {
                    break;
                }
            }
            if refill > 0 && rx.q.publish() {
                rx.q.notify();
                self.c.rx_kicks.fetch_add(1, Ordering::Relaxed);
            }
            if !items.is_empty() {
                if let Some(q) = lock(&self.sink).clone() {
                    for it in items.drain(..) {
                        q.push(it);
                    }
                } else {
                    items.clear();
                }
            }
            if got == 0 {
                // Nothing: arm the interrupt, re-check, then wait for the doorbell.
                if rx.q.enable_interrupts() {
                    rx.q.disable_interrupts();
                    continue;
                }
                self.m.wait_interrupt(RX_VECTOR, Duration::from_millis(50));
                self.m.take_interrupt(RX_VECTOR);
                rx.q.disable_interrupts();
            }
        }
    }

    /// Builds a frame once all `num_buffers` of it arrived; reposts the buffers.
    fn assemble(
        &self,
        rx: &mut Rx,
        pending: &mut Vec<(u16, u32)>,
        refill: &mut u32,
    ) -> Option<RxItem> {
        let base = rx.bufs.vaddr.as_ptr();
        let first = pending[0];
        let read = |tok: u16, len: u32| -> &[u8] {
            let len = (len as usize).min(RX_BUF);
            let p = base.wrapping_add(usize::from(tok) * RX_BUF);
            // SAFETY: `p..p+len` lies inside buffer `tok` (RX_BUF bytes of the region), handed
            // back by the device (used) and not reposted yet.
            unsafe { std::slice::from_raw_parts(p, len) }
        };
        let h0 = read(first.0, first.1);
        let hdr = VnetHdr::from_bytes(h0).unwrap_or_default();
        let want = usize::from(hdr.num_buffers.max(1));
        if want > usize::from(rx.n) {
            self.c.rx_bad.fetch_add(1, Ordering::Relaxed);
            for (t, _) in pending.drain(..) {
                post_rx(rx, t);
                *refill += 1;
            }
            return None;
        }
        if pending.len() < want {
            return None;
        }
        let total: usize = pending.iter().map(|p| p.1 as usize).sum();
        let mut frame = Vec::with_capacity(total.saturating_sub(VNET_HDR_LEN));
        for (i, (t, l)) in pending.iter().enumerate() {
            let b = read(*t, *l);
            frame.extend_from_slice(if i == 0 {
                b.get(VNET_HDR_LEN..).unwrap_or(&[])
            } else {
                b
            });
        }
        for (t, _) in pending.drain(..) {
            post_rx(rx, t);
            *refill += 1;
        }
        self.c.rx_frames.fetch_add(1, Ordering::Relaxed);
        let info = rx_info(&hdr, &mut frame, self.mtu);
        Some(RxItem {
            frames: vec![frame],
            info,
            cpu: 0,
        })
    }

    fn reap_tx(&self, tx: &mut Tx, st: &TxStats) {
        while let Ok(Some(u)) = tx.q.pop_used() {
            tx.free.push(u.token);
            st.completed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn post_rx(rx: &mut Rx, i: u16) {
    let pa = rx.bufs.paddr + u64::from(i) * RX_BUF as u64;
    // SAFETY: buffer `i` is RX_BUF bytes of DMA memory owned by the pass-through and not in the
    // ring (it was just returned or never posted).
    let _ = unsafe { rx.q.add([Buffer::writable(pa, RX_BUF as u32)], i) };
}

/// Receive translation: the virtio header → Windows receive info, fixing the frame the way a
/// correct minimal driver must (complete partial checksums, recompute an SCU's IPv4 header).
fn rx_info(h: &VnetHdr, frame: &mut [u8], mtu: u32) -> RxInfo {
    let mut info = RxInfo::default();
    let Some(p) = pkt::parse(frame) else {
        return info;
    };
    let Some(ip) = p.ip else {
        return info;
    };
    let v4 = ip.ver == IpVer::V4;
    let gso_type = h.gso_type & !gso::ECN;
    let rsc_info = h.flags & hdr_flags::RSC_INFO != 0;
    if ip.proto == PROTO_TCP && (rsc_info || gso_type == gso::TCPV4 || gso_type == gso::TCPV6) {
        let thl = pkt::tcp_hlen(frame, ip.l4).unwrap_or(20);
        let payload = frame.len().saturating_sub(ip.l4 + thl);
        let mss = if h.gso_size != 0 {
            usize::from(h.gso_size)
        } else {
            (mtu as usize).saturating_sub(ip.hlen + thl).max(1)
        };
        let segs = if rsc_info {
            usize::from(h.csum_start)
        } else {
            payload.div_ceil(mss)
        }
        .clamp(1, 0xFFFF);
        if v4 {
            let tl = (frame.len() - p.l3) as u16;
            pkt::put16(frame, p.l3 + 2, tl);
            pkt::fix_ipv4_header(frame, p.l3, ip.hlen);
        }
        info.rsc = segs;
        info.csum =
            (csum::RX_IP_OK * usize::from(v4)) | csum::RX_TCP_OK | csum::RX_TCP_VALUE_INVALID;
        return info;
    }
    let l4_ok_bit = match ip.proto {
        PROTO_TCP => csum::RX_TCP_OK,
        PROTO_UDP => csum::RX_UDP_OK,
        _ => 0,
    };
    if h.flags & hdr_flags::NEEDS_CSUM != 0 {
        let start = usize::from(h.csum_start);
        let field = start + usize::from(h.csum_offset);
        if field + 2 <= frame.len() && start < frame.len() {
            let end = pkt::ip_end(frame, &ip).unwrap_or(frame.len());
            let mut c = !pkt::fold(pkt::sum(&frame[start..end.max(start)]));
            if ip.proto == PROTO_UDP && c == 0 {
                c = 0xFFFF;
            }
            pkt::put16(frame, field, c);
            info.csum |= l4_ok_bit;
        }
    } else if h.flags & hdr_flags::DATA_VALID != 0 {
        info.csum |= l4_ok_bit;
    }
    if v4 && info.csum != 0 && pkt::ipv4_header_ok(frame, p.l3, ip.hlen) {
        info.csum |= csum::RX_IP_OK;
    }
    info
}

/// Send translation: Windows per-NBL info → virtio header, frame fixed up in place.
fn tx_header(w: &mut WinTx) -> VnetHdr {
    let mut h = VnetHdr::default();
    let info = |s: usize| w.info.iter().find(|(k, _)| *k == s).map_or(0, |x| x.1);
    let c = info(slot::CHECKSUM);
    let l = info(slot::LSO);
    let u = info(slot::RSC_USO);
    let v = info(slot::VLAN);
    let f = &mut w.frame;
    if v != 0 && f.len() >= 12 {
        let tci = (((v & 7) << 13) | ((v >> 4) & 0xFFF)) as u16;
        let mut tag = [0x81, 0x00, 0, 0];
        tag[2..].copy_from_slice(&tci.to_be_bytes());
        f.splice(12..12, tag);
    }
    let Some(p) = pkt::parse(f) else {
        return h;
    };
    let Some(ip) = p.ip else {
        return h;
    };
    let v4 = ip.ver == IpVer::V4;
    if l != 0 || u != 0 {
        let is_tcp = l != 0;
        let mss = if is_tcp {
            l & lso::MSS_MASK
        } else {
            u & uso::MSS_MASK
        };
        let hl = if is_tcp {
            ip.l4 + pkt::tcp_hlen(f, ip.l4).unwrap_or(20)
        } else {
            ip.l4 + 8
        };
        if v4 {
            let tl = (f.len() - p.l3) as u16;
            pkt::put16(f, p.l3 + 2, tl);
            pkt::fix_ipv4_header(f, p.l3, ip.hlen);
        } else {
            let pl = (f.len() - p.l3 - 40) as u16;
            pkt::put16(f, p.l3 + 4, pl);
        }
        let field = ip.l4 + if is_tcp { 16 } else { 6 };
        let l4_len = (f.len() - ip.l4) as u64;
        let ps = pkt::get16(f, field).unwrap_or(0);
        if !is_tcp {
            pkt::put16(f, ip.l4 + 4, l4_len as u16);
        }
        // NDIS: pseudo-header without the length; virtio/Linux: with it.
        pkt::put16(f, field, pkt::fold(u64::from(ps) + l4_len));
        h.flags = hdr_flags::NEEDS_CSUM;
        h.gso_type = match (is_tcp, v4) {
            (true, true) => gso::TCPV4,
            (true, false) => gso::TCPV6,
            (false, _) => gso::UDP_L4,
        };
        h.gso_size = mss as u16;
        h.hdr_len = hl as u16;
        h.csum_start = ip.l4 as u16;
        h.csum_offset = if is_tcp { 16 } else { 6 };
        return h;
    }
    if c & csum::TX_IP != 0 && v4 {
        pkt::fix_ipv4_header(f, p.l3, ip.hlen);
    }
    if c & (csum::TX_TCP | csum::TX_UDP) != 0 {
        h.flags = hdr_flags::NEEDS_CSUM;
        h.csum_start = ip.l4 as u16;
        h.csum_offset = if c & csum::TX_TCP != 0 { 16 } else { 6 };
    }
    h
}

impl Port for PassPort {
    fn send(&self, batch: &mut Vec<WinTx>, st: &TxStats, recycle: &mut Vec<Vec<u8>>) {
        let mut tx = lock(&self.tx);
        let mut added = 0u32;
        for mut w in batch.drain(..) {
            let h = tx_header(&mut w);
            let need = VNET_HDR_LEN + w.frame.len();
            if need > TX_SLOT {
                continue;
            }
            // Ring full: kick what is queued and wait for the device.
            let start = Instant::now();
            while tx.free.is_empty() {
                if added > 0 && tx.q.publish() {
                    tx.q.notify();
                    self.c.tx_kicks.fetch_add(1, Ordering::Relaxed);
                }
                added = 0;
                self.c.tx_full_waits.fetch_add(1, Ordering::Relaxed);
                self.reap_tx(&mut tx, st);
                if tx.free.is_empty() {
                    if start.elapsed() > Duration::from_secs(5) {
                        return;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            let Some(slot) = tx.free.pop() else {
                return;
            };
            let off = usize::from(slot) * TX_SLOT;
            // SAFETY: slot `slot` is TX_SLOT bytes inside the slots region, not in the ring.
            let p = tx.slots.vaddr.as_ptr().wrapping_add(off);
            // SAFETY: `p..p+TX_SLOT` is slot `slot`, inside the slots region and not in the ring.
            let dst = unsafe { std::slice::from_raw_parts_mut(p, TX_SLOT) };
            dst[..VNET_HDR_LEN].copy_from_slice(&h.to_bytes());
            dst[VNET_HDR_LEN..need].copy_from_slice(&w.frame);
            recycle.push(std::mem::take(&mut w.frame));
            let pa = tx.slots.paddr + off as u64;
            // SAFETY: the slot stays untouched until its token comes back from pop_used.
            if unsafe { tx.q.add([Buffer::readable(pa, need as u32)], slot) }.is_err() {
                tx.free.push(slot);
                continue;
            }
            added += 1;
            self.c.tx_frames.fetch_add(1, Ordering::Relaxed);
        }
        if added > 0 && tx.q.publish() {
            tx.q.notify();
            self.c.tx_kicks.fetch_add(1, Ordering::Relaxed);
        }
        self.reap_tx(&mut tx, st);
    }

    fn reap(&self, st: &TxStats) -> usize {
        let mut tx = lock(&self.tx);
        self.reap_tx(&mut tx, st);
        usize::from(tx.q.in_flight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkt::{tcp4, Endpoints, TcpSeg};

    #[test]
    fn lsov2_info_becomes_a_tcpv4_gso_header_with_the_length_in_the_pseudo_header() {
        let ep = Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: [10, 0, 0, 1],
            dst_ip: [10, 0, 0, 2],
            sport: 1,
            dport: 2,
        };
        let mut f = tcp4(&ep, &TcpSeg::default(), &vec![1u8; 5000]);
        let ip = pkt::parse(&f).unwrap().ip.unwrap();
        pkt::put16(&mut f, 16, 0);
        pkt::put16(&mut f, 50, pkt::fold(ip.pseudo(None)));
        let mut w = WinTx {
            frame: f,
            splits: vec![],
            info: vec![(slot::LSO, 1448 | (34 << lso::OFFSET_SHIFT) | lso::TYPE_V2)],
            kind: crate::shape::TxKind::LsoV2,
        };
        let h = tx_header(&mut w);
        assert_eq!(
            (
                h.gso_type,
                h.gso_size,
                h.hdr_len,
                h.csum_start,
                h.csum_offset
            ),
            (gso::TCPV4, 1448, 54, 34, 16)
        );
        assert_eq!(pkt::get16(&w.frame, 16), Some(5040));
        assert!(pkt::ipv4_header_ok(&w.frame, 14, 20));
        assert_eq!(
            pkt::get16(&w.frame, 50),
            Some(pkt::fold(ip.pseudo(Some(5020))))
        );
    }
}
