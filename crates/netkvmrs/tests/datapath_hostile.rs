//! A hostile or broken device on the datapath: per-frame anomalies are dropped and counted with the ring
//! kept intact; ring-protocol violations stop the queue, the adapter resets the device, every NBL
//! completes exactly once and no buffer is lost (ndis-emu checks at Halt).

mod datapath_support;

use std::time::Duration;

use datapath_support::*;
use ndis_emu::NblSpec;
use ndis_sys as n;
use netkvm_virtio::fake::{FakeConfig, UsedCorruption};

const T: Duration = Duration::from_secs(10);

fn good_frame(i: u32) -> Vec<u8> {
    udp4(PEER_MAC, DEV_MAC, 53, 4000, &i.to_be_bytes())
}

/// After whatever happened, a fresh frame still comes through.
fn still_receives(h: &mut ndis_emu::Harness, bus: &ndis_emu::bus::fake::FakeBus, tag: u32) {
    let f = good_frame(tag);
    deliver(bus, 0, &f);
    let r = recv_n(h, 1, T);
    assert_eq!(r.len(), 1, "frame {tag} after the anomaly");
    assert_eq!(l4_payload(&r[0].frames[0]), tag.to_be_bytes());
}

fn wait_reset(h: &mut ndis_emu::Harness) {
    wait_for("a device reset", T, || h.hang_checks_and_resets().1 >= 1);
    // NDIS_STATUS_RESET_END: the reset completed (the adapter stays Running throughout).
    assert!(
        h.wait_status(n::NDIS_STATUS_RESET_END, T).is_some(),
        "the reset completed"
    );
}

#[test]
fn inconsistent_virtio_headers_are_dropped_and_counted() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    let udp = good_frame(1);
    let tcp = tcp4_flow(5001, 80, 1, &pattern(100, 1));
    let bad: Vec<(Vec<u8>, &[u8])> = vec![
        // TCP GSO on a UDP frame.
        (vnet(F_NEEDS_CSUM, GSO_TCPV4, 42, 1448, 34, 6), &udp),
        // GSO type never negotiated (USO receive).
        (vnet(F_NEEDS_CSUM, GSO_UDP_L4, 42, 1400, 34, 6), &udp),
        // GSO without any checksum flag.
        (vnet(0, GSO_TCPV4, 54, 1448, 0, 0), &tcp),
        // csum_start beyond the frame.
        (vnet(F_NEEDS_CSUM, GSO_NONE, 0, 0, 4000, 6), &udp),
        // TCPv6 GSO on an IPv4 frame.
        (vnet(F_NEEDS_CSUM, GSO_TCPV6, 54, 1448, 34, 16), &tcp),
        // Undefined gso_type value.
        (vnet(0, 9, 0, 0, 0, 0), &udp),
        // RSC_INFO with a zero segment count (dropped whether or not RSC_EXT was negotiated).
        (vnet(F_RSC_INFO, GSO_TCPV4, 0, 0, 0, 0), &tcp),
    ];
    for (hdr, f) in &bad {
        deliver_with(&bus, 0, hdr, f);
    }
    still_receives(&mut h, &bus, 99);
    let st = statistics(&mut h);
    assert_eq!(st.ifInErrors, bad.len() as u64);
    down(&mut h);
}

#[test]
fn a_mergeable_count_beyond_what_a_frame_may_use_or_what_is_posted_is_dropped() {
    let _s = serial();
    let (mut h, bus) = harness(
        FakeConfig::default(),
        &[("RxCapacity", "16")],
        emu_polled(Duration::from_millis(100)),
    );
    up(&mut h);
    for (k, nb) in [(1u32, 40u16), (2, 17)] {
        // A two-buffer frame (buffers are 16 KiB when coalesced frames may arrive) whose header then
        // claims `nb` buffers: 40 is more than any frame may span, 17 more than the 16-entry ring can
        // ever hold.
        let f = udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(20_000, k as u8));
        after_poll(&h);
        let used = bus
            .device()
            .deliver_rx(0, &vnet(0, GSO_NONE, 0, 0, 0, 0), &f)
            .unwrap();
        assert_eq!(used, 2);
        let first = used_buffer(&bus, 0, 1);
        bus.device()
            .memory()
            .write(first + 10, &nb.to_le_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_millis(250));
        assert!(h.drain_received().is_empty(), "nothing indicated");
        still_receives(&mut h, &bus, k);
    }
    assert!(statistics(&mut h).ifInErrors >= 2);
    down(&mut h);
}

