//! Transport bring-up against the fake PCI function, and every hostile transport case.

mod common;

use common::*;
use netkvm_virtio::error::ConfigField;
use netkvm_virtio::fake::{
    CapPlacement, FakeConfig, FakeNetDevice, Misbehavior, FAKE_BAR, FAKE_BAR_ADDRESS,
    FAKE_MSIX_BAR, FAKE_MSIX_BAR_ADDRESS,
};
use netkvm_virtio::pci::{bar_for_address, read_bars, BarKind, CapKind};
use netkvm_virtio::transport::{DeviceStatus, Duplex, IsrStatus, NO_VECTOR};
use netkvm_virtio::{Features, PciTransport, TransportError};

fn transport(dev: &FakeNetDevice) -> Result<PciTransport<FakeNetDevice>, TransportError> {
    PciTransport::new(dev.clone(), dev)
}

#[test]
fn capability_walk_finds_qemu_layout() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    let t = transport(&dev).unwrap();
    let c = t.caps();
    assert_eq!(
        (c.common.bar, c.common.offset, c.common.len),
        (FAKE_BAR, 0, 0x1000)
    );
    assert_eq!((c.isr.bar, c.isr.offset), (FAKE_BAR, 0x1000));
    assert_eq!(c.device.map(|d| d.offset), Some(0x2000));
    assert_eq!((c.notify.offset, c.notify_off_multiplier), (0x3000, 4));
    // 1 pair + control queue.
    assert_eq!(t.num_queues(), 3);
}

#[test]
fn bars_decode_and_match_resource_addresses() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    let bars = read_bars(&dev);
    let b4 = bars[usize::from(FAKE_BAR)].unwrap();
    assert_eq!(
        (b4.address, b4.kind, b4.prefetchable),
        (FAKE_BAR_ADDRESS, BarKind::Mem64, true)
    );
    assert!(
        bars[5].is_none(),
        "upper half of the 64-bit BAR is not a BAR"
    );
    assert_eq!(
        bars[usize::from(FAKE_MSIX_BAR)].unwrap().kind,
        BarKind::Mem32
    );
    assert_eq!(bar_for_address(&bars, FAKE_BAR_ADDRESS), Some(FAKE_BAR));
    assert_eq!(
        bar_for_address(&bars, FAKE_MSIX_BAR_ADDRESS),
        Some(FAKE_MSIX_BAR)
    );
    assert_eq!(bar_for_address(&bars, 0xDEAD_0000), None);
}

#[test]
fn capability_pointing_outside_bar_is_rejected() {
    let cfg = FakeConfig {
        device: CapPlacement {
            bar: FAKE_BAR,
            offset: 0x3800,
            length: 0x1000,
        },
        ..FakeConfig::default()
    };
    let dev = FakeNetDevice::new(cfg);
    assert_eq!(
        transport(&dev).unwrap_err(),
        TransportError::CapabilityOutsideBar {
            kind: CapKind::Device,
            bar: FAKE_BAR,
            offset: 0x3800,
            length: 0x1000,
            bar_len: 0x4000
        }
    );
    // Offset + length overflowing u32 arithmetic is caught too (computed in u64).
    let cfg = FakeConfig {
        common: CapPlacement {
            bar: FAKE_BAR,
            offset: 0xFFFF_FFF0,
            length: 0x100,
        },
        ..FakeConfig::default()
    };
    let dev = FakeNetDevice::new(cfg);
    assert!(matches!(
        transport(&dev),
        Err(TransportError::CapabilityOutsideBar {
            kind: CapKind::Common,
            ..
        })
    ));
}

#[test]
fn capability_on_unmapped_bar_is_rejected() {
    let cfg = FakeConfig {
        isr: CapPlacement {
            bar: 2,
            offset: 0,
            length: 4,
        },
        ..FakeConfig::default()
    };
    let dev = FakeNetDevice::new(cfg);
    assert_eq!(
        transport(&dev).unwrap_err(),
        TransportError::CapabilityBarUnmapped {
            kind: CapKind::Isr,
            bar: 2
        }
    );
}

#[test]
fn common_cfg_shorter_than_its_fields_is_rejected() {
    let cfg = FakeConfig {
        common: CapPlacement {
            bar: FAKE_BAR,
            offset: 0,
            length: 0x30,
        },
        ..FakeConfig::default()
    };
    let dev = FakeNetDevice::new(cfg);
    assert!(matches!(
        transport(&dev),
        Err(TransportError::CapabilityInvalid {
            kind: CapKind::Common,
            ..
        })
    ));
}

