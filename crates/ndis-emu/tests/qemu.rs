//! The QEMU backend: the test miniport against a real QEMU virtio-net-pci (crates/testbed).
//! Needs root, /dev/net/tun and QEMU ≥ 10: without them the test prints a skip reason (and fails
//! under CI, as every testbed test).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{driver, registry, Cfg};
use ndis_emu::bus::qemu::QemuBus;
use ndis_emu::Harness;
use ndis_sys as n;
use testbed::{require_testbed, Testbed, TestbedConfig};

unsafe extern "system" {
    fn READ_REGISTER_UCHAR(register: *const u8) -> u8;
    fn WRITE_REGISTER_UCHAR(register: *mut u8, value: u8);
    fn READ_REGISTER_USHORT(register: *const u16) -> u16;
    fn WRITE_REGISTER_USHORT(register: *mut u16, value: u16);
    fn READ_REGISTER_ULONG(register: *const u32) -> u32;
    fn WRITE_REGISTER_ULONG(register: *mut u32, value: u32);
}

/// virtio-pci common configuration offsets (virtio 1.x, 4.1.4.3).
mod common_cfg {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0C;
    pub const MSIX_CONFIG: usize = 0x10;
    pub const DEVICE_STATUS: usize = 0x14;
}

#[test]
fn the_test_miniport_drives_a_real_qemu_device_through_the_emulator() {
    require_testbed!();
    let tb = Testbed::start(TestbedConfig {
        guest: None,
        ..TestbedConfig::default()
    })
    .expect("testbed");
    let m = tb.machine().clone();
    let bus = QemuBus::new(m.clone());
    eprintln!("backend: {}", ndis_emu::bus::Bus::describe(&*bus));
    let (entry, s) = driver(Cfg {
        map_bars: true,
        interrupts: true,
        ..Default::default()
    });
    let mut h = Harness::new(bus, registry());
    h.up(entry).unwrap();

    // The translated resources are QEMU's BARs and its MSI-X vectors.
    let res = s.resources.lock().unwrap().clone();
    let mem: Vec<(i64, u32)> = res
        .iter()
        .filter(|d| d.0 == n::CmResourceTypeMemory)
        .map(|d| (d.2, d.3))
        .collect();
    let want: Vec<(i64, u32)> = m
        .bars()
        .iter()
        .filter(|b| b.is_memory())
        .map(|b| (b.base as i64, b.len as u32))
        .collect();
    assert_eq!(mem, want);
    assert_eq!(
        s.message_table.lock().unwrap().len(),
        usize::from(m.msix_vectors())
    );

    // PCI configuration space through NdisMGetBusData.
    let mut cfg = [0u8; 256];
    // SAFETY: the adapter handle and a 256-byte buffer.
    let got = unsafe {
        n::NdisMGetBusData(
            s.adapter(),
            n::PCI_WHICHSPACE_CONFIG,
            0,
            cfg.as_mut_ptr().cast(),
            256,
        )
    };
    assert_eq!(got, 256);
    assert_eq!(u16::from_le_bytes([cfg[0], cfg[1]]), 0x1AF4);
    assert_eq!(u16::from_le_bytes([cfg[2], cfg[3]]), 0x1041);

    // The common configuration structure from the virtio vendor capabilities.
    let mut pos = usize::from(cfg[0x34]);
    let mut common = None;
    while pos != 0 && pos < 0xF0 {
        if cfg[pos] == 0x09 && cfg[pos + 3] == 1 {
            let bar = cfg[pos + 4];
            let off = u32::from_le_bytes(cfg[pos + 8..pos + 12].try_into().unwrap());
            common = Some((bar, off as usize));
        }
        pos = usize::from(cfg[pos + 1]);
    }
    let (bar, off) = common.expect("virtio common cfg capability");
    let base = m.bar(bar).expect("BAR").base as i64;
    let va = s
        .bars
        .lock()
        .unwrap()
        .iter()
        .find(|b| b.2 == base)
        .map(|b| b.0)
        .expect("mapped")
        + off;
    let r8 = |o: usize| {
        // SAFETY: inside the mapped BAR.
        unsafe { READ_REGISTER_UCHAR((va + o) as *const u8) }
    };
    let w8 = |o: usize, v: u8| {
        // SAFETY: inside the mapped BAR.
        unsafe { WRITE_REGISTER_UCHAR((va + o) as *mut u8, v) }
    };
    let w32 = |o: usize, v: u32| {
        // SAFETY: inside the mapped BAR.
        unsafe { WRITE_REGISTER_ULONG((va + o) as *mut u32, v) }
    };
    let r32 = |o: usize| {
        // SAFETY: inside the mapped BAR.
        unsafe { READ_REGISTER_ULONG((va + o) as *const u32) }
    };
    // Handshake (virtio 1.x 3.1.1): reset, ACKNOWLEDGE | DRIVER, VERSION_1 + STATUS, FEATURES_OK,
    // config vector 0, DRIVER_OK.
    w8(common_cfg::DEVICE_STATUS, 0);
    assert_eq!(r8(common_cfg::DEVICE_STATUS), 0);
    w8(common_cfg::DEVICE_STATUS, 1 | 2);
    w32(common_cfg::DEVICE_FEATURE_SELECT, 1);
    assert_ne!(r32(common_cfg::DEVICE_FEATURE) & 1, 0, "VERSION_1 offered");
    w32(common_cfg::DRIVER_FEATURE_SELECT, 1);
    w32(common_cfg::DRIVER_FEATURE, 1);
    w32(common_cfg::DRIVER_FEATURE_SELECT, 0);
    w32(common_cfg::DRIVER_FEATURE, 1 << 16);
    w8(common_cfg::DEVICE_STATUS, 1 | 2 | 8);
    assert_ne!(r8(common_cfg::DEVICE_STATUS) & 8, 0, "FEATURES_OK accepted");
    // SAFETY: inside the mapped BAR.
    unsafe { WRITE_REGISTER_USHORT((va + common_cfg::MSIX_CONFIG) as *mut u16, 0) };
    assert_eq!(
        // SAFETY: as above.
        unsafe { READ_REGISTER_USHORT((va + common_cfg::MSIX_CONFIG) as *const u16) },
        0
    );
    w8(common_cfg::DEVICE_STATUS, 1 | 2 | 8 | 4);

    // A link change: QEMU writes the MSI-X doorbell, the emulator runs the ISR and the DPC.
    m.set_link(false).expect("set_link");
    let start = Instant::now();
    while s.dpc.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        s.isr.lock().unwrap().first().map(|i| i.0),
        Some(0),
        "config interrupt on message 0"
    );
    assert_eq!(
        s.dpc.lock().unwrap().first().map(|d| (d.0, d.2)),
        Some((0, n::DISPATCH_LEVEL))
    );

    // Shared memory is guest RAM at its guest-physical address.
    let mut va_sh: n::PVOID = std::ptr::null_mut();
    let mut pa: i64 = 0;
    // SAFETY: adapter handle and out-parameters, at PASSIVE_LEVEL.
    unsafe { n::NdisMAllocateSharedMemory(s.adapter(), 4096, n::TRUE, &mut va_sh, &mut pa) };
    assert!(!va_sh.is_null());
    // SAFETY: 4096 bytes of shared memory.
    unsafe { std::ptr::copy_nonoverlapping(b"ndis-emu".as_ptr(), va_sh.cast::<u8>(), 8) };
    let mut back = [0u8; 8];
    m.ram().read(pa as u64, &mut back).unwrap();
    assert_eq!(&back, b"ndis-emu");
    assert!((pa as u64) >= testbed::ram::DMA_BASE);
    // SAFETY: the allocation above.
    unsafe { n::NdisMFreeSharedMemory(s.adapter(), 4096, n::TRUE, va_sh, pa) };

    w8(common_cfg::DEVICE_STATUS, 0);
    h.down().unwrap();
    assert!(h.take_violations().is_empty());
    assert!(
        s.interrupt.load(Ordering::SeqCst) == 0,
        "deregistered at Halt"
    );
}
