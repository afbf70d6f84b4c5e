//! The hardware resources NDIS hands to `MiniportInitializeEx` (`AllocatedResources`, the translated
//! `CM_PARTIAL_RESOURCE_LIST` of the PCI function), reduced to what the virtio-net driver needs: memory BARs
//! (virtio 1.x modern devices expose their configuration structures only in memory BARs) and interrupts.
//!
//! Never trusts the list: a NULL list, a count beyond what a PCI function can have, or a list without any
//! memory range are typed errors, not crashes.

use ndis_sys as n;

/// A PCI function has at most 6 BARs; more memory ranges than this means a malformed list.
pub const MAX_MEMORY_RANGES: usize = 6;
/// Upper bound on descriptors we are willing to walk (BARs + MSI-X messages + legacy bits).
pub const MAX_DESCRIPTORS: usize = 2048 + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// Translated (CPU physical) start address.
    pub start: i64,
    pub length: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciResources {
    pub memory: [Option<MemoryRange>; MAX_MEMORY_RANGES],
    pub memory_count: usize,
    pub message_interrupts: usize,
    pub line_interrupts: usize,
    pub io_ports: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceError {
    /// `AllocatedResources` was NULL.
    NoResourceList,
    /// The list's `Count` exceeds [`MAX_DESCRIPTORS`].
    TooManyDescriptors { count: u32 },
    /// More memory ranges than a PCI function has BARs.
    TooManyMemoryRanges,
    /// A memory descriptor with zero length or an undecodable large-memory encoding.
    BadMemoryDescriptor { index: usize },
    /// No memory BAR: a virtio 1.x device cannot be driven.
    NoMemoryBar,
}

/// Classify already-validated descriptors.
pub fn classify(
    descriptors: &[n::CM_PARTIAL_RESOURCE_DESCRIPTOR],
) -> Result<PciResources, ResourceError> {
    let mut r = PciResources::default();
    for (index, d) in descriptors.iter().enumerate() {
        match d.Type {
            n::CmResourceTypeMemory | n::CmResourceTypeMemoryLarge => {
                let (start, length) = d
                    .memory_range()
                    .filter(|(_, len)| *len != 0)
                    .ok_or(ResourceError::BadMemoryDescriptor { index })?;
                let slot = r
                    .memory
                    .get_mut(r.memory_count)
                    .ok_or(ResourceError::TooManyMemoryRanges)?;
                *slot = Some(MemoryRange { start, length });
                r.memory_count += 1;
            }
            n::CmResourceTypeInterrupt if d.is_message_interrupt() => r.message_interrupts += 1,
            n::CmResourceTypeInterrupt => r.line_interrupts += 1,
            n::CmResourceTypePort => r.io_ports += 1,
            _ => {}
        }
    }
    if r.memory_count == 0 {
        return Err(ResourceError::NoMemoryBar);
    }
    Ok(r)
}

/// Read and classify `AllocatedResources`.
///
/// # Safety
/// `list` is NULL or points to a resource list whose `Count` descriptors are readable (NDIS guarantees this
/// for `AllocatedResources` during `MiniportInitializeEx`).
pub unsafe fn from_list(list: *const n::NDIS_RESOURCE_LIST) -> Result<PciResources, ResourceError> {
    if list.is_null() {
        return Err(ResourceError::NoResourceList);
    }
    // SAFETY: `list` is non-null and points to a readable list header per the caller.
    let count_ptr = unsafe { core::ptr::addr_of!((*list).Count) };
    // SAFETY: the header is readable; the field of the packed struct may be unaligned.
    let count = unsafe { count_ptr.read_unaligned() };
    if count as usize > MAX_DESCRIPTORS {
        return Err(ResourceError::TooManyDescriptors { count });
    }
    // SAFETY: the caller guarantees `Count` readable descriptors; `count` was bounded above.
    let descriptors = unsafe { n::CM_PARTIAL_RESOURCE_LIST::descriptors(list) };
    classify(descriptors)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn desc(ty: u8, flags: u16, start: i64, len: u32) -> n::CM_PARTIAL_RESOURCE_DESCRIPTOR {
        let mut raw = [0u8; 20];
        raw[0] = ty;
        raw[1] = n::CmResourceShareDeviceExclusive;
        raw[2..4].copy_from_slice(&flags.to_le_bytes());
        raw[4..12].copy_from_slice(&start.to_le_bytes());
        raw[12..16].copy_from_slice(&len.to_le_bytes());
        // SAFETY: CM_PARTIAL_RESOURCE_DESCRIPTOR is 20 bytes of plain integers (asserted in ndis-sys).
        unsafe { core::mem::transmute::<[u8; 20], n::CM_PARTIAL_RESOURCE_DESCRIPTOR>(raw) }
    }

    #[test]
    fn memory_bars_and_interrupts_are_classified() {
        let list = [
            desc(n::CmResourceTypeMemory, 0, 0xFE00_0000, 0x4000),
            desc(
                n::CmResourceTypeInterrupt,
                n::CM_RESOURCE_INTERRUPT_MESSAGE,
                0,
                0,
            ),
            desc(
                n::CmResourceTypeInterrupt,
                n::CM_RESOURCE_INTERRUPT_MESSAGE,
                0,
                0,
            ),
            desc(n::CmResourceTypePort, 0, 0xC000, 0x40),
            desc(n::CmResourceTypeMemory, 0, 0xFD00_0000, 0x1000),
        ];
        let r = classify(&list).unwrap();
        assert_eq!(r.memory_count, 2);
        assert_eq!(
            r.memory[0],
            Some(MemoryRange {
                start: 0xFE00_0000,
                length: 0x4000
            })
        );
        assert_eq!(
            r.memory[1],
            Some(MemoryRange {
                start: 0xFD00_0000,
                length: 0x1000
            })
        );
        assert_eq!(
            (r.message_interrupts, r.line_interrupts, r.io_ports),
            (2, 0, 1)
        );
    }

    #[test]
    fn no_memory_bar_is_an_error() {
        assert_eq!(classify(&[]), Err(ResourceError::NoMemoryBar));
        let list = [
            desc(n::CmResourceTypePort, 0, 0xC000, 0x40),
            desc(n::CmResourceTypeInterrupt, 0, 0, 0),
        ];
        assert_eq!(classify(&list), Err(ResourceError::NoMemoryBar));
    }

    #[test]
    fn zero_length_or_too_many_memory_ranges_are_rejected() {
        let zero = [desc(n::CmResourceTypeMemory, 0, 0xFE00_0000, 0)];
        assert_eq!(
            classify(&zero),
            Err(ResourceError::BadMemoryDescriptor { index: 0 })
        );
        let seven: Vec<_> = (0..7)
            .map(|i| desc(n::CmResourceTypeMemory, 0, i * 0x1000, 0x1000))
            .collect();
        assert_eq!(classify(&seven), Err(ResourceError::TooManyMemoryRanges));
    }

    #[test]
    fn null_list_and_absurd_counts_are_rejected_without_reading_descriptors() {
        // SAFETY: NULL is explicitly allowed.
        let r = unsafe { from_list(core::ptr::null()) };
        assert_eq!(r, Err(ResourceError::NoResourceList));
        // A header claiming 100000 descriptors backed by only 8 bytes: must be refused before the walk.
        let header = [1u16.to_le_bytes(), 1u16.to_le_bytes()].concat();
        let mut buf = [0u32; 8];
        let count: u32 = 100_000;
        let h = [header.as_slice(), &count.to_le_bytes()].concat();
        // SAFETY: copying 8 header bytes into a 32-byte aligned buffer.
        unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), buf.as_mut_ptr().cast::<u8>(), 8) };
        let list = buf.as_ptr().cast::<n::NDIS_RESOURCE_LIST>();
        // SAFETY: only the header is read before the count check fails.
        let r = unsafe { from_list(list) };
        assert_eq!(r, Err(ResourceError::TooManyDescriptors { count }));
    }
}
