//! Hardware resource lists (`wdm.h`: `CM_*`, `#pragma pack(4)`) as handed to
//! `MiniportInitializeEx` (`NDIS_MINIPORT_INIT_PARAMETERS.AllocatedResources`, translated) and by
//! `NdisMGetDeviceProperty`, plus the MSI/MSI-X message table (`IO_INTERRUPT_MESSAGE_INFO`).

use crate::basic::{KAFFINITY, KIRQL, PHYSICAL_ADDRESS, PVOID, UCHAR, ULONG, USHORT};

/// `CmResourceTypeNull`.
pub const CmResourceTypeNull: UCHAR = 0;
/// `CmResourceTypePort`: I/O port range (`u.Port`).
pub const CmResourceTypePort: UCHAR = 1;
/// `CmResourceTypeInterrupt`: line or message interrupt (`u.Interrupt` / `u.MessageInterrupt`).
pub const CmResourceTypeInterrupt: UCHAR = 2;
/// `CmResourceTypeMemory`: memory range (`u.Memory`), e.g. a PCI BAR.
pub const CmResourceTypeMemory: UCHAR = 3;
/// `CmResourceTypeDma`.
pub const CmResourceTypeDma: UCHAR = 4;
/// `CmResourceTypeDeviceSpecific`.
pub const CmResourceTypeDeviceSpecific: UCHAR = 5;
/// `CmResourceTypeBusNumber`.
pub const CmResourceTypeBusNumber: UCHAR = 6;
/// `CmResourceTypeMemoryLarge`: memory range whose length is scaled (`u.Memory40/48/64`).
pub const CmResourceTypeMemoryLarge: UCHAR = 7;
/// `CmResourceTypeConfigData`.
pub const CmResourceTypeConfigData: UCHAR = 128;
/// `CmResourceTypeDevicePrivate`.
pub const CmResourceTypeDevicePrivate: UCHAR = 129;
/// `CmResourceTypePcCardConfig`.
pub const CmResourceTypePcCardConfig: UCHAR = 130;
/// `CmResourceTypeMfCardConfig`.
pub const CmResourceTypeMfCardConfig: UCHAR = 131;
/// `CmResourceTypeConnection`.
pub const CmResourceTypeConnection: UCHAR = 132;

/// `CmResourceShareUndetermined`.
pub const CmResourceShareUndetermined: UCHAR = 0;
/// `CmResourceShareDeviceExclusive`.
pub const CmResourceShareDeviceExclusive: UCHAR = 1;
/// `CmResourceShareDriverExclusive`.
pub const CmResourceShareDriverExclusive: UCHAR = 2;
/// `CmResourceShareShared`.
pub const CmResourceShareShared: UCHAR = 3;

/// `CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE`.
pub const CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE: USHORT = 0x0000;
/// `CM_RESOURCE_INTERRUPT_LATCHED`.
pub const CM_RESOURCE_INTERRUPT_LATCHED: USHORT = 0x0001;
/// `CM_RESOURCE_INTERRUPT_MESSAGE`: MSI/MSI-X (use `u.MessageInterrupt`).
pub const CM_RESOURCE_INTERRUPT_MESSAGE: USHORT = 0x0002;
/// `CM_RESOURCE_INTERRUPT_POLICY_INCLUDED`.
pub const CM_RESOURCE_INTERRUPT_POLICY_INCLUDED: USHORT = 0x0004;
/// `CM_RESOURCE_INTERRUPT_SECONDARY_INTERRUPT`.
pub const CM_RESOURCE_INTERRUPT_SECONDARY_INTERRUPT: USHORT = 0x0010;
/// `CM_RESOURCE_INTERRUPT_WAKE_HINT`.
pub const CM_RESOURCE_INTERRUPT_WAKE_HINT: USHORT = 0x0020;

