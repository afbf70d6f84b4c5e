//! Scalar typedefs and small WDM/NDIS base types (`wdm.h`, `ntdef.h`, `ndis/types.h`).

use core::ffi::c_void;
use core::marker::{PhantomData, PhantomPinned};

/// `UCHAR`.
pub type UCHAR = u8;
/// `USHORT`.
pub type USHORT = u16;
/// `ULONG` (32 bits on Windows, also on x64).
pub type ULONG = u32;
/// `UINT`.
pub type UINT = u32;
/// `LONG`.
pub type LONG = i32;
/// `ULONG64` / `ULONGLONG`.
pub type ULONG64 = u64;
/// `LONG64` / `LONGLONG`.
pub type LONG64 = i64;
/// `ULONG_PTR` (pointer sized).
pub type ULONG_PTR = usize;
/// `SIZE_T`.
pub type SIZE_T = usize;
/// `CCHAR`.
pub type CCHAR = i8;
/// `WCHAR` (UTF-16 code unit).
pub type WCHAR = u16;
/// `BOOLEAN`: one byte, `TRUE` = 1, `FALSE` = 0 (not Rust `bool`: NDIS may hand back other values).
pub type BOOLEAN = u8;
/// `TRUE` for [`BOOLEAN`].
pub const TRUE: BOOLEAN = 1;
/// `FALSE` for [`BOOLEAN`].
pub const FALSE: BOOLEAN = 0;
/// `PVOID`.
pub type PVOID = *mut c_void;

/// `NTSTATUS`: negative values are errors (`NT_SUCCESS(s)` is `s >= 0`).
pub type NTSTATUS = i32;
/// `NDIS_STATUS` (`int` in `ndis/types.h`); same values as NTSTATUS.
pub type NDIS_STATUS = i32;
/// `NDIS_HANDLE`: an opaque pointer owned by NDIS or by the driver (context handles).
pub type NDIS_HANDLE = *mut c_void;
/// `NDIS_OID` (`ULONG`).
pub type NDIS_OID = u32;
/// `NDIS_PORT_NUMBER` (`ULONG`); the default port is 0.
pub type NDIS_PORT_NUMBER = u32;
/// `NDIS_DEFAULT_PORT_NUMBER`.
pub const NDIS_DEFAULT_PORT_NUMBER: NDIS_PORT_NUMBER = 0;
/// `NET_IFINDEX` (`ULONG`).
pub type NET_IFINDEX = u32;
/// `NET_IFTYPE` (`USHORT`, IANA ifType; Ethernet = 6).
pub type NET_IFTYPE = u16;
/// `NDIS_ERROR_CODE` (`ULONG`).
pub type NDIS_ERROR_CODE = u32;

/// `LARGE_INTEGER`: a union of `QuadPart` and two 32-bit halves; passed and stored as an `i64`
/// (same size, alignment and x64 calling convention).
pub type LARGE_INTEGER = i64;
/// `PHYSICAL_ADDRESS` (`LARGE_INTEGER`).
pub type PHYSICAL_ADDRESS = LARGE_INTEGER;
/// `NDIS_PHYSICAL_ADDRESS` (`PHYSICAL_ADDRESS`).
pub type NDIS_PHYSICAL_ADDRESS = PHYSICAL_ADDRESS;

/// `KIRQL` (`UCHAR`).
pub type KIRQL = u8;
/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: KIRQL = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: KIRQL = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: KIRQL = 2;
/// `HIGH_LEVEL` (x64).
pub const HIGH_LEVEL: KIRQL = 15;

/// `KSPIN_LOCK` (`ULONG_PTR`). `KeInitializeSpinLock` is inline on x64 (`*SpinLock = 0`):
/// initialise with `0`, never import it.
pub type KSPIN_LOCK = usize;
/// `KAFFINITY` (`ULONG_PTR`, one bit per processor of a group).
pub type KAFFINITY = usize;

/// `POOL_FLAGS` for `ExAllocatePool2` (`ULONG64`).
pub type POOL_FLAGS = u64;
/// `POOL_FLAG_USE_QUOTA`.
pub const POOL_FLAG_USE_QUOTA: POOL_FLAGS = 0x1;
/// `POOL_FLAG_UNINITIALIZED`: do not zero the allocation.
pub const POOL_FLAG_UNINITIALIZED: POOL_FLAGS = 0x2;
/// `POOL_FLAG_CACHE_ALIGNED`.
pub const POOL_FLAG_CACHE_ALIGNED: POOL_FLAGS = 0x8;
/// `POOL_FLAG_RAISE_ON_FAILURE` (never use in a driver that handles failures).
pub const POOL_FLAG_RAISE_ON_FAILURE: POOL_FLAGS = 0x20;
/// `POOL_FLAG_NON_PAGED` (non-paged, no-execute).
pub const POOL_FLAG_NON_PAGED: POOL_FLAGS = 0x40;
/// `POOL_FLAG_NON_PAGED_EXECUTE`.
pub const POOL_FLAG_NON_PAGED_EXECUTE: POOL_FLAGS = 0x80;
/// `POOL_FLAG_PAGED`.
pub const POOL_FLAG_PAGED: POOL_FLAGS = 0x100;

