//! Helpers of the datapath tests: the real miniport in ndis-emu over netkvm-virtio's fake device, frame
//! builders (etherparse as the independent encoder/oracle) and virtio header helpers written from the
//! virtio spec (§5.1.6), not from the driver.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use ndis_emu::bus::fake::FakeBus;
use ndis_emu::{EmuConfig, Harness, Registry, RxNbl};
use ndis_sys as n;
use netkvm_virtio::fake::{FakeConfig, TxPacket};
use netkvm_virtio::Features;

/// The fake device's MAC (the adapter's current address by default).
pub const DEV_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// A peer.
pub const PEER_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
pub const MY_IP: [u8; 4] = [10, 0, 0, 2];
pub const PEER_IP: [u8; 4] = [10, 0, 0, 1];
pub const MY_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const PEER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// virtio-net header flags and GSO types (virtio 1.2 §5.1.6).
pub const F_NEEDS_CSUM: u8 = 1;
pub const F_DATA_VALID: u8 = 2;
pub const F_RSC_INFO: u8 = 4;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;

/// NDIS receive checksum bits (spec §4.2).
pub const TCP_FAILED: usize = 0x1;
pub const UDP_FAILED: usize = 0x2;
pub const IP_FAILED: usize = 0x4;
pub const TCP_OK: usize = 0x8;
pub const UDP_OK: usize = 0x10;
pub const IP_OK: usize = 0x20;
pub const TCP_VALUE_INVALID: usize = 0x80;

static SERIAL: Mutex<()> = Mutex::new(());

/// The driver is a singleton: tests of one binary run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Emulator settings for these tests (no periodic CheckForHang).
pub fn emu() -> EmuConfig {
    EmuConfig {
        check_for_hang: Some(Duration::ZERO),
        ..EmuConfig::default()
    }
}

/// A fake device like QEMU's default with `features` removed.
pub fn fake_without(features: Features) -> FakeConfig {
    let mut c = FakeConfig::default();
    c.features = c.features.difference(features);
    c
}

/// Harness over a fake device with extra registry keywords (REG_SZ).
pub fn harness(
    cfg: FakeConfig,
    keywords: &[(&str, &str)],
    emu: EmuConfig,
) -> (Harness, Arc<FakeBus>) {
    let mut reg = Registry::with_mandatory();
    for (k, v) in keywords {
        reg.set(k, ndis_emu::RegValue::sz(*v));
    }
    Harness::fake_with(cfg, reg, emu)
}

/// Load, initialize, bind (packet filter, multicast list, encapsulation, RSS), restart.
pub fn up(h: &mut Harness) {
    h.load(netkvmrs::driver_entry).expect("DriverEntry");
    h.initialize().expect("InitializeEx");
    let r = h.bind().expect("bind");
    assert!(r.failures().is_empty(), "bind: {:?}", r.failures());
    h.restart().expect("restart");
}

/// Pause, halt, unload (ndis-emu checks completions, returns and leaks).
pub fn down(h: &mut Harness) {
    if h.state() == ndis_emu::AdapterState::Running {
        h.pause().expect("pause");
    }
    h.halt().expect("halt");
    h.unload().expect("unload");
}

/// Polls `f` until true or panics after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

/// UDP/IPv4 frame (checksums complete).
pub fn udp4(src: [u8; 6], dst: [u8; 6], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src, dst)
        .ipv4(PEER_IP, MY_IP, 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).unwrap();
    v
}

/// UDP/IPv4 frame from us to the peer.
pub fn udp4_out(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DEV_MAC, PEER_MAC)
        .ipv4(MY_IP, PEER_IP, 64)
        .udp(4000, 5000);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).unwrap();
    v
}

/// TCP/IPv4 segment (peer → us), flags ACK (+PSH when `psh`), checksums complete.
pub fn tcp4_in(seq: u32, ack: u32, payload: &[u8], psh: bool) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(PEER_MAC, DEV_MAC)
        .ipv4(PEER_IP, MY_IP, 64)
        .tcp(5001, 40000, seq, 65535)
        .ack(ack);
    if psh {
        b = b.psh();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    // Don't-fragment, as every TCP stack sets it (software RSC requires equal DF).
    v[14 + 6] |= 0x40;
    fix_ipv4_checksum(&mut v, 14);
    v
}