/// `CM_RESOURCE_MEMORY_READ_WRITE`.
pub const CM_RESOURCE_MEMORY_READ_WRITE: USHORT = 0x0000;
/// `CM_RESOURCE_MEMORY_READ_ONLY`.
pub const CM_RESOURCE_MEMORY_READ_ONLY: USHORT = 0x0001;
/// `CM_RESOURCE_MEMORY_WRITE_ONLY`.
pub const CM_RESOURCE_MEMORY_WRITE_ONLY: USHORT = 0x0002;
/// `CM_RESOURCE_MEMORY_PREFETCHABLE`.
pub const CM_RESOURCE_MEMORY_PREFETCHABLE: USHORT = 0x0004;
/// `CM_RESOURCE_MEMORY_COMBINEDWRITE`.
pub const CM_RESOURCE_MEMORY_COMBINEDWRITE: USHORT = 0x0008;
/// `CM_RESOURCE_MEMORY_24`.
pub const CM_RESOURCE_MEMORY_24: USHORT = 0x0010;
/// `CM_RESOURCE_MEMORY_CACHEABLE`.
pub const CM_RESOURCE_MEMORY_CACHEABLE: USHORT = 0x0020;
/// `CM_RESOURCE_MEMORY_WINDOW_DECODE`.
pub const CM_RESOURCE_MEMORY_WINDOW_DECODE: USHORT = 0x0040;
/// `CM_RESOURCE_MEMORY_BAR`.
pub const CM_RESOURCE_MEMORY_BAR: USHORT = 0x0080;
/// `CM_RESOURCE_MEMORY_COMPAT_FOR_INACCESSIBLE_RANGE`.
pub const CM_RESOURCE_MEMORY_COMPAT_FOR_INACCESSIBLE_RANGE: USHORT = 0x0100;
/// `CM_RESOURCE_MEMORY_LARGE_40`: `Length40` is in units of 256 bytes.
pub const CM_RESOURCE_MEMORY_LARGE_40: USHORT = 0x0200;
/// `CM_RESOURCE_MEMORY_LARGE_48`: `Length48` is in units of 64 KiB.
pub const CM_RESOURCE_MEMORY_LARGE_48: USHORT = 0x0400;
/// `CM_RESOURCE_MEMORY_LARGE_64`: `Length64` is in units of 4 GiB.
pub const CM_RESOURCE_MEMORY_LARGE_64: USHORT = 0x0800;
/// `CM_RESOURCE_MEMORY_LARGE` (any of the three).
pub const CM_RESOURCE_MEMORY_LARGE: USHORT = 0x0E00;
/// `CM_RESOURCE_PORT_MEMORY`.
pub const CM_RESOURCE_PORT_MEMORY: USHORT = 0x0000;
/// `CM_RESOURCE_PORT_IO`.
pub const CM_RESOURCE_PORT_IO: USHORT = 0x0001;

/// `u.Generic` / `u.Port` / `u.Memory` / `u.Memory40/48/64` view: start and (scaled) length.
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct CM_RESOURCE_RANGE {
    /// Physical (translated: CPU-visible) start address.
    pub Start: PHYSICAL_ADDRESS,
    /// Length (`Length`, or `Length40/48/64` for `CmResourceTypeMemoryLarge`).
    pub Length: ULONG,
}

/// `u.Interrupt` view (with `NT_PROCESSOR_GROUPS`: `USHORT Level; USHORT Group`).
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct CM_RESOURCE_INTERRUPT {
    /// IRQL (`Level`).
    pub Level: USHORT,
    /// Processor group.
    pub Group: USHORT,
    /// Vector.
    pub Vector: ULONG,
    /// Target processors.
    pub Affinity: KAFFINITY,
}

/// `u.MessageInterrupt.Raw` view: a raw (untranslated) MSI/MSI-X descriptor.
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct CM_RESOURCE_MESSAGE_INTERRUPT_RAW {
    /// Processor group (`Reserved` without `NT_PROCESSOR_GROUPS`).
    pub Group: USHORT,
    /// Number of messages allocated.
    pub MessageCount: USHORT,
    /// Vector.
    pub Vector: ULONG,
    /// Target processors.
    pub Affinity: KAFFINITY,
}

/// `u.Dma` view.
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct CM_RESOURCE_DMA {
    /// Channel.
    pub Channel: ULONG,
    /// Port.
    pub Port: ULONG,
    /// Reserved.
    pub Reserved1: ULONG,
}

/// `u.DevicePrivate` / `u.DeviceSpecificData` / `u.BusNumber` raw view.
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct CM_RESOURCE_DATA {
    /// Three ULONGs.
    pub Data: [ULONG; 3],
}