/// `EX_POOL_PRIORITY` (C enum, `int`) for `NdisAllocateMemoryWithTagPriority`.
pub type EX_POOL_PRIORITY = i32;
/// `LowPoolPriority`.
pub const LowPoolPriority: EX_POOL_PRIORITY = 0;
/// `NormalPoolPriority`.
pub const NormalPoolPriority: EX_POOL_PRIORITY = 16;
/// `HighPoolPriority`.
pub const HighPoolPriority: EX_POOL_PRIORITY = 32;

/// `MM_PAGE_PRIORITY` (C enum) plus the `MdlMapping*` / `MdlMappingNoExecute` flag bits that may
/// be OR-ed into it.
pub type MM_PAGE_PRIORITY = u32;
/// `LowPagePriority`.
pub const LowPagePriority: MM_PAGE_PRIORITY = 0;
/// `NormalPagePriority`.
pub const NormalPagePriority: MM_PAGE_PRIORITY = 16;
/// `HighPagePriority`.
pub const HighPagePriority: MM_PAGE_PRIORITY = 32;
/// `MdlMappingNoExecute` (Windows 8+): OR into a page priority.
pub const MdlMappingNoExecute: MM_PAGE_PRIORITY = 0x4000_0000;

/// `UNICODE_STRING` / `NDIS_STRING`: counted UTF-16, `Length` and `MaximumLength` in **bytes**,
/// not necessarily NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    /// Bytes in use (excluding any terminating NUL).
    pub Length: USHORT,
    /// Bytes allocated at `Buffer`.
    pub MaximumLength: USHORT,
    /// UTF-16 code units.
    pub Buffer: *mut WCHAR,
}
assert_layout!(
    UNICODE_STRING,
    size = 16,
    Length = 0,
    MaximumLength = 2,
    Buffer = 8
);

/// `NDIS_STRING` (`UNICODE_STRING`).
pub type NDIS_STRING = UNICODE_STRING;

impl UNICODE_STRING {
    /// An empty string (`Buffer` null).
    pub const EMPTY: Self = Self {
        Length: 0,
        MaximumLength: 0,
        Buffer: core::ptr::null_mut(),
    };

    /// Wraps a static UTF-16 slice (without terminating NUL). `None` if it is longer than a
    /// `UNICODE_STRING` can describe (32767 code units).
    pub const fn from_static(s: &'static [u16]) -> Option<Self> {
        if s.len() > (u16::MAX as usize) / 2 {
            return None;
        }
        let bytes = (s.len() * 2) as u16;
        Some(Self {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: s.as_ptr() as *mut u16,
        })
    }

    /// The code units, if `Buffer` is non-null.
    ///
    /// # Safety
    /// `Buffer` must point to at least `Length / 2` initialised code units that stay valid and
    /// unmodified for `'a`.
    pub unsafe fn as_slice<'a>(&self) -> Option<&'a [u16]> {
        if self.Buffer.is_null() {
            return None;
        }
        // SAFETY: non-null, and the caller guarantees `Length / 2` valid units for 'a.
        Some(unsafe { core::slice::from_raw_parts(self.Buffer, usize::from(self.Length) / 2) })
    }
}

/// Converts an ASCII string into UTF-16 at compile time (helper of [`ndis_string!`]).
/// Non-ASCII input is rejected when the constant is evaluated.
#[doc(hidden)]
#[allow(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "evaluated in constants only: a bad literal fails the build, never the driver"
)]
pub const fn ascii_to_utf16<const N: usize>(s: &str) -> [u16; N] {
    let b = s.as_bytes();
    assert!(b.len() == N, "length mismatch");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        assert!(b[i] < 0x80, "ndis_string! takes ASCII only");
        out[i] = b[i] as u16;
        i += 1;
    }
    out
}

/// A constant [`NDIS_STRING`] from an ASCII literal, e.g. `ndis_string!("*RscIPv4")` for
/// `NdisReadConfiguration` keywords (the WDK's `NDIS_STRING_CONST`). Evaluated at compile time.
#[macro_export]
macro_rules! ndis_string {
    ($s:literal) => {{
        const __W: &[u16] = &$crate::basic::ascii_to_utf16::<{ $s.len() }>($s);
        const __S: $crate::basic::UNICODE_STRING =
            match $crate::basic::UNICODE_STRING::from_static(__W) {
                Some(s) => s,
                None => panic!("string too long for UNICODE_STRING"),
            };
        __S
    }};
}

