//! Driver load and the adapter state machine with the test miniport on the fake device.

mod common;

use std::time::Duration;

use common::{driver, fake, registry, Cfg, SendMode};
use ndis_emu::{AdapterState, EmuConfig, Harness, Kind, LifecycleError, NblSpec};
use ndis_sys as n;

#[test]
fn full_lifecycle_load_init_bind_restart_pause_halt_unload_is_clean() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    let rep = h.up(entry).expect("up");
    assert_eq!(h.state(), AdapterState::Running);
    // The bind sequence reached the driver, including the addressing sets.
    assert!(rep
        .get(n::OID_GEN_CURRENT_PACKET_FILTER)
        .is_some_and(|r| r.ok()));
    assert_eq!(
        rep.get(n::OID_802_3_CURRENT_ADDRESS)
            .map(|r| r.data.clone()),
        Some(common::MAC.to_vec())
    );
    h.pause().unwrap();
    assert_eq!(h.state(), AdapterState::Paused);
    h.halt().unwrap();
    assert_eq!(h.state(), AdapterState::Halted);
    h.unload().unwrap();
    let ev = s.events();
    let order: Vec<&str> = ev
        .iter()
        .filter(|e| {
            [
                "SetOptions",
                "Initialize",
                "Restart",
                "Pause",
                "Halt",
                "Unload",
            ]
            .contains(&e.as_str())
        })
        .map(|e| e.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "SetOptions",
            "Initialize",
            "Restart",
            "Pause",
            "Halt",
            "Unload"
        ]
    );
    assert_eq!(
        s.halts.lock().unwrap().as_slice(),
        &[n::NdisHaltDeviceDisabled]
    );
    assert_eq!(
        s.pauses.lock().unwrap().as_slice(),
        &[n::NDIS_PAUSE_BIND_PROTOCOL]
    );
    assert!(h.take_violations().is_empty());
}

#[test]
fn translated_resources_list_every_memory_bar_and_one_message_interrupt_per_msix_vector() {
    let (entry, s) = driver(Cfg::default());
    let cfg = fake();
    let vectors = cfg.msix_vectors;
    let (mut h, _bus) = Harness::fake(cfg, registry());
    h.load(entry).unwrap();
    h.initialize().unwrap();
    let r = s.resources.lock().unwrap().clone();
    let mem: Vec<(i64, u32)> = r
        .iter()
        .filter(|d| d.0 == n::CmResourceTypeMemory)
        .map(|d| (d.2, d.3))
        .collect();
    // The fake's BAR1 (MSI-X table, 4 KiB) and BAR4 (virtio structures, 16 KiB).
    assert_eq!(mem, vec![(0xFE00_0000, 0x1000), (0xFE00_4000, 0x4000)]);
    let msgs = r
        .iter()
        .filter(|d| {
            d.0 == n::CmResourceTypeInterrupt && d.1 & n::CM_RESOURCE_INTERRUPT_MESSAGE != 0
        })
        .count();
    assert_eq!(msgs, usize::from(vectors));
    assert!(r
        .iter()
        .all(|d| d.0 != n::CmResourceTypeInterrupt || d.1 & n::CM_RESOURCE_INTERRUPT_LATCHED != 0));
}