/// The union `u` of `CM_PARTIAL_RESOURCE_DESCRIPTOR` (16 bytes, 4-byte aligned on x64).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub union CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
    /// `Generic`.
    pub Generic: CM_RESOURCE_RANGE,
    /// `Port` (`CmResourceTypePort`).
    pub Port: CM_RESOURCE_RANGE,
    /// `Memory` (`CmResourceTypeMemory`).
    pub Memory: CM_RESOURCE_RANGE,
    /// `Interrupt` (line-based; also the translated form of a message interrupt).
    pub Interrupt: CM_RESOURCE_INTERRUPT,
    /// `MessageInterrupt.Raw`.
    pub MessageInterruptRaw: CM_RESOURCE_MESSAGE_INTERRUPT_RAW,
    /// `MessageInterrupt.Translated` (same shape as `Interrupt`).
    pub MessageInterruptTranslated: CM_RESOURCE_INTERRUPT,
    /// `Dma`.
    pub Dma: CM_RESOURCE_DMA,
    /// `DevicePrivate` / `BusNumber` / `DeviceSpecificData`.
    pub DevicePrivate: CM_RESOURCE_DATA,
}

/// `CM_PARTIAL_RESOURCE_DESCRIPTOR` (20 bytes on x64 because of `#pragma pack(4)`).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct CM_PARTIAL_RESOURCE_DESCRIPTOR {
    /// `CmResourceType*`.
    pub Type: UCHAR,
    /// `CmResourceShare*`.
    pub ShareDisposition: UCHAR,
    /// Type-specific `CM_RESOURCE_*` flags.
    pub Flags: USHORT,
    /// Type-specific data.
    pub u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U,
}

impl CM_PARTIAL_RESOURCE_DESCRIPTOR {
    /// For `CmResourceTypeMemory` / `CmResourceTypeMemoryLarge`: (start, length in bytes), the
    /// length scaled as `RtlCmDecodeMemIoResource` does. `None` for other types or an ambiguous
    /// large-memory flag combination.
    pub fn memory_range(&self) -> Option<(PHYSICAL_ADDRESS, u64)> {
        // SAFETY: every view of the union is plain integers; reading any of them is defined.
        let r = unsafe { self.u.Memory };
        let (start, len) = (r.Start, u64::from(r.Length));
        match self.Type {
            CmResourceTypeMemory => Some((start, len)),
            CmResourceTypeMemoryLarge => match self.Flags & CM_RESOURCE_MEMORY_LARGE {
                CM_RESOURCE_MEMORY_LARGE_40 => Some((start, len << 8)),
                CM_RESOURCE_MEMORY_LARGE_48 => Some((start, len << 16)),
                CM_RESOURCE_MEMORY_LARGE_64 => Some((start, len << 32)),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for an MSI/MSI-X interrupt descriptor.
    pub fn is_message_interrupt(&self) -> bool {
        self.Type == CmResourceTypeInterrupt && self.Flags & CM_RESOURCE_INTERRUPT_MESSAGE != 0
    }
}

/// `CM_PARTIAL_RESOURCE_LIST` = `NDIS_RESOURCE_LIST`: `Count` descriptors follow `Count`
/// (the declared array has one element; real lists are longer).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct CM_PARTIAL_RESOURCE_LIST {
    /// Version.
    pub Version: USHORT,
    /// Revision.
    pub Revision: USHORT,
    /// Number of descriptors.
    pub Count: ULONG,
    /// First descriptor (`PartialDescriptors[1]`).
    pub PartialDescriptors: [CM_PARTIAL_RESOURCE_DESCRIPTOR; 1],
}

impl CM_PARTIAL_RESOURCE_LIST {
    /// Byte offset of `PartialDescriptors` (= size of the list header).
    pub const DESCRIPTORS_OFFSET: usize = 8;

    /// The descriptors as a slice.
    ///
    /// # Safety
    /// `list` must point to a resource list whose `Count` descriptors are all readable for `'a`
    /// (NDIS guarantees this for `AllocatedResources` during `MiniportInitializeEx`).
    pub unsafe fn descriptors<'a>(list: *const Self) -> &'a [CM_PARTIAL_RESOURCE_DESCRIPTOR] {
        // SAFETY: the caller guarantees `list` is valid, so its `Count` field is in bounds.
        let count_ptr = unsafe { core::ptr::addr_of!((*list).Count) };
        // SAFETY: in-bounds plain integer; the list is only 4-byte aligned, hence unaligned read.
        let count = unsafe { count_ptr.read_unaligned() } as usize;
        // SAFETY: `list` is valid, so the offset stays inside the allocation.
        let first = unsafe { list.cast::<u8>().add(Self::DESCRIPTORS_OFFSET) }
            .cast::<CM_PARTIAL_RESOURCE_DESCRIPTOR>();
        // SAFETY: descriptors have alignment 4 like the list; the caller guarantees `count` of
        // them are readable for 'a.
        unsafe { core::slice::from_raw_parts(first, count) }
    }
}

/// `NDIS_RESOURCE_LIST` (`CM_PARTIAL_RESOURCE_LIST`).
pub type NDIS_RESOURCE_LIST = CM_PARTIAL_RESOURCE_LIST;
/// `PNDIS_RESOURCE_LIST`.
pub type PNDIS_RESOURCE_LIST = *mut NDIS_RESOURCE_LIST;

/// `INTERFACE_TYPE` (C enum).
pub type INTERFACE_TYPE = i32;
/// `PCIBus`.
pub const PCIBus: INTERFACE_TYPE = 5;

/// `CM_FULL_RESOURCE_DESCRIPTOR`.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct CM_FULL_RESOURCE_DESCRIPTOR {
    /// Bus type.
    pub InterfaceType: INTERFACE_TYPE,
    /// Bus number.
    pub BusNumber: ULONG,
    /// The partial list.
    pub PartialResourceList: CM_PARTIAL_RESOURCE_LIST,
}

/// `CM_RESOURCE_LIST` (`NdisMGetDeviceProperty` returns these).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct CM_RESOURCE_LIST {
    /// Number of full descriptors.
    pub Count: ULONG,
    /// First full descriptor (`List[1]`).
    pub List: [CM_FULL_RESOURCE_DESCRIPTOR; 1],
}
/// `PCM_RESOURCE_LIST`.
pub type PCM_RESOURCE_LIST = *mut CM_RESOURCE_LIST;

