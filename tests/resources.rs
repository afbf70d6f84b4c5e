//! `NDIS_RECEIVE_FLAGS_RESOURCES`: when the miniport runs short of receive buffers it indicates
//! with this flag and NDIS (here: the stand-in) must copy the data before the indication
//! returns — the NBLs go straight back. `MinRxBufferPercent=100` makes every indication one.

use std::time::Duration;

use netkvm_e2e::traffic::tcp_transfer;
use netkvm_e2e::{E2e, Opts};

#[test]
fn indications_with_the_resources_flag_lose_no_data() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().kw("MinRxBufferPercent", "100")).expect("bench");
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        5801,
        32 << 20,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(r.intact(), "{r:?}");
    let f = e.finish().unwrap();
    f.assert_clean();
    assert!(
        f.rx.resources > 0,
        "with MinRxBufferPercent=100 indications carry NDIS_RECEIVE_FLAGS_RESOURCES: {:?}",
        f.rx
    );
}