#[test]
fn notify_multiplier_that_is_odd_is_rejected() {
    let cfg = FakeConfig {
        notify_multiplier: 3,
        ..FakeConfig::default()
    };
    let dev = FakeNetDevice::new(cfg);
    assert!(matches!(
        transport(&dev),
        Err(TransportError::CapabilityInvalid {
            kind: CapKind::Notify,
            ..
        })
    ));
}

#[test]
fn capability_list_loop_is_rejected() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    // Last vendor cap (0x70) points back to the first (0x40): an endless list.
    dev.poke_pci(0x71, &[0x40]);
    dev.poke_pci(0x99, &[0x40]);
    assert_eq!(transport(&dev).unwrap_err(), TransportError::CapabilityLoop);
}

#[test]
fn missing_capability_is_rejected() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    // Turn the notify cap into an unknown cfg_type.
    dev.poke_pci(0x73, &[9]);
    assert_eq!(
        transport(&dev).unwrap_err(),
        TransportError::MissingCapability(CapKind::Notify)
    );
}

#[test]
fn wrong_device_id_is_rejected() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    dev.poke_pci(0x02, &[0x42, 0x10]); // 0x1042 = virtio-blk
    assert_eq!(
        transport(&dev).unwrap_err(),
        TransportError::NotVirtioNet {
            vendor: 0x1AF4,
            device: 0x1042
        }
    );
}

#[test]
fn reset_that_never_completes_times_out() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    let mut t = transport(&dev).unwrap();
    t.begin_init().unwrap();
    dev.set_misbehavior(Misbehavior {
        reset_never_completes: true,
        ..Misbehavior::default()
    });
    assert_eq!(
        t.reset().unwrap_err(),
        TransportError::ResetTimeout { status: 3 }
    );
    // Bounded: exactly RESET_POLLS stalls of 10 µs.
    assert_eq!(
        dev.stalls(),
        u64::from(netkvm_virtio::transport::RESET_POLLS)
    );
}

#[test]
fn features_ok_refused_is_a_typed_error() {
    let dev = FakeNetDevice::new(FakeConfig::default());
    let mut t = transport(&dev).unwrap();
    t.begin_init().unwrap();
    dev.set_misbehavior(Misbehavior {
        refuse_features_ok: true,
        ..Misbehavior::default()
    });
    assert!(matches!(
        t.negotiate(Features::CSUM),
        Err(TransportError::FeaturesNotAccepted { .. })
    ));
    assert!(!DeviceStatus::from_bits_retain(dev.status()).contains(DeviceStatus::FEATURES_OK));
}

#[test]
fn legacy_only_device_is_rejected() {
    let mut cfg = FakeConfig::default();
    cfg.features.remove(Features::VERSION_1);
    let dev = FakeNetDevice::new(cfg);
    let mut t = transport(&dev).unwrap();
    t.begin_init().unwrap();
    assert_eq!(
        t.negotiate(Features::all()).unwrap_err(),
        TransportError::Version1NotOffered
    );
}

#[test]
fn negotiation_writes_sanitised_subset_and_sets_features_ok() {
    let mut cfg = FakeConfig::default();
    cfg.features.remove(Features::CSUM); // HOST_TSO4/6, HOST_USO, RSC_EXT now lack their base
    cfg.features
        .insert(Features::RING_PACKED | Features::NOTIFICATION_DATA);
    let (dev, t, f) = up(cfg, Features::all());
    for gone in [
        Features::HOST_TSO4,
        Features::HOST_TSO6,
        Features::HOST_USO,
        Features::RSC_EXT,
        Features::RING_PACKED,
        Features::NOTIFICATION_DATA,
    ] {
        assert!(!f.contains(gone), "{gone:?} must not be negotiated");
    }
    assert!(f.contains(
        Features::VERSION_1 | Features::GUEST_TSO4 | Features::MRG_RXBUF | Features::RING_EVENT_IDX
    ));
    assert_eq!(
        dev.driver_features(),
        f,
        "device sees exactly the negotiated set"
    );
    assert_eq!(t.features(), f);
    let s = DeviceStatus::from_bits_retain(dev.status());
    assert_eq!(
        s,
        DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK
    );
    t.driver_ok();
    assert!(DeviceStatus::from_bits_retain(dev.status()).contains(DeviceStatus::DRIVER_OK));
}

#[test]
fn queue_size_zero_is_rejected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    dev.update_misbehavior(|m| m.queue_size = Some(0));
    assert_eq!(
        t.setup_queue(0, 256).unwrap_err(),
        TransportError::QueueSizeZero { index: 0 }
    );
}

#[test]
fn queue_size_not_power_of_two_is_rejected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    dev.update_misbehavior(|m| m.queue_size = Some(100));
    assert_eq!(
        t.setup_queue(1, 256).unwrap_err(),
        TransportError::QueueSizeNotPowerOfTwo {
            index: 1,
            size: 100
        }
    );
}

