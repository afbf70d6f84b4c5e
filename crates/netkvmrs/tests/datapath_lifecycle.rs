//! Every completion path with traffic in flight: pause (sends in the backpressure queue and in the ring,
//! receives held by the protocol), NDIS reset, surprise removal, D3/D0 — each NBL completed exactly once
//! with the right status (ndis-emu fails the test otherwise), nothing leaked at Halt, traffic resuming.

mod datapath_support;

use std::sync::Arc;
use std::time::Duration;

use datapath_support::*;
use ndis_emu::{NblSpec, PowerState};
use ndis_sys as n;
use netkvm_virtio::fake::FakeConfig;

const T: Duration = Duration::from_secs(10);

fn send_n(h: &mut ndis_emu::Harness, count: u32) {
    let nbls: Vec<_> = (0..count)
        .map(|i| {
            h.nbl(&NblSpec::frames(&[&udp4_out(&i.to_be_bytes())]))
                .unwrap()
        })
        .collect();
    h.send(nbls).unwrap();
}

/// Pumps the device's TX queues after `delay`, from another thread.
fn pump_later(
    bus: &Arc<ndis_emu::bus::fake::FakeBus>,
    delay: Duration,
) -> std::thread::JoinHandle<usize> {
    let b = bus.clone();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut total = 0;
        for _ in 0..50 {
            total += b.pump_tx_once().len();
            std::thread::sleep(Duration::from_millis(2));
        }
        total
    })
}

#[test]
fn pause_waits_for_sends_in_the_ring_and_held_receives_and_fails_the_queued_ones() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    h.set_manual_return(true);
    for i in 0..5u8 {
        deliver(
            &bus,
            0,
            &udp4(PEER_MAC, DEV_MAC, 53, 4000, &pattern(100, i)),
        );
    }
    assert_eq!(recv_n(&mut h, 5, T).len(), 5);
    assert_eq!(h.outstanding_receives(), 5);
    send_n(&mut h, 40);
    // 16 in the ring, 24 queued. The device consumes the ring only later: the pause must wait for it.
    let pump = pump_later(&bus, Duration::from_millis(200));
    let start = std::time::Instant::now();
    h.pause().expect("pause");
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "the pause completed before the sends in the ring"
    );
    let c = h.wait_completions(40, T);
    assert_eq!(c.len(), 40);
    let ok = c
        .iter()
        .filter(|x| x.status == n::NDIS_STATUS_SUCCESS)
        .count();
    let paused = c
        .iter()
        .filter(|x| x.status == n::NDIS_STATUS_PAUSED)
        .count();
    assert_eq!(
        (ok, paused),
        (16, 24),
        "ring: sent; queue: failed with PAUSED"
    );
    assert_eq!(
        pump.join().unwrap(),
        16,
        "nothing posted after the pause began"
    );
    assert_eq!(
        h.outstanding_receives(),
        0,
        "held receives came back before the pause completed"
    );
    h.restart().unwrap();
    bus.start_tx_pump();
    send_n(&mut h, 3);
    assert_eq!(bus.wait_tx(3, T).len(), 3);
    assert_eq!(h.wait_completions(3, T).len(), 3);
    down(&mut h);
}

#[test]
fn an_ndis_reset_with_traffic_in_flight_completes_every_send_and_reposts_every_buffer() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    send_n(&mut h, 40);
    std::thread::sleep(Duration::from_millis(20));
    h.reset().expect("reset");
    let c = h.wait_completions(40, T);
    assert_eq!(c.len(), 40);
    assert!(c
        .iter()
        .all(|x| x.status == n::NDIS_STATUS_RESET_IN_PROGRESS));
    // Every receive buffer is posted again: a full ring's worth is accepted in one burst.
    for i in 0..256u32 {
        deliver(
            &bus,
            0,
            &udp4(PEER_MAC, DEV_MAC, 53, 4000, &i.to_be_bytes()),
        );
    }
    assert_eq!(recv_n(&mut h, 256, T).len(), 256);
    bus.start_tx_pump();
    send_n(&mut h, 5);
    assert_eq!(bus.wait_tx(5, T).len(), 5);
    assert!(h
        .wait_completions(5, T)
        .iter()
        .all(|x| x.status == n::NDIS_STATUS_SUCCESS));
    down(&mut h);
}

#[test]
fn surprise_removal_aborts_the_sends_the_device_will_never_complete() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    h.set_manual_return(true);
    deliver(
        &bus,
        0,
        &udp4(PEER_MAC, DEV_MAC, 53, 4000, b"held at removal"),
    );
    assert_eq!(recv_n(&mut h, 1, T).len(), 1);
    send_n(&mut h, 30);
    std::thread::sleep(Duration::from_millis(20));
    h.surprise_remove().expect("surprise removal");
    let c = h.wait_completions(30, T);
    assert_eq!(c.len(), 30);
    assert!(c.iter().all(|x| x.status == n::NDIS_STATUS_SEND_ABORTED));
    // Halt (inside surprise_remove) checked that nothing leaked and every receive came back.
    h.unload().expect("unload");
}

#[test]
fn d3_and_d0_with_traffic_keep_every_nbl_and_restore_the_datapath() {
    let _s = serial();
    let (mut h, bus) = harness(FakeConfig::default(), &[("TxCapacity", "16")], emu());
    up(&mut h);
    send_n(&mut h, 20);
    let pump = pump_later(&bus, Duration::from_millis(100));
    let r = h.set_power(PowerState::D3).expect("D3");
    assert!(r.ok());
    pump.join().unwrap();
    let c = h.wait_completions(20, T);
    assert_eq!(c.len(), 20);
    assert!(c
        .iter()
        .all(|x| x.status == n::NDIS_STATUS_SUCCESS || x.status == n::NDIS_STATUS_PAUSED));
    let r = h.set_power(PowerState::D0).expect("D0");
    assert!(r.ok());
    bus.start_tx_pump();
    send_n(&mut h, 4);
    assert_eq!(bus.wait_tx(4, T).len(), 4);
    for i in 0..300u32 {
        deliver(
            &bus,
            0,
            &udp4(PEER_MAC, DEV_MAC, 53, 4000, &i.to_be_bytes()),
        );
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(recv_n(&mut h, 300, T).len(), 300);
    down(&mut h);
}
