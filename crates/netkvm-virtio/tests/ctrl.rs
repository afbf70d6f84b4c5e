//! Control queue: command encoding per spec, and the hostile completions.

mod common;

use common::*;
use netkvm_virtio::ctrl::{cmd, CtrlWait, RssConfig, RxMode, VlanFilter, VIRTIO_NET_ERR};
use netkvm_virtio::fake::{CtrlBehavior, CtrlRecord, FakeConfig};
use netkvm_virtio::{CtrlError, Features, QueueError, UsedFault};

fn rec(class: u8, c: u8, data: &[u8]) -> CtrlRecord {
    CtrlRecord {
        class,
        cmd: c,
        data: data.to_vec(),
    }
}

#[test]
fn commands_are_encoded_per_spec() {
    let (dev, t, _) = up(
        FakeConfig {
            pairs: 4,
            ..FakeConfig::default()
        },
        all_net(),
    );
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    t.driver_ok();
    c.set_rx_mode(RxMode::Promiscuous, true).unwrap();
    c.set_rx_mode(RxMode::NoBroadcast, false).unwrap();
    c.set_mac_table(
        &[[2, 0, 0, 0, 0, 1]],
        &[[1, 0, 0x5e, 0, 0, 1], [0x33, 0x33, 0, 0, 0, 1]],
    )
    .unwrap();
    c.set_mac_address([2, 1, 2, 3, 4, 5]).unwrap();
    c.vlan(100, true).unwrap();
    c.vlan(100, false).unwrap();
    c.set_queue_pairs(4).unwrap();
    c.set_guest_offloads(Features::GUEST_CSUM | Features::GUEST_TSO4 | Features::RSC_EXT)
        .unwrap();
    c.set_hash_config(0x12, &[0xAA; 40]).unwrap();
    let log = dev.ctrl_log();
    let mut hash = vec![0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40];
    hash.extend([0xAA; 40]);
    let expected = vec![
        rec(0, 0, &[1]),
        rec(0, 5, &[0]),
        rec(
            1,
            0,
            &[
                1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0x5e, 0, 0, 1, 0x33, 0x33, 0, 0, 0,
                1,
            ],
        ),
        rec(1, 1, &[2, 1, 2, 3, 4, 5]),
        rec(2, 0, &[100, 0]),
        rec(2, 1, &[100, 0]),
        rec(4, 0, &[4, 0]),
        // GUEST_CSUM (1) | GUEST_TSO4 (1<<7) | RSC_EXT (1<<61), le64.
        rec(5, 0, &[0x82, 0, 0, 0, 0, 0, 0, 0x20]),
        rec(4, 2, &hash),
    ];
    assert_eq!(log, expected);
}

#[test]
fn rss_config_layout_matches_virtio_net_rss_config() {
    let (dev, t, _) = up(
        FakeConfig {
            pairs: 4,
            ..FakeConfig::default()
        },
        all_net(),
    );
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    let key: Vec<u8> = (0..40).collect();
    c.set_rss(&RssConfig {
        hash_types: 0x2 | 0x10,
        indirection_table: &[0, 1, 2, 3, 3, 2, 1, 0],
        unclassified_queue: 1,
        max_tx_vq: 4,
        key: &key,
    })
    .unwrap();
    let log = dev.ctrl_log();
    let d = &log[0].data;
    assert_eq!(
        (log[0].class, log[0].cmd),
        (cmd::CLASS_MQ, cmd::MQ_RSS_CONFIG)
    );
    assert_eq!(&d[0..4], &0x12u32.to_le_bytes(), "hash_types");
    assert_eq!(
        &d[4..6],
        &7u16.to_le_bytes(),
        "indirection_table_mask = len - 1"
    );
    assert_eq!(&d[6..8], &1u16.to_le_bytes(), "unclassified_queue");
    let table: Vec<u16> = d[8..24]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(table, [0, 1, 2, 3, 3, 2, 1, 0]);
    assert_eq!(&d[24..26], &4u16.to_le_bytes(), "max_tx_vq");
    assert_eq!(d[26], 40, "hash_key_length");
    assert_eq!(&d[27..], &key[..]);
}

