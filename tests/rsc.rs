//! TCP host→guest with RSC (issue 7 §4, fourth bullet) in the three ways the host can deliver:
//! GRO super-frames (`GUEST_TSO4`), QEMU's own coalescer (`guest_rsc_ext=on`, segment counts in
//! the header, stale IPv4 checksum), and MTU frames (software RSC in the driver) — and with
//! RSC off. Checks: SCUs are indicated with plausible `CoalescedSegCount`s that add up to the
//! segments the host put on the wire, every SCU has a valid IPv4 header checksum, no checksum
//! claim is false, no byte is lost or changed, and `OID_TCP_RSC_STATISTICS` agrees with what
//! the stand-in saw.

use std::time::Duration;

use netkvm_e2e::capture::{CapSnap, Capture, Dir};
use netkvm_e2e::shape::RxSnap;
use netkvm_e2e::traffic::tcp_transfer;
use netkvm_e2e::{E2e, Opts};

const BYTES: u64 = 64 << 20;

struct Run {
    rx: RxSnap,
    cap: CapSnap,
    /// Frames the host TAP dropped because the device did not read them in time (the guest's
    /// rings were full): lost before the driver saw them, so the host retransmits them.
    tap_drops: u64,
    stats: Option<ndis_sys::NDIS_RSC_STATISTICS_INFO>,
    features: Vec<String>,
}

fn run(opts: Opts) -> Run {
    let e = E2e::start(opts).expect("bench");
    let features = e.negotiated_features().unwrap_or_default();
    let before = e.rsc_statistics().ok();
    let drops_before = e.host_tap_drops().expect("host TAP counters");
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::ToDevice, 1500).unwrap();
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        5301,
        BYTES,
        Duration::from_secs(90),
    )
    .expect("transfer");
    let c = cap.stop();
    let tap_drops = e
        .host_tap_drops()
        .expect("host TAP counters")
        .saturating_sub(drops_before);
    let after = e.rsc_statistics().ok();
    let stats = match (before, after) {
        (Some(b), Some(mut a)) => {
            a.CoalescedPkts -= b.CoalescedPkts.min(a.CoalescedPkts);
            a.CoalescedOctets -= b.CoalescedOctets.min(a.CoalescedOctets);
            a.CoalesceEvents -= b.CoalesceEvents.min(a.CoalesceEvents);
            Some(a)
        }
        _ => None,
    };
    eprintln!(
        "{:.2} Gbit/s; capture {c:?}; host TAP drops {tap_drops}",
        r.gbps()
    );
    assert!(r.intact(), "data corrupted or lost: {r:?}");
    let f = e.finish().unwrap();
    eprintln!("stand-in rx {:?}", f.rx.nonzero());
    f.assert_clean();
    assert_eq!(f.rx.lies(), 0);
    Run {
        rx: f.rx,
        cap: c,
        tap_drops,
        stats,
        features,
    }
}

/// Every data segment the host sent is counted once, in an SCU's count or as a frame of its own;
/// segments in frames the host TAP dropped never reached the driver (and were sent again).
fn assert_segments_counted(r: &Run) {
    let seen = r.rx.scu_segments + r.rx.tcp_data_frames;
    let msg = format!(
        "segments the host sent vs segments indicated ({} TAP drops): {:?} / {:?}",
        r.tap_drops, r.rx, r.cap
    );
    assert_eq!(r.cap.drops, 0, "the capture lost frames: {:?}", r.cap);
    if r.tap_drops == 0 {
        assert_eq!(seen, r.cap.tcp_segments, "{msg}");
    } else {
        assert!(seen < r.cap.tcp_segments, "{msg}");
    }
}