/// Declares an opaque, FFI-only type (never constructed or moved in Rust).
macro_rules! opaque {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    };
}

opaque!(
    /// `DRIVER_OBJECT` (opaque here: an NDIS miniport only passes it through to NDIS).
    DRIVER_OBJECT
);
opaque!(
    /// `DEVICE_OBJECT` (opaque).
    DEVICE_OBJECT
);
opaque!(
    /// `NDIS_RW_LOCK_EX` (opaque, allocated by `NdisAllocateRWLock`).
    NDIS_RW_LOCK_EX
);
opaque!(
    /// `IRP` (opaque).
    IRP
);

/// `PDRIVER_OBJECT`.
pub type PDRIVER_OBJECT = *mut DRIVER_OBJECT;
/// `PDEVICE_OBJECT`.
pub type PDEVICE_OBJECT = *mut DEVICE_OBJECT;
/// `PUNICODE_STRING`.
pub type PUNICODE_STRING = *mut UNICODE_STRING;
/// `PNDIS_STRING`.
pub type PNDIS_STRING = *mut NDIS_STRING;

/// `NDIS_SPIN_LOCK`: a `KSPIN_LOCK` plus the IRQL saved by `NdisAcquireSpinLock`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    /// The kernel spin lock.
    pub SpinLock: KSPIN_LOCK,
    /// IRQL to restore in `NdisReleaseSpinLock`.
    pub OldIrql: KIRQL,
}
assert_layout!(NDIS_SPIN_LOCK, size = 16, SpinLock = 0, OldIrql = 8);

/// `LOCK_STATE_EX` (for `NdisAcquireRWLockRead/Write` / `NdisReleaseRWLock`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct LOCK_STATE_EX {
    /// `KIRQL OldIrql`.
    pub OldIrql: KIRQL,
    /// `UCHAR LockState`.
    pub LockState: UCHAR,
    /// `UCHAR Flags`.
    pub Flags: UCHAR,
}
assert_layout!(
    LOCK_STATE_EX,
    size = 3,
    OldIrql = 0,
    LockState = 1,
    Flags = 2
);

/// `NDIS_RWL_AT_DISPATCH_LEVEL` flag for `NdisAcquireRWLockRead/Write`.
pub const NDIS_RWL_AT_DISPATCH_LEVEL: UCHAR = 1;

/// `PROCESSOR_NUMBER` (processor group + number within the group).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PROCESSOR_NUMBER {
    /// Processor group.
    pub Group: USHORT,
    /// Processor number inside the group.
    pub Number: UCHAR,
    /// Must be 0.
    pub Reserved: UCHAR,
}
assert_layout!(
    PROCESSOR_NUMBER,
    size = 4,
    Group = 0,
    Number = 2,
    Reserved = 3
);

/// `GROUP_AFFINITY`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GROUP_AFFINITY {
    /// Processors of `Group`.
    pub Mask: KAFFINITY,
    /// Processor group.
    pub Group: USHORT,
    /// Must be 0.
    pub Reserved: [USHORT; 3],
}
assert_layout!(
    GROUP_AFFINITY,
    size = 16,
    Mask = 0,
    Group = 8,
    Reserved = 10
);

/// `NET_LUID` (`NET_LUID_LH`): a 64-bit union with bit-fields `Reserved:24`, `NetLuidIndex:24`,
/// `IfType:16` (from the least significant bit).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NET_LUID {
    /// The whole LUID.
    pub Value: ULONG64,
}
assert_layout!(NET_LUID, size = 8, Value = 0);

impl NET_LUID {
    /// `Info.NetLuidIndex` (bits 24..48).
    pub const fn net_luid_index(self) -> u32 {
        ((self.Value >> 24) & 0x00FF_FFFF) as u32
    }
    /// `Info.IfType` (bits 48..64).
    pub const fn if_type(self) -> u16 {
        (self.Value >> 48) as u16
    }
}

/// `LIST_ENTRY` (doubly linked list links, as embedded in WDK structures).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LIST_ENTRY {
    /// `Flink`.
    pub Flink: *mut LIST_ENTRY,
    /// `Blink`.
    pub Blink: *mut LIST_ENTRY,
}
assert_layout!(LIST_ENTRY, size = 16, Flink = 0, Blink = 8);

/// `SINGLE_LIST_ENTRY`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SINGLE_LIST_ENTRY {
    /// `Next`.
    pub Next: *mut SINGLE_LIST_ENTRY,
}
assert_layout!(SINGLE_LIST_ENTRY, size = 8, Next = 0);