#[test]
fn rss_arguments_outside_device_limits_are_refused_before_sending() {
    let (dev, t, _) = up(
        FakeConfig {
            pairs: 4,
            ..FakeConfig::default()
        },
        all_net(),
    );
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    let key = [0u8; 40];
    let ok = RssConfig {
        hash_types: 0x2,
        indirection_table: &[0, 1],
        unclassified_queue: 0,
        max_tx_vq: 2,
        key: &key,
    };
    let bad = CtrlError::InvalidArgument {
        class: cmd::CLASS_MQ,
        cmd: cmd::MQ_RSS_CONFIG,
    };
    let table_129 = [0u16; 129];
    let table_256 = [0u16; 256];
    let key_41 = [0u8; 41];
    for r in [
        RssConfig {
            indirection_table: &[0, 1, 2],
            ..ok
        }, // not a power of two
        RssConfig {
            indirection_table: &table_129,
            ..ok
        }, // not a power of two
        RssConfig {
            indirection_table: &table_256,
            ..ok
        }, // > 128
        RssConfig {
            indirection_table: &[0, 4],
            ..ok
        }, // queue ≥ pairs
        RssConfig { key: &key_41, ..ok }, // key > 40
        RssConfig {
            hash_types: 1 << 9,
            ..ok
        }, // unsupported type
        RssConfig { max_tx_vq: 0, ..ok },
        RssConfig { max_tx_vq: 5, ..ok },
        RssConfig {
            unclassified_queue: 4,
            ..ok
        },
    ] {
        assert_eq!(c.set_rss(&r), Err(bad));
    }
    assert!(dev.ctrl_log().is_empty(), "nothing reached the device");
    c.set_rss(&ok).unwrap();
}

#[test]
fn commands_without_their_feature_are_unsupported() {
    let wanted = Features::all()
        - (Features::CTRL_RX_EXTRA | Features::CTRL_MAC_ADDR | Features::RSS | Features::MQ);
    let (dev, t, f) = up(FakeConfig::default(), wanted);
    assert!(f.contains(Features::CTRL_RX));
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    assert_eq!(
        c.set_rx_mode(RxMode::AllUnicast, true),
        Err(CtrlError::Unsupported { class: 0, cmd: 2 })
    );
    assert_eq!(
        c.set_mac_address([2; 6]),
        Err(CtrlError::Unsupported { class: 1, cmd: 1 })
    );
    assert_eq!(
        c.set_queue_pairs(1),
        Err(CtrlError::Unsupported { class: 4, cmd: 0 })
    );
    assert!(dev.ctrl_log().is_empty());
    // Offloads that were not negotiated cannot be switched on.
    assert_eq!(
        c.set_guest_offloads(Features::GUEST_UFO),
        Err(CtrlError::InvalidArgument { class: 5, cmd: 0 })
    );
    assert_eq!(
        c.vlan(4096, true),
        Err(CtrlError::InvalidArgument { class: 2, cmd: 0 })
    );
}

#[test]
fn device_rejection_is_a_failed_request_not_a_dead_device() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    dev.set_ctrl_reply(VIRTIO_NET_ERR);
    assert_eq!(
        c.set_rx_mode(RxMode::Promiscuous, true),
        Err(CtrlError::DeviceRejected { class: 0, cmd: 0 })
    );
    assert!(!c.is_stuck());
    dev.set_ctrl_reply(0);
    c.set_rx_mode(RxMode::Promiscuous, true).unwrap();
    assert_eq!(dev.ctrl_log().len(), 2);
}

#[test]
fn bogus_ack_is_a_typed_error() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    dev.set_ctrl_reply(0x5A);
    assert_eq!(
        c.announce_ack(),
        Err(CtrlError::BogusReply {
            class: 3,
            cmd: 0,
            ack: 0x5A
        })
    );
}

#[test]
fn completion_with_zero_length_is_a_typed_error() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::ZeroLength);
    assert_eq!(
        c.set_rx_mode(RxMode::AllMulticast, true),
        Err(CtrlError::BogusCompletion { len: 0 })
    );
}

#[test]
fn completion_with_wrong_id_is_a_typed_error() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::WrongId);
    // Head 0 is posted; the device claims id 1, which is a descriptor of the same chain
    // but not a chain head in flight.
    assert_eq!(
        c.set_rx_mode(RxMode::AllMulticast, true),
        Err(CtrlError::Queue(QueueError::Device(
            UsedFault::IdNotInFlight { id: 1 }
        )))
    );
}

