//! Shared helpers of the in-process tests: the real miniport in ndis-emu over the fake virtio-net device.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ndis_emu::bus::fake::FakeBus;
use ndis_emu::{EmuConfig, Harness, Registry};
use ndis_sys as n;
use netkvm_virtio::fake::{CtrlRecord, FakeConfig};

/// Control command classes / commands (virtio 1.x §5.1.6.5), restated here independently of the driver.
pub const CLASS_RX: u8 = 0;
pub const CLASS_MAC: u8 = 1;
pub const CLASS_VLAN: u8 = 2;
pub const CLASS_ANNOUNCE: u8 = 3;
pub const CLASS_MQ: u8 = 4;
pub const CLASS_GUEST_OFFLOADS: u8 = 5;

/// virtio feature bits used in assertions. The fake device offers `RSC_EXT`, so the driver acks
/// it and carries it in CTRL_GUEST_OFFLOADS_SET masks (as NetKVM does).
pub const F_GUEST_CSUM: u64 = 1 << 1;
pub const F_GUEST_TSO4: u64 = 1 << 7;
pub const F_GUEST_TSO6: u64 = 1 << 8;
pub const F_MRG_RXBUF: u64 = 1 << 15;
pub const F_CTRL_VLAN: u64 = 1 << 19;
pub const F_RSC_EXT: u64 = 1 << 61;

/// `device_status` DRIVER_OK.
pub const DRIVER_OK: u8 = 4;

/// The driver is a singleton (one image, one registration handle, as in a kernel): tests that load it
/// run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the driver for one test.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A harness on a fake device with `cfg`, registry `keywords` (REG_SZ, on top of the mandatory ones) and
/// emulator settings `emu`. Take [`serial`] first.
pub fn harness(
    cfg: FakeConfig,
    keywords: &[(&str, &str)],
    emu: EmuConfig,
) -> (Harness, Arc<FakeBus>) {
    let mut reg = Registry::with_mandatory();
    for (k, v) in keywords {
        reg.set(k, ndis_emu::RegValue::sz(*v));
    }
    Harness::fake_with(cfg, reg, emu)
}

/// Default emulator settings for these tests (no periodic CheckForHang unless asked).
pub fn emu() -> EmuConfig {
    EmuConfig {
        check_for_hang: Some(Duration::ZERO),
        ..EmuConfig::default()
    }
}

/// Load, initialize, bind, restart.
pub fn up(h: &mut Harness) {
    h.load(netkvmrs::driver_entry).expect("DriverEntry");
    h.initialize().expect("InitializeEx");
    let report = h.bind().expect("bind");
    assert!(
        report.failures().is_empty(),
        "bind: {:?}",
        report.failures()
    );
    h.restart().expect("restart");
}

/// Pause, halt, unload (ndis-emu checks leaks at Halt and Unload).
pub fn down(h: &mut Harness) {
    if h.state() == ndis_emu::AdapterState::Running {
        h.pause().expect("pause");
    }
    h.halt().expect("halt");
    h.unload().expect("unload");
}

/// Control commands of a class.
pub fn ctrl(bus: &FakeBus, class: u8, cmd: u8) -> Vec<CtrlRecord> {
    bus.device()
        .ctrl_log()
        .into_iter()
        .filter(|r| r.class == class && r.cmd == cmd)
        .collect()
}

/// Waits until `f` holds (polling), panics with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the driver logged a line containing `needle`.
pub fn logged(h: &Harness, needle: &str) -> bool {
    h.log().iter().any(|l| l.text.contains(needle))
}

/// `MediaConnectState` of an `NDIS_LINK_STATE` status buffer.
pub fn link_connect_state(buf: &[u8]) -> i32 {
    i32::from_le_bytes(buf[4..8].try_into().unwrap())
}

/// The `NDIS_STATUS_LINK_STATE` indications so far, as connect states.
pub fn link_indications(h: &Harness) -> Vec<i32> {
    h.statuses()
        .iter()
        .filter(|s| s.code == n::NDIS_STATUS_LINK_STATE)
        .map(|s| link_connect_state(&s.buffer))
        .collect()
}

/// Bytes of a little-endian u32.
pub fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