/// SCU checks common to every RSC mode.
fn coalesced(r: &Run, in_order: bool) {
    let rx = &r.rx;
    assert!(rx.scus > 50, "SCUs indicated: {rx:?}");
    assert!(
        rx.scu_segments > rx.scus,
        "more than one segment per SCU on average: {rx:?}"
    );
    assert_eq!(
        rx.scu_bad_ip_csum, 0,
        "SCUs with a stale IPv4 header checksum"
    );
    assert_eq!(rx.scu_bad_length, 0, "SCUs whose IP length is wrong");
    assert_eq!(
        rx.scu_missing_succeeded, 0,
        "SCUs without Ip/TcpChecksumSucceeded"
    );
    assert_eq!(rx.scu_malformed, 0);
    assert_eq!(rx.scu_count_implausible, 0, "impossible CoalescedSegCount");
    assert_eq!(
        rx.scu_dup_acks, 0,
        "DupAckCount > 0 makes NDIS turn RSC off"
    );
    if in_order {
        r.rx.assert_in_order(r.tap_drops);
    }
    if let Some(s) = r.stats {
        assert_eq!(
            s.CoalesceEvents, rx.scus,
            "RSC statistics vs SCUs seen: {s:?}"
        );
        assert_eq!(s.CoalescedPkts, rx.scu_segments, "{s:?}");
        assert_eq!(s.CoalescedOctets, rx.scu_payload, "{s:?}");
    } else {
        panic!("OID_TCP_RSC_STATISTICS not answered");
    }
}

#[test]
fn rsc_over_host_gro_super_frames_indicates_scus_counting_every_segment() {
    testbed::require_testbed!();
    let r = run(Opts::default());
    coalesced(&r, true);
    // Each host GSO frame's segments are either inside an SCU or indicated alone.
    assert_segments_counted(&r);
}

#[test]
fn rsc_over_qemu_rsc_ext_uses_the_header_counts_and_fixes_the_stale_ip_checksum() {
    testbed::require_testbed!();
    let r = run(Opts::default().qemu_rsc(300_000));
    assert!(
        r.features.iter().any(|f| f == "VIRTIO_NET_F_RSC_EXT"),
        "the driver must accept RSC_EXT when QEMU offers it (HLK RSC runs use it): {:?}",
        r.features
    );
    // QEMU itself may drop a cached segment (recipe §8 defect 3): gaps are possible.
    coalesced(&r, false);
    // QEMU may drop a cached segment when the ring is full (recipe §8 defect 3): never more
    // segments indicated than sent.
    assert_eq!(r.cap.drops, 0, "the capture lost frames: {:?}", r.cap);
    // QEMU counts a pure ACK it absorbed into a chain as a segment (here the connection's
    // handshake ACK, the one pure ACK the sending host emits; the conformance suite shows the same
    // for window updates): one more than the data segments. The driver reports the header's count.
    assert!(
        r.rx.scu_segments + r.rx.tcp_data_frames <= r.cap.tcp_segments + 1,
        "more segments indicated than sent: {:?} / {:?}",
        r.rx,
        r.cap
    );
}

#[test]
fn software_rsc_coalesces_mtu_frames_when_the_host_cannot() {
    testbed::require_testbed!();
    let r = run(Opts::default()
        .prop("guest_tso4", "off")
        .prop("guest_tso6", "off"));
    assert_eq!(
        r.cap.gso, 0,
        "the host sends MTU frames in this mode: {:?}",
        r.cap
    );
    coalesced(&r, true);
    // Software RSC counts exactly the segments it merged.
    assert_segments_counted(&r);
}

#[test]
fn rsc_disabled_indicates_no_coalesced_frames() {
    testbed::require_testbed!();
    let r = run(Opts::default().kw("*RscIPv4", "0").kw("*RscIPv6", "0"));
    assert_eq!(r.rx.scus, 0, "no SCU with RSC off: {:?}", r.rx);
    assert_eq!(
        r.rx.oversize, 0,
        "no frame above the MTU either: {:?}",
        r.rx
    );
    r.rx.assert_in_order(r.tap_drops);
}
