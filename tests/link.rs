//! Link, addressing and reachability through the real miniport (issue 7 §4, first bullet):
//! link up after Restart, ARP and ping both ways, the MAC from the device and from the
//! registry, link down/up from QEMU as `NDIS_STATUS_LINK_STATE` indications.

use std::time::Duration;

use ndis_sys as n;
use netkvm_e2e::traffic::{neighbour, ping};
use netkvm_e2e::{E2e, Opts};

const DEVICE_MAC: &str = "52:54:00:12:34:56";

fn mac_str(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn connect_state(r: &ndis_emu::StatusRecord) -> i32 {
    r.link_state().map_or(-1, |l| l.MediaConnectState)
}

/// The link state NDIS keeps for the adapter: the last `NDIS_STATUS_LINK_STATE` indication, else
/// the `MediaConnectState` of the general attributes set at initialisation.
fn link_state(e: &E2e) -> i32 {
    let last = e
        .statuses()
        .unwrap()
        .into_iter()
        .rfind(|s| s.code == n::NDIS_STATUS_LINK_STATE);
    match last {
        Some(s) => connect_state(&s),
        None => e
            .with_harness(|h| h.attributes().general.map(|g| g.MediaConnectState))
            .unwrap()
            .unwrap_or(-1),
    }
}

#[test]
fn link_is_up_after_restart_and_arp_and_ping_work_both_ways() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    assert_eq!(
        link_state(&e),
        n::MediaConnectStateConnected,
        "link reported up (NDIS 6 keeps the link state from the general attributes and the \
         LINK_STATE indications; OID_GEN_MEDIA_CONNECT_STATUS is answered by NDIS from them)"
    );
    assert_eq!(
        ping(e.guest_ns(), e.host_ip(), 5).unwrap(),
        5,
        "guest → host"
    );
    assert_eq!(
        ping(e.host_ns(), e.guest_ip(), 5).unwrap(),
        5,
        "host → guest"
    );
    // ARP went through the miniport both ways: each side resolved the other's MAC.
    let host_mac = netkvm_e2e::traffic::mac_of(e.host_ns(), e.tb().host_tap()).unwrap();
    assert_eq!(
        neighbour(e.guest_ns(), e.host_ip()).as_deref(),
        Some(host_mac.as_str())
    );
    assert_eq!(
        neighbour(e.host_ns(), e.guest_ip()).as_deref(),
        Some(DEVICE_MAC)
    );
    let s = e.standin().rx_stats();
    assert!(
        s.frames >= 10,
        "replies came up through the miniport: {s:?}"
    );
    e.finish().unwrap().assert_clean();
}

#[test]
fn mac_address_is_the_device_mac_without_a_registry_override() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let perm = e.oid_query(n::OID_802_3_PERMANENT_ADDRESS, 6).unwrap();
    let cur = e.oid_query(n::OID_802_3_CURRENT_ADDRESS, 6).unwrap();
    assert_eq!(mac_str(&perm.data), DEVICE_MAC);
    assert_eq!(mac_str(&cur.data), DEVICE_MAC);
    assert_eq!(ping(e.host_ns(), e.guest_ip(), 2).unwrap(), 2);
    assert_eq!(
        neighbour(e.host_ns(), e.guest_ip()).as_deref(),
        Some(DEVICE_MAC)
    );
    e.finish().unwrap().assert_clean();
}

#[test]
fn network_address_keyword_replaces_the_current_mac_on_the_wire() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default().kw("NetworkAddress", "02AABBCCDDEE")).expect("bench");
    let perm = e.oid_query(n::OID_802_3_PERMANENT_ADDRESS, 6).unwrap();
    let cur = e.oid_query(n::OID_802_3_CURRENT_ADDRESS, 6).unwrap();
    assert_eq!(
        mac_str(&perm.data),
        DEVICE_MAC,
        "permanent stays the device's"
    );
    assert_eq!(mac_str(&cur.data), "02:aa:bb:cc:dd:ee");
    // Frames to the new address must get through the device's filter and the miniport's.
    assert_eq!(ping(e.host_ns(), e.guest_ip(), 3).unwrap(), 3);
    assert_eq!(
        neighbour(e.host_ns(), e.guest_ip()).as_deref(),
        Some("02:aa:bb:cc:dd:ee")
    );
    e.finish().unwrap().assert_clean();
}

#[test]
fn qemu_link_down_and_up_are_indicated_as_ndis_link_state() {
    testbed::require_testbed!();
    let e = E2e::start(Opts::default()).expect("bench");
    let before = e.statuses().unwrap().len();
    e.set_link(false).unwrap();
    let down = e
        .wait_status(n::NDIS_STATUS_LINK_STATE, before, Duration::from_secs(10))
        .unwrap()
        .expect("a LINK_STATE indication after set_link off");
    assert_eq!(connect_state(&down), n::MediaConnectStateDisconnected);
    assert_eq!(link_state(&e), n::MediaConnectStateDisconnected);
    assert_eq!(
        ping(e.guest_ns(), e.host_ip(), 2).unwrap(),
        0,
        "no traffic while down"
    );
    let mid = e.statuses().unwrap().len();
    e.set_link(true).unwrap();
    let up = e
        .wait_status(n::NDIS_STATUS_LINK_STATE, mid, Duration::from_secs(10))
        .unwrap()
        .expect("a LINK_STATE indication after set_link on");
    assert_eq!(connect_state(&up), n::MediaConnectStateConnected);
    assert!(
        up.link_state().is_some_and(|l| l.XmitLinkSpeed > 0),
        "speed reported with the connected state"
    );
    // The guest kernel gave up resolving the host while the link was down; Windows's stack
    // re-resolves on link up — do the same.
    e.guest_ns().ip(&["neigh", "flush", "all"]).unwrap();
    let t0 = e.standin().tx_stats();
    let r0 = e.standin().rx_stats();
    let n = ping(e.guest_ns(), e.host_ip(), 3).unwrap();
    assert_eq!(
        n,
        3,
        "traffic again after link up; stand-in tx {:?} rx {:?} errors {:?}",
        e.standin().tx_stats().since(&t0).nonzero(),
        e.standin().rx_stats().since(&r0).nonzero(),
        (e.standin().errors(), e.standin().wakeups())
    );
    e.finish().unwrap().assert_clean();
}