#[test]
fn ndis_get_version_is_configurable_and_a_newer_registration_is_refused() {
    let (entry, _s) = driver(Cfg::default());
    let emu = EmuConfig {
        ndis_version: n::NdisVersion::V6_83,
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    // SAFETY: NdisGetVersion has no preconditions; this thread is attached to the emulator.
    let got = unsafe { n::NdisGetVersion() };
    assert_eq!(got, n::NdisVersion::V6_83.runtime());
    // The test driver registers as 6.85: too new for a 6.83 system.
    assert_eq!(
        h.load(entry),
        Err(LifecycleError::Failed(n::NDIS_STATUS_BAD_VERSION))
    );
    assert!(h
        .warnings()
        .iter()
        .any(|w| w.message.contains("6.85 on an NDIS 6.83")));
}

#[test]
fn characteristics_without_a_mandatory_handler_are_rejected() {
    let (entry, _s) = driver(Cfg {
        omit_pause_handler: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    assert_eq!(
        h.load(entry),
        Err(LifecycleError::Failed(n::NDIS_STATUS_BAD_CHARACTERISTICS))
    );
    let v = h.expect_violation(Kind::BadHeader);
    assert!(v.message.contains("PauseHandler"), "{v}");
}

#[test]
fn characteristics_revision_3_needs_ndis_6_80() {
    let (entry, _s) = driver(Cfg {
        ndis_minor: 30,
        chars_revision: 3,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    assert_eq!(
        h.load(entry),
        Err(LifecycleError::Failed(n::NDIS_STATUS_BAD_CHARACTERISTICS))
    );
    assert!(h
        .expect_violation(Kind::BadHeader)
        .message
        .contains("revision 3"));
}

#[test]
fn initialize_is_refused_without_the_mandatory_keywords() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), ndis_emu::Registry::new());
    h.load(entry).unwrap();
    match h.initialize() {
        Err(LifecycleError::Refused(m)) => assert!(m.contains("*IfType"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn success_without_general_attributes_is_a_violation() {
    let (entry, _s) = driver(Cfg {
        set_general: false,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    h.initialize().unwrap();
    let v = h.expect_violation(Kind::Attributes);
    assert!(v.message.contains("general attributes"), "{v}");
}

#[test]
fn registration_attributes_with_a_short_header_are_rejected() {
    let (entry, s) = driver(Cfg {
        registration_size: 20,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    assert_eq!(
        h.initialize(),
        Err(LifecycleError::Failed(n::NDIS_STATUS_INVALID_PARAMETER))
    );
    h.expect_violation(Kind::BadHeader);
    assert!(s
        .events()
        .iter()
        .any(|e| e.contains("init step registration failed")));
}

#[test]
fn offload_attributes_newer_than_the_registered_version_are_rejected() {
    // Registered as 6.30: NDIS_OFFLOAD revision 6 (6.83) does not exist for it.
    let (entry, _s) = driver(Cfg {
        ndis_minor: 30,
        set_offload: Some((
            n::NDIS_OFFLOAD_REVISION_6,
            n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_6,
        )),
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.load(entry).unwrap();
    assert!(h.initialize().is_err());
    let v = h.expect_violation(Kind::BadHeader);
    assert!(v.message.contains("newer than NDIS 6.30"), "{v}");
}

#[test]
fn offload_attributes_of_the_right_revision_are_recorded() {
    let (entry, _s) = driver(Cfg {
        set_offload: Some((
            n::NDIS_OFFLOAD_REVISION_7,
            n::NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_7,
        )),
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    h.initialize().unwrap();
    let a = h.attributes();
    assert_eq!(a.offload_default.map(|o| o.Header.Revision), Some(7));
    assert_eq!(a.supported_oids, common::SUPPORTED_OIDS.to_vec());
    assert_eq!(a.general.map(|g| g.MtuSize), Some(1500));
}

#[test]
fn failed_initialize_must_release_everything() {
    // The driver fails initialization after allocating memory and a timer, and frees them: clean.
    let (entry, _s) = driver(Cfg {
        alloc_memory: true,
        map_bars: true,
        interrupts: true,
        sg_dma: Some(1),
        rx_pool: true,
        init_status: n::NDIS_STATUS_ADAPTER_NOT_FOUND,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.load(entry).unwrap();
    assert_eq!(
        h.initialize(),
        Err(LifecycleError::Failed(n::NDIS_STATUS_ADAPTER_NOT_FOUND))
    );
    assert!(h.take_violations().is_empty());
    assert!(h.live_resources().is_empty(), "{:?}", h.live_resources());
}

#[test]
fn memory_leaked_at_halt_is_a_violation() {
    let (entry, _s) = driver(Cfg {
        alloc_memory: true,
        leak_memory: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.pause().unwrap();
    h.halt().unwrap();
    let v = h.expect_violation(Kind::Leak);
    assert!(
        v.message.contains("tag 'tst1'") && v.message.contains("128 bytes"),
        "{v}"
    );
}

#[test]
fn a_timer_leaked_at_halt_is_a_violation() {
    let (entry, _s) = driver(Cfg {
        leak_timer: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    h.pause().unwrap();
    h.halt().unwrap();
    let v = h.expect_violation(Kind::Leak);
    assert!(
        v.message.contains("Timer") && v.message.contains("'tstm'"),
        "{v}"
    );
}

#[test]
fn pending_pause_and_restart_complete_through_ndism_complete_calls() {
    let (entry, s) = driver(Cfg {
        pause_pending: true,
        restart_pending: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    assert_eq!(h.state(), AdapterState::Running);
    h.pause().unwrap();
    assert_eq!(h.state(), AdapterState::Paused);
    assert!(s.events().contains(&"PauseComplete".to_string()));
}

#[test]
fn pause_complete_without_a_pending_pause_is_a_violation() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.quiet(true);
    h.up(entry).unwrap();
    // SAFETY: the adapter handle NDIS gave the driver.
    unsafe { n::NdisMPauseComplete(s.adapter()) };
    let v = h.expect_violation(Kind::State);
    assert!(v.message.contains("no Pause is pending"), "{v}");
}

#[test]
fn reset_returns_addressing_reset_and_ndis_replays_the_packet_filter() {
    let (entry, s) = driver(Cfg {
        reset_pending: true,
        addressing_reset: true,
        ..Default::default()
    });
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let sets_before = s
        .events()
        .iter()
        .filter(|e| e.starts_with("set 0x1010e"))
        .count();
    assert_eq!(h.reset(), Ok(true));
    let sets_after = s
        .events()
        .iter()
        .filter(|e| e.starts_with("set 0x1010e"))
        .count();
    assert_eq!(
        sets_after,
        sets_before + 1,
        "packet filter re-issued after the addressing reset"
    );
    let codes: Vec<i32> = h.statuses().iter().map(|r| r.code).collect();
    assert!(
        codes.contains(&n::NDIS_STATUS_RESET_START) && codes.contains(&n::NDIS_STATUS_RESET_END)
    );
}

#[test]
fn check_for_hang_true_makes_ndis_reset_the_adapter() {
    let (entry, s) = driver(Cfg {
        check_for_hang: true,
        ..Default::default()
    });
    let emu = EmuConfig {
        check_for_hang: Some(Duration::from_millis(20)),
        ..Default::default()
    };
    let (mut h, _bus) = Harness::fake_with(fake(), registry(), emu);
    h.up(entry).unwrap();
    s.hang_answer
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let start = std::time::Instant::now();
    while h.hang_checks_and_resets().1 == 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.hang_checks_and_resets().1, 1);
    assert!(s.hang_calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(s.events().contains(&"Reset".to_string()));
}

#[test]
fn surprise_removal_notifies_then_pauses_and_halts_as_surprise_removed() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    h.surprise_remove().unwrap();
    assert_eq!(h.state(), AdapterState::Halted);
    assert_eq!(
        s.pnp_events.lock().unwrap().as_slice(),
        &[n::NdisDevicePnPEventSurpriseRemoved]
    );
    assert_eq!(
        s.pauses.lock().unwrap().as_slice(),
        &[n::NDIS_PAUSE_MINIPORT_DEVICE_REMOVE]
    );
    assert_eq!(
        s.halts.lock().unwrap().as_slice(),
        &[n::NdisHaltDeviceSurpriseRemoved]
    );
    // The device reads all ones now.
    let mut id = [0u8; 2];
    assert_eq!(ndis_emu::bus::Bus::pci_read(&*bus, 0, &mut id), 2);
    assert_eq!(id, [0xFF, 0xFF]);
}

#[test]
fn ndism_remove_miniport_makes_ndis_pause_and_halt_the_adapter_as_failed() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    // SAFETY: the adapter handle, at PASSIVE_LEVEL.
    let got = unsafe { n::NdisMRemoveMiniport(s.adapter()) };
    assert_eq!(got, n::NDIS_STATUS_SUCCESS);
    let start = std::time::Instant::now();
    while h.state() != AdapterState::Halted && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        s.halts.lock().unwrap().as_slice(),
        &[n::NdisHaltDeviceFailed]
    );
}

#[test]
fn ndism_reset_miniport_makes_ndis_call_reset_from_a_worker() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    // SAFETY: the adapter handle, at PASSIVE_LEVEL.
    unsafe { n::NdisMResetMiniport(s.adapter()) };
    let start = std::time::Instant::now();
    while !s.events().iter().any(|e| e == "Reset") && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(h.wait_idle(Duration::from_secs(5)));
    assert!(s.events().iter().any(|e| e == "Reset"));
    assert_eq!(h.state(), AdapterState::Running);
}

#[test]
fn shutdown_power_off_runs_at_passive_and_bugcheck_shutdown_at_high_level() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    h.shutdown(n::NdisShutdownPowerOff).unwrap();
    assert_eq!(h.state(), AdapterState::ShutDown);
    h.shutdown(n::NdisShutdownBugCheck).unwrap();
    assert_eq!(
        s.shutdowns.lock().unwrap().as_slice(),
        &[
            (n::NdisShutdownPowerOff, n::PASSIVE_LEVEL),
            (n::NdisShutdownBugCheck, n::HIGH_LEVEL)
        ]
    );
    // Nothing is called after a shutdown; drop must not try to halt.
}

#[test]
fn power_d3_pauses_then_sets_power_and_d0_sets_power_then_restarts() {
    let (entry, s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    assert!(h.set_power(ndis_emu::PowerState::D3).unwrap().ok());
    assert_eq!(h.state(), AdapterState::Paused);
    assert_eq!(
        s.pauses.lock().unwrap().last(),
        Some(&n::NDIS_PAUSE_LOW_POWER)
    );
    assert!(h.set_power(ndis_emu::PowerState::D0).unwrap().ok());
    assert_eq!(h.state(), AdapterState::Running);
    assert_eq!(
        s.power.lock().unwrap().as_slice(),
        &[n::NdisDeviceStateD3 as u32, n::NdisDeviceStateD0 as u32]
    );
}

#[test]
fn injected_allocation_failures_are_unwound_at_every_step_of_initialize() {
    // Sweep the failure over every resource allocation InitializeEx makes: each run must fail
    // cleanly (no leak violation) and the sweep must end with a successful initialization.
    let mut nth = 0;
    loop {
        let (entry, _s) = driver(Cfg {
            alloc_memory: true,
            map_bars: true,
            interrupts: true,
            sg_dma: Some(1),
            rx_pool: true,
            ..Default::default()
        });
        let (mut h, _bus) = Harness::fake(fake(), registry());
        h.load(entry).unwrap();
        h.fail_nth_allocation(Some(nth));
        let r = h.initialize();
        let triggered = h.ndis().fail.triggered();
        assert!(h.take_violations().is_empty(), "failure #{nth} leaked");
        if !triggered {
            assert!(r.is_ok(), "{r:?}");
            break;
        }
        assert!(
            r.is_err(),
            "allocation #{nth} failed but initialize succeeded"
        );
        assert!(h.live_resources().is_empty());
        nth += 1;
        assert!(nth < 50);
    }
    assert!(nth >= 5, "only {nth} allocations were swept");
}

#[test]
fn send_on_a_running_adapter_completes_with_success() {
    let (entry, _s) = driver(Cfg::default());
    let (mut h, _bus) = Harness::fake(fake(), registry());
    h.up(entry).unwrap();
    let nbl = h.nbl(&NblSpec::frames(&[&[0xAB; 60]])).unwrap();
    h.send(vec![nbl]).unwrap();
    let c = h.wait_completions(1, Duration::from_secs(2));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, n::NDIS_STATUS_SUCCESS);
    assert_eq!(c[0].nbl.frames(), vec![vec![0xAB; 60]]);
    let _ = SendMode::Complete;
}