#[test]
fn device_that_never_completes_times_out_then_blocks_until_reset() {
    let (dev, mut t, f) = up(FakeConfig::default(), all_net());
    let wait = CtrlWait {
        polls: 100,
        interval_us: 1,
    };
    let (mut c, _) = ctrl(&t, wait);
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::NeverComplete);
    let stalls = dev.stalls();
    assert_eq!(
        c.set_queue_pairs(1),
        Err(CtrlError::Timeout { class: 4, cmd: 0 })
    );
    assert_eq!(dev.stalls() - stalls, 100, "bounded wait");
    assert!(c.is_stuck());
    assert_eq!(
        c.set_queue_pairs(1),
        Err(CtrlError::Stuck),
        "buffer still owned by the device"
    );
    // Miniport: reset the device, take the command back, re-activate, carry on.
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::Normal);
    t.begin_init().unwrap();
    t.negotiate(f).unwrap();
    // SAFETY: the device was reset.
    unsafe { c.recover_after_reset() };
    let idx = c.queue().index();
    t.setup_queue(idx, 64).unwrap();
    t.activate_queue(idx, c.queue().addresses(), None).unwrap();
    c.set_queue_pairs(1).unwrap();
}

#[test]
fn slow_device_within_the_wait_succeeds() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(
        &t,
        CtrlWait {
            polls: 100,
            interval_us: 1,
        },
    );
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::CompleteAfterStalls(50));
    c.set_rx_mode(RxMode::Promiscuous, false).unwrap();
    dev.update_misbehavior(|m| m.ctrl = CtrlBehavior::CompleteAfterStalls(150));
    assert!(matches!(
        c.set_rx_mode(RxMode::Promiscuous, false),
        Err(CtrlError::Timeout { .. })
    ));
}

#[test]
fn command_larger_than_buffer_is_refused() {
    let (_dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    let many = vec![[1u8, 0, 0x5e, 0, 0, 1]; 700];
    assert!(matches!(
        c.set_mac_table(&[], &many),
        Err(CtrlError::TooLarge { .. })
    ));
    assert!(!c.is_stuck());
}

#[test]
fn announce_ack_clears_announce_status() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    dev.request_announce();
    assert!(t.read_net_config().unwrap().announce);
    c.announce_ack().unwrap();
    assert!(!t.read_net_config().unwrap().announce);
}

#[test]
fn vlan_filter_sends_only_differences() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    let mut v = VlanFilter::new();
    assert_eq!(v.commands_needed(&[10, 20]), 2);
    assert_eq!(v.sync(&mut c, &[10, 20]).unwrap(), 2);
    assert_eq!(v.sync(&mut c, &[10, 20]).unwrap(), 0, "already programmed");
    assert_eq!(v.sync(&mut c, &[20, 30]).unwrap(), 2, "del 10, add 30");
    let log = dev.ctrl_log();
    let ops: Vec<(u8, u16)> = log
        .iter()
        .map(|r| (r.cmd, u16::from_le_bytes([r.data[0], r.data[1]])))
        .collect();
    assert_eq!(ops, [(0, 10), (0, 20), (1, 10), (0, 30)]);
}

#[test]
fn vlan_filter_mirror_stays_equal_to_device_on_failure() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    let (mut c, _) = ctrl(&t, CtrlWait::default());
    let mut v = VlanFilter::new();
    v.sync(&mut c, &[1]).unwrap();
    dev.set_ctrl_reply(VIRTIO_NET_ERR);
    assert!(v.sync(&mut c, &[1, 2, 3]).is_err());
    assert!(v.contains(1) && !v.contains(2) && !v.contains(3));
}

#[test]
fn passing_every_vlan_needs_no_ctrl_vlan_and_no_commands() {
    // NetKVM #1392 sent 4095 VLAN_ADDs; the rule here is not to negotiate CTRL_VLAN.
    assert!(!VlanFilter::wants_ctrl_vlan(None));
    assert!(VlanFilter::wants_ctrl_vlan(Some(&[5])));
    let mut wanted = Features::all();
    if !VlanFilter::wants_ctrl_vlan(None) {
        wanted.remove(Features::CTRL_VLAN);
    }
    let (dev, _t, f) = up(FakeConfig::default(), wanted);
    assert!(!f.contains(Features::CTRL_VLAN));
    assert!(dev.ctrl_log().is_empty());
    // And the cost is visible before anyone tries it on a CTRL_VLAN device.
    let all: Vec<u16> = (1..4095).collect();
    assert_eq!(VlanFilter::new().commands_needed(&all), 4094);
}
