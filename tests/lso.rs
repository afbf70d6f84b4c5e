//! TCP guest→host through the miniport's send path (issue 7 §4, second bullet): with LSO on
//! (the device segments: GSO frames on the host TAP), LSO off (Windows's stack segments: only
//! MTU frames), and `host_tso4=off` (the device cannot segment: the driver must, in software).
//! Every run: the bytes arrive intact (hash), fully checksummed frames on the host TAP verify,
//! every send completes successfully and LSO completions carry the info the spec prescribes.

use std::time::Duration;

use netkvm_e2e::capture::{CapSnap, Capture, Dir};
use netkvm_e2e::shape::TxSnap;
use netkvm_e2e::traffic::tcp_transfer;
use netkvm_e2e::{E2e, Opts};

const BYTES: u64 = 32 << 20;

fn run(opts: Opts, set_keywords: &[(&str, &str)]) -> (TxSnap, CapSnap) {
    let e = E2e::start(opts).expect("bench");
    if !set_keywords.is_empty() {
        e.set_keywords(set_keywords).expect("keywords");
    }
    let cap = Capture::start(e.host_ns(), e.tb().host_tap(), Dir::FromDevice, 1500).unwrap();
    let r = tcp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        5201,
        BYTES,
        Duration::from_secs(60),
    )
    .expect("transfer");
    let c = cap.stop();
    eprintln!("{:.2} Gbit/s, capture {c:?}", r.gbps());
    assert!(r.intact(), "data corrupted or lost: {r:?}");
    let f = e.finish().unwrap();
    eprintln!("stand-in tx {:?}", f.tx.nonzero());
    f.assert_clean();
    assert_eq!(f.tx.completed_failed, 0, "sends completed with failure");
    assert_eq!(
        f.tx.bad_lso_completion, 0,
        "LSO completion info wrong (spec §3.2)"
    );
    assert_eq!(
        c.bad_csum, 0,
        "frames with a wrong checksum on the host TAP"
    );
    (f.tx, c)
}

#[test]
fn tcp_guest_to_host_with_lso_arrives_intact_as_device_segmented_gso_frames() {
    testbed::require_testbed!();
    let (tx, c) = run(Opts::default(), &[]);
    assert!(tx.lso_v2 > 100, "the stand-in sent LSOv2 NBLs: {tx:?}");
    assert!(c.gso > 100, "the device got GSO frames (host TSO): {c:?}");
}

#[test]
fn tcp_guest_to_host_with_lso_disabled_puts_only_mtu_frames_on_the_wire() {
    testbed::require_testbed!();
    let (tx, c) = run(
        Opts::default(),
        &[
            ("*LsoV2IPv4", "0"),
            ("*LsoV1IPv4", "0"),
            ("*LsoV2IPv6", "0"),
        ],
    );
    assert_eq!(tx.lso_v2 + tx.lso_v1, 0, "LSO off: no large sends: {tx:?}");
    assert!(tx.sw_segmented > 0 || tx.tap_frames > 1000, "{tx:?}");
    assert_eq!((c.gso, c.over_mtu), (0, 0), "{c:?}");
}

#[test]
fn tcp_guest_to_host_with_host_tso4_off_is_segmented_by_the_driver() {
    testbed::require_testbed!();
    let (tx, c) = run(Opts::default().prop("host_tso4", "off"), &[]);
    assert!(
        tx.lso_v2 > 100,
        "the driver still offers LSO (software): {tx:?}"
    );
    assert_eq!(
        (c.gso, c.over_mtu),
        (0, 0),
        "only MTU frames reach the host: {c:?}"
    );
    assert!(c.tcp_segments > BYTES / 1460, "{c:?}");
}