#[test]
fn queue_size_larger_than_driver_max_is_shrunk() {
    let cfg = FakeConfig {
        queue_size: 1024,
        ..FakeConfig::default()
    };
    let (dev, t, _) = up(cfg, all_net());
    // 300 is not a power of two: the driver's maximum rounds down to 256.
    let s = t.setup_queue(0, 300).unwrap();
    assert_eq!(s.size, 256);
    assert_eq!(dev.queue_size(0), Some(256));
    // A smaller device size is kept.
    let s = t.setup_queue(1, 4096).unwrap();
    assert_eq!(s.size, 1024);
    // Driver max 0 is refused rather than producing a zero-sized queue.
    assert!(matches!(
        t.setup_queue(2, 0),
        Err(TransportError::QueueSizeTooLarge { .. })
    ));
}

#[test]
fn queue_index_beyond_num_queues_is_rejected() {
    let (_dev, t, _) = up(FakeConfig::default(), all_net());
    assert_eq!(
        t.setup_queue(3, 256).unwrap_err(),
        TransportError::QueueIndexOutOfRange {
            index: 3,
            num_queues: 3
        }
    );
}

#[test]
fn queues_the_device_adds_at_features_ok_are_usable() {
    // QEMU's virtio-net: one pair + control until MQ is accepted, then every pair.
    let dev = FakeNetDevice::new(FakeConfig {
        pairs: 2,
        ..FakeConfig::default()
    });
    dev.set_misbehavior(Misbehavior {
        queues_added_at_features_ok: true,
        ..Misbehavior::default()
    });
    let mut t = transport(&dev).unwrap();
    t.begin_init().unwrap();
    assert_eq!(t.num_queues(), 3, "before negotiation: one pair + control");
    t.negotiate(all_net()).unwrap();
    assert_eq!(
        t.num_queues(),
        5,
        "after FEATURES_OK with MQ: two pairs + control"
    );
    // The second pair's TX queue and the control queue behind it can be set up.
    assert!(t.setup_queue(3, 256).is_ok());
    assert!(t.setup_queue(4, 64).is_ok());
    // Without MQ the device goes back to one pair, also across a reset.
    t.begin_init().unwrap();
    assert_eq!(
        t.num_queues(),
        5,
        "the count survives the reset (as in QEMU)"
    );
    t.negotiate(all_net().difference(Features::MQ.union(Features::RSS)))
        .unwrap();
    assert_eq!(t.num_queues(), 3);
    assert_eq!(
        t.setup_queue(3, 256).unwrap_err(),
        TransportError::QueueIndexOutOfRange {
            index: 3,
            num_queues: 3
        }
    );
}

#[test]
fn notify_offset_outside_capability_is_rejected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    // 0x400 × 4 + 2 > 0x1000.
    dev.update_misbehavior(|m| m.notify_off = Some(0x400));
    assert_eq!(
        t.setup_queue(0, 256).unwrap_err(),
        TransportError::NotifyOutsideCapability {
            index: 0,
            notify_off: 0x400
        }
    );
    dev.update_misbehavior(|m| m.notify_off = Some(0x3FF));
    let s = t.setup_queue(0, 256).unwrap();
    assert_eq!(s.notify.offset, 0x3000 + 0x3FF * 4);
}

#[test]
fn msix_vector_refused_is_a_typed_error() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    t.set_config_vector(2).unwrap();
    t.set_queue_vector(0, 0).unwrap();
    assert_eq!(dev.queue_vector(0), Some(0));
    // Vector beyond the table: the device answers NO_VECTOR.
    assert_eq!(
        t.set_queue_vector(1, 8).unwrap_err(),
        TransportError::MsixVectorRejected {
            queue: Some(1),
            vector: 8,
            read_back: NO_VECTOR
        }
    );
    dev.update_misbehavior(|m| m.refuse_msix = true);
    assert_eq!(
        t.set_config_vector(1).unwrap_err(),
        TransportError::MsixVectorRejected {
            queue: None,
            vector: 1,
            read_back: NO_VECTOR
        }
    );
    // Writing NO_VECTOR (switching MSI-X off for a queue) is not an error.
    t.set_queue_vector(0, NO_VECTOR).unwrap();
}

#[test]
fn config_generation_changing_forever_is_a_typed_error() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    dev.update_misbehavior(|m| m.flip_generation = true);
    assert_eq!(
        t.read_net_config().unwrap_err(),
        TransportError::ConfigGenerationUnstable {
            attempts: netkvm_virtio::transport::CONFIG_READ_ATTEMPTS
        }
    );
}

