//! Receive buffer accounting under volume: a million frames through the ring with deferred returns — a
//! mix of MTU segments of one TCP flow (coalesced by software RSC into multi-buffer SCUs whenever a DPC
//! sees several) and host-coalesced 20 KB frames spanning five mergeable buffers. Every segment is
//! counted once, every NBL returned once (ndis-emu checks), every buffer back in the ring at the end,
//! nothing leaked at Halt.

mod datapath_support;

use std::time::{Duration, Instant};

use datapath_support::*;
use netkvm_virtio::fake::{FakeConfig, FakeError};

/// Frames pushed through; `NETKVMRS_RX_FRAMES` overrides (CI keeps the default).
fn frames() -> u64 {
    std::env::var("NETKVMRS_RX_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

#[test]
fn a_million_frames_leave_every_receive_buffer_accounted_for() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    h.set_receive_capture(false);
    let total = frames();
    // 64 consecutive segments of one flow (cycled), and one host GRO frame.
    let segs: Vec<Vec<u8>> = (0..64u32)
        .map(|i| tcp4_in(i * 1448, 1, &pattern(1448, i as u8), false))
        .collect();
    let mut gso = tcp4_flow(5001, 40000, 0x1000_0000, &pattern(20_000, 3));
    let mut ps = gso[26..34].to_vec();
    ps.extend_from_slice(&[0, 6]);
    ps.extend_from_slice(&((gso.len() - 34) as u16).to_be_bytes());
    let p = ones_sum(&ps);
    gso[50..52].copy_from_slice(&p.to_be_bytes());
    let gso_hdr = vnet(F_NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16);
    let hdr = vnet(0, GSO_NONE, 0, 0, 0, 0);
    let start = Instant::now();
    let mut delivered = 0u64;
    let mut segments = 0u64;
    let mut full = 0u64;
    while delivered < total {
        let (h_, f, n_segs) = if delivered % 4 == 3 {
            (&gso_hdr, &gso, 20_000u64.div_ceil(1448))
        } else {
            (&hdr, &segs[(delivered % 64) as usize], 1)
        };
        match bus.device().deliver_rx(0, h_, f) {
            Ok(_) => {
                delivered += 1;
                segments += n_segs;
            }
            Err(FakeError::NoBuffers) => {
                full += 1;
                std::thread::yield_now();
            }
            Err(e) => panic!("deliver_rx: {e:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(600), "too slow");
    }
    wait_for("every segment indicated", Duration::from_secs(60), || {
        statistics(&mut h).ifHCInUcastPkts == segments
    });
    wait_for("every NBL returned", Duration::from_secs(60), || {
        let s = h.datapath_stats();
        s.returned == s.indicated
    });
    assert_eq!(h.outstanding_receives(), 0);
    let st = statistics(&mut h);
    assert_eq!(st.ifInErrors + st.ifInDiscards, 0);
    let ind = h.datapath_stats().indicated;
    let (pkts, _, events, _) = rsc_statistics(&mut h);
    assert!(
        ind < total,
        "software RSC coalesced some segments ({ind} NBLs for {total} frames)"
    );
    assert!(events > 0 && pkts > 0);
    // Every buffer is posted again.
    wait_for("the ring refilled", Duration::from_secs(10), || {
        posted(&bus, 0) == 256
    });
    eprintln!(
        "{total} frames ({segments} segments, {ind} NBLs) in {:.1} s ({full} ring-full retries)",
        start.elapsed().as_secs_f64()
    );
    down(&mut h);
}