/// TCP/IPv4 segment from us to the peer.
pub fn tcp4_out(seq: u32, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DEV_MAC, PEER_MAC)
        .ipv4(MY_IP, PEER_IP, 64)
        .tcp(40000, 5001, seq, 65535)
        .ack(1)
        .psh();
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// TCP/IPv6 segment from us to the peer.
pub fn tcp6_out(seq: u32, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DEV_MAC, PEER_MAC)
        .ipv6(MY_IP6, PEER_IP6, 64)
        .tcp(40000, 5001, seq, 65535)
        .ack(1);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// UDP/IPv6 datagram from us to the peer.
pub fn udp6_out(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(DEV_MAC, PEER_MAC)
        .ipv6(MY_IP6, PEER_IP6, 64)
        .udp(4000, 5000);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// Recomputes the IPv4 header checksum at `l3`.
pub fn fix_ipv4_checksum(f: &mut [u8], l3: usize) {
    let ihl = usize::from(f[l3] & 0xF) * 4;
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = ones_sum(&f[l3..l3 + ihl]);
    f[l3 + 10..l3 + 12].copy_from_slice(&(!c).to_be_bytes());
}

/// One's-complement sum (folded, not complemented).
pub fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        s += u64::from(w);
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// Pseudo-header sum of an IPv4 frame at `l3` for protocol `proto` **without** the L4 length (what NDIS
/// LSO/USO sends carry in the L4 checksum field).
pub fn pseudo4_nolen(f: &[u8], l3: usize, proto: u8) -> u16 {
    let mut b = Vec::new();
    b.extend_from_slice(&f[l3 + 12..l3 + 20]);
    b.extend_from_slice(&[0, proto]);
    ones_sum(&b)
}

/// Pseudo-header sum of an IPv6 frame at `l3` without the length.
pub fn pseudo6_nolen(f: &[u8], l3: usize, proto: u8) -> u16 {
    let mut b = Vec::new();
    b.extend_from_slice(&f[l3 + 8..l3 + 40]);
    b.extend_from_slice(&[0, 0, 0, proto]);
    ones_sum(&b)
}

/// Whether every checksum of `frame` verifies (etherparse parses, then our own sums).
pub fn checksums_ok(frame: &[u8]) -> bool {
    let Ok(p) = SlicedPacket::from_ethernet(frame) else {
        return false;
    };
    let Some(net) = p.net else { return false };
    let (l3, is4) = match &net {
        etherparse::NetSlice::Ipv4(v4) => {
            if ones_sum(v4.header().slice()) != 0xFFFF {
                return false;
            }
            (
                frame.len() - v4.header().slice().len() - v4.payload().payload.len(),
                true,
            )
        }
        etherparse::NetSlice::Ipv6(v6) => (
            frame.len() - v6.header().slice().len() - v6.payload().payload.len(),
            false,
        ),
        _ => return false,
    };
    let _ = l3;
    let (proto, l4_bytes) = match &p.transport {
        Some(TransportSlice::Tcp(t)) => (6u8, [t.header_slice(), t.payload()].concat()),
        Some(TransportSlice::Udp(u)) => (17u8, [u.header_slice(), u.payload()].concat()),
        _ => return true,
    };
    let mut pseudo = Vec::new();
    match &net {
        etherparse::NetSlice::Ipv4(v4) => {
            pseudo.extend_from_slice(&v4.header().source());
            pseudo.extend_from_slice(&v4.header().destination());
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&(l4_bytes.len() as u16).to_be_bytes());
        }
        etherparse::NetSlice::Ipv6(v6) => {
            pseudo.extend_from_slice(&v6.header().source());
            pseudo.extend_from_slice(&v6.header().destination());
            pseudo.extend_from_slice(&(l4_bytes.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => {}
    }
    let _ = is4;
    if proto == 17 && l4_bytes[6] == 0 && l4_bytes[7] == 0 {
        return true;
    }
    pseudo.extend_from_slice(&l4_bytes);
    ones_sum(&pseudo) == 0xFFFF
}

// ---------------------------------------------------------------------------------------------
// virtio headers

/// A 12-byte `virtio_net_hdr_v1` (num_buffers filled in by the device).
pub fn vnet(
    flags: u8,
    gso: u8,
    hdr_len: u16,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
) -> Vec<u8> {
    let mut h = vec![flags, gso];
    h.extend_from_slice(&hdr_len.to_le_bytes());
    h.extend_from_slice(&gso_size.to_le_bytes());
    h.extend_from_slice(&csum_start.to_le_bytes());
    h.extend_from_slice(&csum_offset.to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    h
}

/// Decoded header of a transmitted frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxHdr {
    pub flags: u8,
    pub gso: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

pub fn tx_hdr(p: &TxPacket) -> TxHdr {
    let h = &p.hdr;
    let u = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    TxHdr {
        flags: h[0],
        gso: h[1],
        hdr_len: u(2),
        gso_size: u(4),
        csum_start: u(6),
        csum_offset: u(8),
    }
}

/// Delivers one frame on RX queue `q` (plain header: no offload flags).
pub fn deliver(bus: &FakeBus, q: u16, frame: &[u8]) {
    bus.device()
        .deliver_rx(q, &vnet(0, GSO_NONE, 0, 0, 0, 0), frame)
        .expect("deliver_rx");
}

/// Waits until `n` frames were received (or `timeout`); returns all received so far.
pub fn recv_n(h: &mut Harness, n: usize, timeout: Duration) -> Vec<RxNbl> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < timeout {
        if let Some(r) = h.recv(Duration::from_millis(20)) {
            out.push(r);
        }
    }
    out.extend(h.drain_received());
    out
}

/// The NDIS status names used in assertions.
pub fn status_name(s: n::NDIS_STATUS) -> String {
    format!("{:#010x}", s as u32)
}

// ---------------------------------------------------------------------------------------------
// Transmit helpers

/// The frame as the wire carries it: a partial checksum (`NEEDS_CSUM`) completed the way a device does
/// it (sum from `csum_start` to the end, complemented, stored at `csum_start + csum_offset`).
pub fn completed(p: &TxPacket) -> Vec<u8> {
    let h = tx_hdr(p);
    let mut f = p.frame.clone();
    if h.flags & F_NEEDS_CSUM != 0 {
        complete_partial(
            &mut f,
            usize::from(h.csum_start),
            usize::from(h.csum_offset),
        );
    }
    f
}

/// Completes a partial checksum in place.
pub fn complete_partial(f: &mut [u8], start: usize, offset: usize) {
    let s = ones_sum(&f[start..]);
    f[start + offset..start + offset + 2].copy_from_slice(&(!s).to_be_bytes());
}

/// `NET_BUFFER_LIST_INFO` value of an LSOv2 request.
pub fn lso_v2(mss: u32, tcp_offset: u32, ipv6: bool) -> usize {
    ((1u32 << 30) | (u32::from(ipv6) << 31) | (tcp_offset << 20) | mss) as usize
}

/// `NET_BUFFER_LIST_INFO` value of an LSOv1 request.
pub fn lso_v1(mss: u32, tcp_offset: u32) -> usize {
    ((tcp_offset << 20) | mss) as usize
}

/// `NET_BUFFER_LIST_INFO` value of a USO request.
pub fn uso(mss: u32, udp_offset: u32, ipv6: bool) -> usize {
    ((u32::from(ipv6) << 31) | (udp_offset << 20) | mss) as usize
}

/// An LSO template as the Windows stack hands it: IPv4 total length 0 (LSOv2) or the full length (LSOv1),
/// the TCP checksum field holding the pseudo-header sum without the length.
pub fn lso_template4(payload: &[u8], v2: bool) -> Vec<u8> {
    let mut f = tcp4_out(1000, payload);
    if v2 {
        f[16] = 0;
        f[17] = 0;
    }
    f[24] = 0;
    f[25] = 0;
    let p = pseudo4_nolen(&f, 14, 6);
    f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&p.to_be_bytes());
    f
}

/// An IPv6 LSOv2 template (payload length 0, pseudo-header sum without length).
pub fn lso_template6(payload: &[u8]) -> Vec<u8> {
    let mut f = tcp6_out(1000, payload);
    f[18] = 0;
    f[19] = 0;
    let p = pseudo6_nolen(&f, 14, 6);
    f[14 + 40 + 16..14 + 40 + 18].copy_from_slice(&p.to_be_bytes());
    f
}

/// A USO template: the UDP checksum field holds the pseudo-header sum without the length.
pub fn uso_template4(payload: &[u8]) -> Vec<u8> {
    let mut f = udp4_out(payload);
    let p = pseudo4_nolen(&f, 14, 17);
    f[14 + 20 + 6..14 + 20 + 8].copy_from_slice(&p.to_be_bytes());
    f
}

/// A USO IPv6 template.
pub fn uso_template6(payload: &[u8]) -> Vec<u8> {
    let mut f = udp6_out(payload);
    let p = pseudo6_nolen(&f, 14, 17);
    f[14 + 40 + 6..14 + 40 + 8].copy_from_slice(&p.to_be_bytes());
    f
}

/// The transport payload of a frame (etherparse).
pub fn l4_payload(frame: &[u8]) -> Vec<u8> {
    match SlicedPacket::from_ethernet(frame).map(|p| p.transport) {
        Ok(Some(TransportSlice::Tcp(t))) => t.payload().to_vec(),
        Ok(Some(TransportSlice::Udp(u))) => u.payload().to_vec(),
        _ => Vec::new(),
    }
}

/// TCP sequence number of a frame.
pub fn tcp_seq(frame: &[u8]) -> u32 {
    match SlicedPacket::from_ethernet(frame).map(|p| p.transport) {
        Ok(Some(TransportSlice::Tcp(t))) => t.sequence_number(),
        _ => u32::MAX,
    }
}

/// A deterministic payload.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Statistics through the OIDs

/// `OID_GEN_STATISTICS`.
pub fn statistics(h: &mut Harness) -> n::NDIS_STATISTICS_INFO {
    let r = h
        .oid_query(
            n::OID_GEN_STATISTICS,
            core::mem::size_of::<n::NDIS_STATISTICS_INFO>() as u32,
        )
        .expect("OID_GEN_STATISTICS");
    assert!(r.ok(), "OID_GEN_STATISTICS failed");
    assert!(r.data.len() >= core::mem::size_of::<n::NDIS_STATISTICS_INFO>());
    // SAFETY: the buffer holds a whole NDIS_STATISTICS_INFO (checked); plain integers, read unaligned.
    unsafe { core::ptr::read_unaligned(r.data.as_ptr().cast::<n::NDIS_STATISTICS_INFO>()) }
}

/// `OID_TCP_RSC_STATISTICS`: (CoalescedPkts, CoalescedOctets, CoalesceEvents, Aborts).
pub fn rsc_statistics(h: &mut Harness) -> (u64, u64, u64, u64) {
    let r = h
        .oid_query(n::OID_TCP_RSC_STATISTICS, 64)
        .expect("OID_TCP_RSC_STATISTICS");
    assert!(r.ok(), "OID_TCP_RSC_STATISTICS failed");
    let q = |o: usize| u64::from_le_bytes(r.data[o..o + 8].try_into().unwrap());
    (q(8), q(16), q(24), q(32))
}

// ---------------------------------------------------------------------------------------------
// Receive helpers

/// Delivers a frame with a given virtio header on RX queue `q`.
pub fn deliver_with(bus: &FakeBus, q: u16, hdr: &[u8], frame: &[u8]) {
    bus.device().deliver_rx(q, hdr, frame).expect("deliver_rx");
}

/// Emulator settings with interrupts polled every `period` (so frames delivered right after a poll are
/// handled by one DPC: one receive batch).
pub fn emu_polled(period: Duration) -> EmuConfig {
    EmuConfig {
        interrupt_mode: ndis_emu::InterruptMode::Polling(period),
        ..emu()
    }
}

/// Waits until the interrupt thread just polled (ISR count moved), so that what is delivered next lands in
/// one DPC.
pub fn after_poll(h: &Harness) {
    let c = h.isr_calls();
    wait_for("an interrupt poll", Duration::from_secs(5), || {
        h.isr_calls() != c
    });
}

/// A TCP/IPv4 frame from the peer with given ports.
pub fn tcp4_flow(sport: u16, dport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(PEER_MAC, DEV_MAC)
        .ipv4(PEER_IP, MY_IP, 64)
        .tcp(sport, dport, seq, 65535)
        .ack(1);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// The Toeplitz hash as the spec defines it (bit-serial), independent of the driver's table version.
pub fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
    let mut result = 0u32;
    let k =
        |bit: usize| -> u32 { u32::from(key.get(bit / 8).map_or(0, |b| (b >> (7 - bit % 8)) & 1)) };
    let mut window: u32 = 0;
    for i in 0..32 {
        window = (window << 1) | k(i);
    }
    let mut next = 32;
    for byte in input {
        for b in (0..8).rev() {
            if (byte >> b) & 1 == 1 {
                result ^= window;
            }
            window = (window << 1) | k(next);
            next += 1;
        }
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Looking at the fake device's rings (hostile-device tests)

/// Reads a queue's ring addresses through the common configuration (virtio 1.x §4.1.4.3:
/// `queue_select` 0x16, `queue_size` 0x18, `queue_desc` 0x20, `queue_device` 0x30).
pub fn queue_rings(bus: &FakeBus, q: u16) -> (u64, u64, u16) {
    use netkvm_virtio::fake::FAKE_BAR;
    use netkvm_virtio::Hal;
    let d = bus.device();
    // SAFETY: the fake's registers are emulated; the common configuration is at offset 0 of FAKE_BAR
    // in the default placement.
    unsafe { d.write16(FAKE_BAR, 0x16, q) };
    // SAFETY: as above.
    let size = unsafe { d.read16(FAKE_BAR, 0x18) };
    let r64 = |off: u64| {
        // SAFETY: as above.
        let lo = unsafe { d.read32(FAKE_BAR, off) };
        // SAFETY: as above.
        let hi = unsafe { d.read32(FAKE_BAR, off + 4) };
        u64::from(lo) | (u64::from(hi) << 32)
    };
    (r64(0x20), r64(0x30), size)
}

/// Buffers the driver has made available on queue `q` and the device has not used yet
/// (`avail->idx - used->idx`; `queue_driver` at 0x28).
pub fn posted(bus: &FakeBus, q: u16) -> u16 {
    use netkvm_virtio::fake::FAKE_BAR;
    use netkvm_virtio::Hal;
    let (_, used, _) = queue_rings(bus, q);
    let d = bus.device();
    // SAFETY: emulated registers (see `queue_rings`); queue `q` is still selected.
    let lo = unsafe { d.read32(FAKE_BAR, 0x28) };
    // SAFETY: as above.
    let hi = unsafe { d.read32(FAKE_BAR, 0x2C) };
    let avail = u64::from(lo) | (u64::from(hi) << 32);
    let mem = d.memory();
    let mut a = [0u8; 2];
    mem.read(avail + 2, &mut a).unwrap();
    let mut u = [0u8; 2];
    mem.read(used + 2, &mut u).unwrap();
    u16::from_le_bytes(a).wrapping_sub(u16::from_le_bytes(u))
}

/// Device address of the buffer of the `back`-th most recent used entry of queue `q` (0 = newest).
pub fn used_buffer(bus: &FakeBus, q: u16, back: u16) -> u64 {
    let (desc, used, size) = queue_rings(bus, q);
    let mem = bus.device().memory();
    let mut b = [0u8; 2];
    mem.read(used + 2, &mut b).unwrap();
    let idx = u16::from_le_bytes(b).wrapping_sub(1 + back);
    let mut e = [0u8; 4];
    mem.read(used + 4 + 8 * u64::from(idx % size), &mut e)
        .unwrap();
    let id = u32::from_le_bytes(e);
    let mut a = [0u8; 8];
    mem.read(desc + 16 * u64::from(id), &mut a).unwrap();
    u64::from_le_bytes(a)
}