/// Storage the size and alignment of a `KEVENT` (x64: a 24-byte `DISPATCHER_HEADER`); only
/// initialised/used through `Ke*`/`Ndis*Event` routines.
#[repr(C, align(8))]
#[derive(Debug, Default)]
pub struct KEVENT {
    _opaque: [u64; 3],
}
assert_layout!(KEVENT, size = 24);

/// `NDIS_EVENT` (wraps a `KEVENT`; `NdisInitializeEvent` / `NdisSetEvent` / `NdisWaitEvent`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_EVENT {
    /// The kernel event.
    pub Event: KEVENT,
}
assert_layout!(NDIS_EVENT, size = 24);
/// `PNDIS_EVENT`.
pub type PNDIS_EVENT = *mut NDIS_EVENT;

/// Storage the size and alignment of a `KDPC` (x64: 64 bytes), for places NDIS/WDM embed one
/// (e.g. the legacy `NDIS_TIMER`). NDIS 6 miniports use timer objects and interrupt DPCs instead.
#[repr(C, align(8))]
#[derive(Debug, Default)]
pub struct KDPC {
    _opaque: [u64; 8],
}
assert_layout!(KDPC, size = 64);

/// Storage the size of a `KTIMER` (x64: 64 bytes).
#[repr(C, align(8))]
#[derive(Debug, Default)]
pub struct KTIMER {
    _opaque: [u64; 8],
}
assert_layout!(KTIMER, size = 64);

/// Legacy `NDIS_TIMER` (`KTIMER` + `KDPC`; NDIS 6 drivers use `NdisAllocateTimerObject`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_TIMER {
    /// Timer.
    pub Timer: KTIMER,
    /// DPC.
    pub Dpc: KDPC,
}
assert_layout!(NDIS_TIMER, size = 128, Timer = 0, Dpc = 64);

/// `KPROCESSOR_MODE` (`CCHAR`).
pub type KPROCESSOR_MODE = i8;
/// `KernelMode`.
pub const KernelMode: KPROCESSOR_MODE = 0;
/// `MEMORY_CACHING_TYPE` (C enum).
pub type MEMORY_CACHING_TYPE = i32;
/// `MmNonCached`.
pub const MmNonCached: MEMORY_CACHING_TYPE = 0;
/// `MmCached`.
pub const MmCached: MEMORY_CACHING_TYPE = 1;

/// `KeGetCurrentIrql` — an inline function on x64 (`mov rax, cr8`), so it is not imported.
///
/// # Safety
/// Kernel mode only: reading CR8 faults in user mode.
#[cfg(all(target_os = "windows", target_arch = "x86_64"))]
#[inline]
pub unsafe fn KeGetCurrentIrql() -> KIRQL {
    let irql: u64;
    // SAFETY: the caller guarantees ring 0, where reading CR8 is allowed and side-effect free.
    unsafe {
        core::arch::asm!("mov {}, cr8", out(reg) irql, options(nomem, nostack, preserves_flags))
    };
    irql as KIRQL
}

/// `NT_SUCCESS(status)`.
pub const fn NT_SUCCESS(status: NTSTATUS) -> bool {
    status >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndis_string_counts_bytes_not_characters() {
        let s = crate::ndis_string!("*RscIPv4");
        assert_eq!(s.Length, 16);
        assert_eq!(s.MaximumLength, 16);
        // SAFETY: the buffer is a compile-time constant array of 8 units.
        let units = unsafe { s.as_slice() }.unwrap();
        let expected: [u16; 8] = [42, 82, 115, 99, 73, 80, 118, 52]; // "*RscIPv4" in ASCII
        assert_eq!(units, &expected);
    }

    #[test]
    fn unicode_string_rejects_lengths_beyond_u16_bytes() {
        static LONG: [u16; 40000] = [0x41; 40000];
        assert!(UNICODE_STRING::from_static(&LONG).is_none());
        assert!(UNICODE_STRING::from_static(&LONG[..32767]).is_some());
    }

    #[test]
    fn net_luid_fields_follow_the_bitfield_layout() {
        // IfType 6 (Ethernet) at bits 48..64, index 0x12345 at bits 24..48.
        let luid = NET_LUID {
            Value: (6u64 << 48) | (0x12345u64 << 24) | 0xABCDEF,
        };
        assert_eq!(luid.if_type(), 6);
        assert_eq!(luid.net_luid_index(), 0x12345);
    }

    #[test]
    fn nt_success_treats_informational_and_warning_by_sign() {
        assert!(NT_SUCCESS(0));
        assert!(NT_SUCCESS(0x103)); // STATUS_PENDING
        assert!(NT_SUCCESS(0x4001_0017)); // informational
        assert!(!NT_SUCCESS(0x8000_0005_u32 as i32)); // warning: negative
        assert!(!NT_SUCCESS(0xC000_0001_u32 as i32));
    }
}