#[test]
fn a_used_length_beyond_the_buffer_resets_the_device_and_nothing_is_lost() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    // The fake adds this to the bytes it wrote: far beyond the 16 KiB buffer posted.
    bus.device().update_misbehavior(|m| {
        m.used = Some(UsedCorruption::LengthTooLarge(70_000));
    });
    deliver(&bus, 0, &good_frame(1));
    wait_reset(&mut h);
    still_receives(&mut h, &bus, 2);
    down(&mut h);
}

#[test]
fn a_used_index_jump_on_receive_resets_the_device() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    bus.device().update_misbehavior(|m| {
        m.used = Some(UsedCorruption::IndexJump(300));
    });
    deliver(&bus, 0, &good_frame(1));
    wait_reset(&mut h);
    still_receives(&mut h, &bus, 3);
    down(&mut h);
}

#[test]
fn a_bad_used_id_on_transmit_resets_and_every_send_completes_exactly_once() {
    let _s = serial();
    for corruption in [
        UsedCorruption::IdOutOfRange,
        UsedCorruption::DuplicateCompletion,
    ] {
        let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
        up(&mut h);
        let nbls: Vec<_> = (0..10u32)
            .map(|i| {
                h.nbl(&NblSpec::frames(&[&udp4_out(&i.to_be_bytes())]))
                    .unwrap()
            })
            .collect();
        h.send(nbls).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        bus.device()
            .update_misbehavior(|m| m.used = Some(corruption));
        let _ = bus.pump_tx_once();
        wait_reset(&mut h);
        let c = h.wait_completions(10, T);
        assert_eq!(c.len(), 10, "{corruption:?}");
        for x in &c {
            assert!(
                x.status == n::NDIS_STATUS_SUCCESS || x.status == n::NDIS_STATUS_RESET_IN_PROGRESS,
                "{corruption:?}: {:#x}",
                x.status as u32
            );
        }
        bus.start_tx_pump();
        let more = h.nbl(&NblSpec::frames(&[&udp4_out(b"after")])).unwrap();
        h.send(vec![more]).unwrap();
        assert_eq!(h.wait_completions(1, T)[0].status, n::NDIS_STATUS_SUCCESS);
        down(&mut h);
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_headers_and_frames_never_break_the_ring() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[], emu());
    up(&mut h);
    h.set_receive_capture(false);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tcp = tcp4_flow(5001, 80, 1, &pattern(1400, 5));
    let good = good_frame(7);
    let mut delivered = 0u64;
    for i in 0..3000u32 {
        let r = rng.next();
        let mut hdr = vnet(
            (r & 0x7) as u8,
            [0u8, 1, 3, 4, 5, 0x81][(r >> 3) as usize % 6],
            (r >> 8) as u16 % 200,
            (r >> 16) as u16 % 2000,
            (r >> 24) as u16 % 1600,
            (r >> 40) as u16 % 40,
        );
        hdr[10] = 0;
        let mut f = match i % 3 {
            0 => tcp.clone(),
            1 => good.clone(),
            _ => (0..(r >> 48) as usize % 1600 + 1)
                .map(|k| (k as u64 ^ r) as u8)
                .collect(),
        };
        if i % 5 == 0 && f.len() > 20 {
            let at = (r >> 33) as usize % f.len();
            f[at] ^= 0xA5;
        }
        if bus.device().deliver_rx(0, &hdr, &f).is_ok() {
            delivered += 1;
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert!(delivered > 2500);
    // Every delivered frame was either indicated or counted as dropped (wait for the backlog first,
    // so the probe frame below is the only indication captured).
    wait_for("all frames accounted", T, || {
        let st = statistics(&mut h);
        h.datapath_stats().indicated + st.ifInErrors + st.ifInDiscards >= delivered
    });
    h.set_receive_capture(true);
    still_receives(&mut h, &bus, 12345);
    down(&mut h);
}
