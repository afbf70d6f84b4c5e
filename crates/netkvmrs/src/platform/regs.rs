//! Device register access (memory-mapped BARs of the virtio-net PCI function).
//!
//! Why OS-specific: on Windows the WDK's `READ_REGISTER_*` / `WRITE_REGISTER_*` are inline functions (not
//! imports) doing a volatile access with a compiler barrier before reads and a store fence after writes
//! (amd64 `wdm.h`); this module does the same with `read_volatile`/`write_volatile` and atomic fences. On the
//! host there is no mapped device: the user-mode NDIS maps BARs to an inaccessible range and implements these
//! functions, translating the address to the emulated or QEMU-backed device:
//! ```c
//! uint8_t  READ_REGISTER_UCHAR (const volatile uint8_t  *reg);
//! uint16_t READ_REGISTER_USHORT(const volatile uint16_t *reg);
//! uint32_t READ_REGISTER_ULONG (const volatile uint32_t *reg);
//! void WRITE_REGISTER_UCHAR (volatile uint8_t  *reg, uint8_t  value);
//! void WRITE_REGISTER_USHORT(volatile uint16_t *reg, uint16_t value);
//! void WRITE_REGISTER_ULONG (volatile uint32_t *reg, uint32_t value);
//! ```
//! (`extern "system"`, i.e. the C ABI on x86-64 Linux.) Virtio 1.x PCI registers are at most 32 bits wide
//! (64-bit fields are two 32-bit accesses, virtio spec 4.1.3.1), so there are no 64-bit variants.

#[cfg(not(target_os = "windows"))]
unsafe extern "system" {
    fn READ_REGISTER_UCHAR(register: *const u8) -> u8;
    fn READ_REGISTER_USHORT(register: *const u16) -> u16;
    fn READ_REGISTER_ULONG(register: *const u32) -> u32;
    fn WRITE_REGISTER_UCHAR(register: *mut u8, value: u8);
    fn WRITE_REGISTER_USHORT(register: *mut u16, value: u16);
    fn WRITE_REGISTER_ULONG(register: *mut u32, value: u32);
}

macro_rules! register_access {
    ($read:ident, $write:ident, $t:ty, $host_read:ident, $host_write:ident) => {
        #[doc = concat!("Read a `", stringify!($t), "` device register (`", stringify!($host_read), "`).")]
        ///
        /// # Safety
        /// `register` must be a naturally aligned address inside a BAR mapped with `NdisMMapIoSpace` (on the
        /// host: an address the user-mode NDIS handed out for a BAR) and still mapped.
        #[inline]
        pub unsafe fn $read(register: *const $t) -> $t {
            #[cfg(target_os = "windows")]
            {
                core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
                // SAFETY: the caller guarantees a mapped, aligned device register.
                unsafe { core::ptr::read_volatile(register) }
            }
            #[cfg(not(target_os = "windows"))]
            {
                // SAFETY: the host implementation validates the address against its BAR mappings.
                unsafe { $host_read(register) }
            }
        }

        #[doc = concat!("Write a `", stringify!($t), "` device register (`", stringify!($host_write), "`).")]
        ///
        /// # Safety
        /// As for the read: a naturally aligned, mapped device register address.
        #[inline]
        pub unsafe fn $write(register: *mut $t, value: $t) {
            #[cfg(target_os = "windows")]
            {
                // SAFETY: the caller guarantees a mapped, aligned device register.
                unsafe { core::ptr::write_volatile(register, value) };
                // The WDK issues a store fence after register writes so the device observes them in order
                // with later memory accesses (e.g. a notify after ring updates).
                core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
            }
            #[cfg(not(target_os = "windows"))]
            {
                // SAFETY: the host implementation validates the address against its BAR mappings.
                unsafe { $host_write(register, value) }
            }
        }
    };
}

register_access!(
    read_register_u8,
    write_register_u8,
    u8,
    READ_REGISTER_UCHAR,
    WRITE_REGISTER_UCHAR
);
register_access!(
    read_register_u16,
    write_register_u16,
    u16,
    READ_REGISTER_USHORT,
    WRITE_REGISTER_USHORT
);
register_access!(
    read_register_u32,
    write_register_u32,
    u32,
    READ_REGISTER_ULONG,
    WRITE_REGISTER_ULONG
);
