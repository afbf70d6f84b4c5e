//! The bench itself, proven without the miniport: the stand-in on the pass-through ceiling
//! (netkvm-virtio rings driven directly) carries real kernels' traffic both ways, with no
//! checksum lie and every byte intact. If these fail, the end-to-end failures of the driver
//! tests mean nothing.

use std::time::Duration;

use netkvm_e2e::traffic::{ping, tcp_transfer, udp_transfer, UdpSpec};
use netkvm_e2e::{E2e, Opts};

#[test]
fn stand_in_over_the_pass_through_pings_and_moves_tcp_both_ways_intact() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().passthrough()).expect("bench");
    assert_eq!(
        ping(e.guest_ns(), e.host_ip(), 3).unwrap(),
        3,
        "guest → host ping"
    );
    assert_eq!(
        ping(e.host_ns(), e.guest_ip(), 3).unwrap(),
        3,
        "host → guest ping"
    );
    let up = tcp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        5001,
        32 << 20,
        Duration::from_secs(60),
    )
    .expect("guest → host TCP");
    assert!(up.intact(), "{up:?}");
    let down = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        5002,
        32 << 20,
        Duration::from_secs(60),
    )
    .expect("host → guest TCP");
    assert!(down.intact(), "{down:?}");
    let u = udp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        5003,
        UdpSpec::count(1472, 2000).gso(40),
    )
    .expect("UDP GSO");
    assert_eq!((u.received, u.bad), (2000, 0), "{u:?}");
    eprintln!(
        "up {:.2} Gbit/s, down {:.2} Gbit/s, tx {:?}, rx {:?}",
        up.gbps(),
        down.gbps(),
        e.standin().tx_stats().nonzero(),
        e.standin().rx_stats().nonzero()
    );
    let f = e.finish().unwrap();
    eprintln!("passthrough {:?}", f.passthrough);
    f.assert_clean();
}

#[test]
fn qemu_rsc_ext_through_the_pass_through_gives_plausible_counts_in_order() {
    testbed::require_testbed!();
    // The bench's setup of QEMU's coalescer (MTU segments in, counts in the header) checked
    // without the miniport: counts plausible, nothing reordered, every byte intact.
    let e = E2e::start(Opts::default().passthrough().qemu_rsc(300_000)).expect("bench");
    assert!(
        e.negotiated_features()
            .unwrap()
            .iter()
            .any(|f| f == "VIRTIO_NET_F_RSC_EXT"),
        "the pass-through negotiates RSC_EXT"
    );
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        5004,
        32 << 20,
        Duration::from_secs(60),
    )
    .expect("host → guest TCP");
    assert!(r.intact(), "{r:?}");
    let f = e.finish().unwrap();
    f.assert_clean();
    assert!(f.rx.scus > 50, "{:?}", f.rx);
    assert_eq!(
        (f.rx.scu_count_implausible, f.rx.tcp_gaps, f.rx.oversize),
        (0, 0, 0),
        "{:?}",
        f.rx
    );
}