assert_layout!(CM_RESOURCE_RANGE, size = 12, Start = 0, Length = 8);
assert_layout!(
    CM_RESOURCE_INTERRUPT,
    size = 16,
    Level = 0,
    Group = 2,
    Vector = 4,
    Affinity = 8
);
assert_layout!(
    CM_RESOURCE_MESSAGE_INTERRUPT_RAW,
    size = 16,
    Group = 0,
    MessageCount = 2,
    Vector = 4,
    Affinity = 8
);
assert_layout!(CM_PARTIAL_RESOURCE_DESCRIPTOR_U, size = 16);
assert_layout!(
    CM_PARTIAL_RESOURCE_DESCRIPTOR,
    size = 20,
    Type = 0,
    ShareDisposition = 1,
    Flags = 2,
    u = 4
);
assert_layout!(
    CM_PARTIAL_RESOURCE_LIST,
    size = 28,
    Version = 0,
    Revision = 2,
    Count = 4,
    PartialDescriptors = 8
);
assert_layout!(
    CM_FULL_RESOURCE_DESCRIPTOR,
    size = 36,
    InterfaceType = 0,
    BusNumber = 4,
    PartialResourceList = 8
);
assert_layout!(CM_RESOURCE_LIST, size = 40, Count = 0, List = 4);
const _: () = assert!(core::mem::align_of::<CM_PARTIAL_RESOURCE_DESCRIPTOR>() == 4);

/// `KINTERRUPT_MODE` (C enum).
pub type KINTERRUPT_MODE = i32;
/// `LevelSensitive`.
pub const LevelSensitive: KINTERRUPT_MODE = 0;
/// `Latched`.
pub const Latched: KINTERRUPT_MODE = 1;
/// `KINTERRUPT_POLARITY` (C enum).
pub type KINTERRUPT_POLARITY = i32;

/// `IO_INTERRUPT_MESSAGE_INFO_ENTRY`: one MSI/MSI-X message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct IO_INTERRUPT_MESSAGE_INFO_ENTRY {
    /// Address the device writes to.
    pub MessageAddress: PHYSICAL_ADDRESS,
    /// Processors this message may interrupt.
    pub TargetProcessorSet: KAFFINITY,
    /// `PKINTERRUPT`.
    pub InterruptObject: PVOID,
    /// Data the device writes.
    pub MessageData: ULONG,
    /// Vector.
    pub Vector: ULONG,
    /// IRQL.
    pub Irql: KIRQL,
    /// Mode.
    pub Mode: KINTERRUPT_MODE,
    /// Polarity.
    pub Polarity: KINTERRUPT_POLARITY,
}
assert_layout!(
    IO_INTERRUPT_MESSAGE_INFO_ENTRY,
    size = 48,
    MessageAddress = 0,
    TargetProcessorSet = 8,
    InterruptObject = 16,
    MessageData = 24,
    Vector = 28,
    Irql = 32,
    Mode = 36,
    Polarity = 40
);

