//! IPv6 through the miniport: TCP both ways over IPv6 uses LSOv2 with `IPVersion` = IPv6 (the
//! IPv6 payload length 0 and the pseudo-header without length, as Windows's stack hands it)
//! and RSC for IPv6; every byte arrives, no checksum claim is false.

use std::time::Duration;

use netkvm_e2e::traffic::tcp_transfer;
use netkvm_e2e::{E2e, Opts, GUEST_IP6, HOST_IP6};

#[test]
fn tcp_over_ipv6_uses_lsov2_ipv6_and_rsc_ipv6_and_arrives_intact() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().ipv6()).expect("bench");
    let t = Duration::from_secs(60);
    let up = tcp_transfer(e.guest_ns(), e.host_ns(), HOST_IP6, 5901, 32 << 20, t).unwrap();
    assert!(up.intact(), "{up:?}");
    let down = tcp_transfer(e.host_ns(), e.guest_ns(), GUEST_IP6, 5902, 32 << 20, t).unwrap();
    assert!(down.intact(), "{down:?}");
    let f = e.finish().unwrap();
    eprintln!("tx {:?}\nrx {:?}", f.tx.nonzero(), f.rx.nonzero());
    f.assert_clean();
    assert!(f.tx.lso_v2_ipv6 > 100, "LSOv2 over IPv6: {:?}", f.tx);
    assert_eq!(
        f.tx.completed_failed + f.tx.bad_lso_completion,
        0,
        "{:?}",
        f.tx
    );
    assert!(f.rx.scus_ipv6 > 50, "RSC over IPv6: {:?}", f.rx);
    assert_eq!(f.rx.scu_bad_length + f.rx.scu_malformed, 0, "{:?}", f.rx);
}