#[test]
fn net_config_matches_device_fields() {
    let cfg = FakeConfig {
        pairs: 4,
        mtu: 9000,
        speed: 25_000,
        ..FakeConfig::default()
    };
    let (_dev, t, _) = up(cfg, all_net());
    let c = t.read_net_config().unwrap();
    assert_eq!(c.mac, Some([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
    assert_eq!(c.link_up, Some(true));
    assert!(!c.announce);
    assert_eq!(c.max_virtqueue_pairs, 4);
    assert_eq!(c.mtu, Some(9000));
    assert_eq!(c.speed_mbps, Some(25_000));
    assert_eq!(c.duplex, Some(Duplex::Full));
    assert_eq!(c.rss_max_key_size, Some(40));
    assert_eq!(c.rss_max_indirection_table_length, Some(128));
    assert_eq!(c.supported_hash_types, Some(0x1FF));
}

#[test]
fn net_config_reads_only_fields_whose_feature_was_negotiated() {
    let wanted = Features::all()
        - (Features::MTU
            | Features::SPEED_DUPLEX
            | Features::RSS
            | Features::HASH_REPORT
            | Features::MQ
            | Features::STATUS);
    let cfg = FakeConfig {
        pairs: 4,
        ..FakeConfig::default()
    };
    let (_dev, t, _) = up(cfg, wanted);
    let c = t.read_net_config().unwrap();
    assert_eq!(c.mtu, None);
    assert_eq!(c.speed_mbps, None);
    assert_eq!(c.rss_max_key_size, None);
    assert_eq!(
        c.link_up, None,
        "without STATUS the link is assumed up by the caller"
    );
    assert_eq!(c.max_virtqueue_pairs, 1, "without MQ/RSS one pair");
    assert!(c.mac.is_some());
}

#[test]
fn invalid_config_values_are_rejected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    dev.poke_config(8, &0u16.to_le_bytes());
    assert_eq!(
        t.read_net_config().unwrap_err(),
        TransportError::InvalidConfigValue {
            field: ConfigField::MaxVirtqueuePairs,
            value: 0
        }
    );
    dev.poke_config(8, &1u16.to_le_bytes());
    dev.poke_config(10, &67u16.to_le_bytes());
    assert_eq!(
        t.read_net_config().unwrap_err(),
        TransportError::InvalidConfigValue {
            field: ConfigField::Mtu,
            value: 67
        }
    );
    // Garbage speed/duplex are "unknown", not errors (they change at run time).
    dev.poke_config(10, &1500u16.to_le_bytes());
    dev.poke_config(12, &0x8000_0000u32.to_le_bytes());
    dev.poke_config(16, &[7]);
    let c = t.read_net_config().unwrap();
    assert_eq!((c.speed_mbps, c.duplex), (None, None));
}

#[test]
fn device_config_shorter_than_a_field_is_rejected() {
    let cfg = FakeConfig {
        device: CapPlacement {
            bar: FAKE_BAR,
            offset: 0x2000,
            length: 8,
        },
        ..FakeConfig::default()
    };
    let (_dev, t, _) = up(cfg, all_net());
    assert!(matches!(
        t.read_net_config(),
        Err(TransportError::DeviceConfigTooShort {
            offset: 8,
            width: 2,
            length: 8
        })
    ));
}

#[test]
fn device_that_reset_itself_is_detected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    t.driver_ok();
    t.check_device().unwrap();
    dev.update_misbehavior(|m| m.status_override = Some(0));
    assert_eq!(t.check_device().unwrap_err(), TransportError::DeviceReset);
}

#[test]
fn needs_reset_is_detected() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    t.driver_ok();
    dev.update_misbehavior(|m| m.status_override = Some(0x0F | 0x40));
    assert_eq!(t.check_device().unwrap_err(), TransportError::NeedsReset);
}

#[test]
fn surprise_removed_device_reads_all_ones() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    dev.update_misbehavior(|m| m.status_override = Some(0xFF));
    assert_eq!(t.check_device().unwrap_err(), TransportError::DeviceGone);
}

#[test]
fn isr_reports_config_change_and_clears_on_read() {
    let (dev, t, _) = up(FakeConfig::default(), all_net());
    t.set_config_vector(3).unwrap();
    dev.set_link(false);
    assert_eq!(t.read_isr(), IsrStatus::CONFIG);
    assert_eq!(t.read_isr(), IsrStatus::empty());
    assert_eq!(
        dev.interrupts()[3],
        1,
        "config change raised the config vector"
    );
    assert_eq!(t.read_net_config().unwrap().link_up, Some(false));
}

#[test]
fn reset_clears_negotiated_state() {
    let (dev, mut t, _) = up(FakeConfig::default(), all_net());
    t.reset().unwrap();
    assert_eq!(dev.status(), 0);
    assert_eq!(t.features(), Features::empty());
}
