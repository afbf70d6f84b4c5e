//! Pause/restart and reset under traffic, halt after traffic (issue 7 §4, last bullet): while
//! TCP streams run both ways the adapter is paused and restarted, and reset; ndis-emu checks
//! that no send NBL is lost or completed twice, that every indicated NBL came back before each
//! pause completed, and that Halt leaves nothing allocated; the streams arrive intact.

use std::thread::JoinHandle;
use std::time::Duration;

use netkvm_e2e::traffic::{tcp_transfer, Res, StreamResult};
use netkvm_e2e::{E2e, Opts};
use testbed::NetNs;

fn stream(
    from: &NetNs,
    to: &NetNs,
    ip: std::net::Ipv4Addr,
    port: u16,
) -> JoinHandle<Res<StreamResult>> {
    let from = NetNs::existing(from.name()).unwrap();
    let to = NetNs::existing(to.name()).unwrap();
    std::thread::spawn(move || {
        tcp_transfer(&from, &to, ip, port, 512 << 20, Duration::from_secs(180))
    })
}

fn under_traffic(what: &str, op: impl Fn(&E2e)) {
    let e = E2e::start(Opts::default()).expect("bench");
    let up = stream(e.guest_ns(), e.host_ns(), e.host_ip(), 9001);
    let down = stream(e.host_ns(), e.guest_ns(), e.guest_ip(), 9002);
    std::thread::sleep(Duration::from_millis(200));
    // Operations while both streams run (at least 3, or the test proves nothing).
    let mut during = 0;
    while !up.is_finished() && !down.is_finished() && during < 20 {
        op(&e);
        during += 1;
        eprintln!(
            "{what} #{during}: tx {:?}",
            e.standin().tx_stats().nonzero()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        during >= 3,
        "only {during} {what}(s) overlapped the traffic"
    );
    let up = up.join().unwrap().expect("guest → host stream");
    let down = down.join().unwrap().expect("host → guest stream");
    assert!(up.intact(), "{up:?}");
    assert!(down.intact(), "{down:?}");
    let f = e.finish().unwrap();
    f.assert_clean();
    assert_eq!(
        f.tx.completed + f.tx.not_running,
        f.tx.nbls,
        "every NBL given to the miniport came back exactly once: {:?}",
        f.tx
    );
}

#[test]
fn pause_and_restart_under_bidirectional_traffic_lose_and_double_no_nbl() {
    testbed::require_testbed!();
    under_traffic("pause/restart", |e| {
        e.pause_restart().expect("pause + restart")
    });
}

#[test]
fn reset_under_bidirectional_traffic_completes_every_nbl_and_traffic_recovers() {
    testbed::require_testbed!();
    under_traffic("reset", |e| {
        e.reset().expect("reset");
    });
}

#[test]
fn halt_after_traffic_releases_everything() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let r = tcp_transfer(
        e.guest_ns(),
        e.host_ns(),
        e.host_ip(),
        9003,
        16 << 20,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(r.intact());
    let r = tcp_transfer(
        e.host_ns(),
        e.guest_ns(),
        e.guest_ip(),
        9004,
        16 << 20,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(r.intact());
    // finish: pause, halt (ndis-emu's leak checks: memory, pools, SG lists, timers), unload.
    e.finish().unwrap().assert_clean();
}