/// `IO_INTERRUPT_MESSAGE_INFO`: `MessageCount` entries follow (declared as one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct IO_INTERRUPT_MESSAGE_INFO {
    /// IRQL of all messages when they share one.
    pub UnifiedIrql: KIRQL,
    /// Number of entries.
    pub MessageCount: ULONG,
    /// First entry (`MessageInfo[1]`).
    pub MessageInfo: [IO_INTERRUPT_MESSAGE_INFO_ENTRY; 1],
}
assert_layout!(
    IO_INTERRUPT_MESSAGE_INFO,
    size = 56,
    UnifiedIrql = 0,
    MessageCount = 4,
    MessageInfo = 8
);
/// `PIO_INTERRUPT_MESSAGE_INFO`.
pub type PIO_INTERRUPT_MESSAGE_INFO = *mut IO_INTERRUPT_MESSAGE_INFO;

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(ty: UCHAR, flags: USHORT, start: i64, len: u32) -> CM_PARTIAL_RESOURCE_DESCRIPTOR {
        CM_PARTIAL_RESOURCE_DESCRIPTOR {
            Type: ty,
            ShareDisposition: CmResourceShareDeviceExclusive,
            Flags: flags,
            u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                Memory: CM_RESOURCE_RANGE {
                    Start: start,
                    Length: len,
                },
            },
        }
    }

    #[test]
    fn memory_large_lengths_are_scaled_by_their_flag() {
        let d = mem(CmResourceTypeMemory, 0, 0xFE00_0000, 0x4000);
        assert_eq!(d.memory_range(), Some((0xFE00_0000, 0x4000)));
        let d = mem(
            CmResourceTypeMemoryLarge,
            CM_RESOURCE_MEMORY_LARGE_40,
            0x1_0000_0000,
            0x10,
        );
        assert_eq!(d.memory_range(), Some((0x1_0000_0000, 0x1000)));
        let d = mem(CmResourceTypeMemoryLarge, CM_RESOURCE_MEMORY_LARGE_48, 0, 2);
        assert_eq!(d.memory_range(), Some((0, 0x2_0000)));
        let d = mem(CmResourceTypeMemoryLarge, CM_RESOURCE_MEMORY_LARGE_64, 0, 1);
        assert_eq!(d.memory_range(), Some((0, 1 << 32)));
        let d = mem(CmResourceTypeMemoryLarge, CM_RESOURCE_MEMORY_LARGE, 0, 1);
        assert_eq!(d.memory_range(), None);
        let d = mem(CmResourceTypePort, 0, 0xC000, 0x20);
        assert_eq!(d.memory_range(), None);
    }

    #[test]
    fn descriptors_reads_count_entries_at_offset_8() {
        // A list with three descriptors laid out as NDIS passes it (packed, 4-aligned).
        #[repr(C, packed(4))]
        struct List3 {
            hdr: [u16; 2],
            count: u32,
            d: [CM_PARTIAL_RESOURCE_DESCRIPTOR; 3],
        }
        let l = List3 {
            hdr: [1, 1],
            count: 3,
            d: [
                mem(CmResourceTypeMemory, 0, 0x1000, 0x100),
                CM_PARTIAL_RESOURCE_DESCRIPTOR {
                    Type: CmResourceTypeInterrupt,
                    ShareDisposition: 0,
                    Flags: CM_RESOURCE_INTERRUPT_MESSAGE | CM_RESOURCE_INTERRUPT_LATCHED,
                    u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
                        MessageInterruptRaw: CM_RESOURCE_MESSAGE_INTERRUPT_RAW {
                            Group: 0,
                            MessageCount: 3,
                            Vector: 0x50,
                            Affinity: 1,
                        },
                    },
                },
                mem(CmResourceTypeMemory, 0, 0x2000, 0x200),
            ],
        };
        // SAFETY: `l` is a complete list of `count` descriptors that outlives the slice.
        let ds = unsafe { CM_PARTIAL_RESOURCE_LIST::descriptors(core::ptr::addr_of!(l).cast()) };
        assert_eq!(ds.len(), 3);
        assert_eq!(ds[0].memory_range(), Some((0x1000, 0x100)));
        assert!(ds[1].is_message_interrupt());
        // SAFETY: plain-integer union view.
        assert_eq!({ unsafe { ds[1].u.MessageInterruptRaw }.MessageCount }, 3);
        assert_eq!(ds[2].memory_range(), Some((0x2000, 0x200)));
    }
}
