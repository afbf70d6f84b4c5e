//! NDIS object plumbing of the datapath: NET_BUFFER data as byte slices, receive NBL/NB/MDL set-up,
//! NBL chains, the per-NBL / per-NB `MiniportReserved` words the datapath keeps, completion flags and the
//! current IRQL / processor. Every raw access to an NDIS structure the datapath makes is in this file;
//! each function states what it requires of its pointers.

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use ndis_sys as n;

/// A singly linked NBL list (through `NET_BUFFER_LIST.Next`) with O(1) append, owned by the datapath.
pub(crate) struct NblList {
    head: n::PNET_BUFFER_LIST,
    tail: n::PNET_BUFFER_LIST,
    count: u32,
}

// SAFETY: an ownership record of NBLs the miniport owns (sends not yet completed, receives between
// indication and return); moving the record to another CPU moves that ownership, the NBLs themselves
// are plain memory NDIS lets the owner touch from any CPU.
unsafe impl Send for NblList {}

impl NblList {
    /// Empty.
    pub(crate) const fn new() -> Self {
        NblList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            count: 0,
        }
    }

    /// First NBL (null when empty).
    pub(crate) fn head(&self) -> n::PNET_BUFFER_LIST {
        self.head
    }

    /// Number of NBLs.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// No NBL.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Appends `nbl` (its `Next` is overwritten).
    ///
    /// # Safety
    /// `nbl` is a valid NBL the caller owns and that is in no other list.
    pub(crate) unsafe fn push(&mut self, nbl: n::PNET_BUFFER_LIST) {
        // SAFETY: valid, owned NBL (caller).
        unsafe { (*nbl).set_next_nbl(ptr::null_mut()) };
        if self.tail.is_null() {
            self.head = nbl;
        } else {
            // SAFETY: `tail` is an NBL of this list, owned by the caller as well.
            unsafe { (*self.tail).set_next_nbl(nbl) };
        }
        self.tail = nbl;
        self.count += 1;
    }

    /// Removes and returns the first NBL (its `Next` is cleared).
    ///
    /// # Safety
    /// The list's NBLs are valid (they are while the caller owns them).
    pub(crate) unsafe fn pop_front(&mut self) -> Option<n::PNET_BUFFER_LIST> {
        if self.head.is_null() {
            return None;
        }
        let nbl = self.head;
        // SAFETY: a valid NBL of the list.
        let next = unsafe { (*nbl).next_nbl() };
        // SAFETY: as above.
        unsafe { (*nbl).set_next_nbl(ptr::null_mut()) };
        self.head = next;
        if next.is_null() {
            self.tail = ptr::null_mut();
        }
        self.count -= 1;
        Some(nbl)
    }

    /// Moves every NBL of `other` to the end of `self`.
    ///
    /// # Safety
    /// Both lists' NBLs are valid.
    pub(crate) unsafe fn append(&mut self, other: &mut NblList) {
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: valid NBL of this list.
            unsafe { (*self.tail).set_next_nbl(other.head) };
        }
        self.tail = other.tail;
        self.count += other.count;
        *other = NblList::new();
    }

    /// Takes the whole list, leaving `self` empty.
    pub(crate) fn take(&mut self) -> NblList {
        core::mem::replace(self, NblList::new())
    }

    /// Keeps the NBLs for which `keep` returns true, in order; hands the others to `removed` (in order).
    ///
    /// # Safety
    /// The list's NBLs are valid.
    pub(crate) unsafe fn retain(
        &mut self,
        mut keep: impl FnMut(n::PNET_BUFFER_LIST) -> bool,
        removed: &mut NblList,
    ) {
        let mut all = self.take();
        // SAFETY: the NBLs stay valid (caller).
        while let Some(nbl) = unsafe { all.pop_front() } {
            if keep(nbl) {
                // SAFETY: as above.
                unsafe { self.push(nbl) };
            } else {
                // SAFETY: as above.
                unsafe { removed.push(nbl) };
            }
        }
    }
}

/// The current IRQL (`KeGetCurrentIrql`).
pub(crate) fn current_irql() -> n::KIRQL {
    #[cfg(target_os = "windows")]
    {
        // SAFETY: the driver runs in kernel mode, where reading CR8 is allowed.
        unsafe { n::KeGetCurrentIrql() }
    }
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: exported by the user-mode NDIS (or the unit-test stubs); no arguments.
        unsafe { host::KeGetCurrentIrql() }
    }
}

#[cfg(not(target_os = "windows"))]
mod host {
    // ntoskrnl exports KeGetCurrentIrql (the x64 WDK inlines it as `mov cr8`); on the host the user-mode
    // NDIS defines it. ndis-sys declares only the inline Windows form.
    unsafe extern "system" {
        pub(super) fn KeGetCurrentIrql() -> ndis_sys::KIRQL;
    }
}

/// The current processor (`KeGetCurrentProcessorNumberEx`).
pub(crate) fn current_processor() -> n::PROCESSOR_NUMBER {
    let mut p = n::PROCESSOR_NUMBER::default();
    // SAFETY: callable at any IRQL; `p` is writable.
    unsafe { n::KeGetCurrentProcessorNumberEx(&mut p) };
    p
}

/// `SendCompleteFlags` for a completion made at the current IRQL.
pub(crate) fn send_complete_flags(dispatch: bool) -> u32 {
    if dispatch {
        n::NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    }
}

/// Completes every NBL of `list` with `NdisMSendNetBufferListsComplete` (statuses already set); one call.
///
/// # Safety
/// `miniport` is the adapter handle; the NBLs are send NBLs the miniport owns; `dispatch` says whether
/// the caller runs at DISPATCH_LEVEL.
pub(crate) unsafe fn complete_sends(miniport: n::NDIS_HANDLE, list: NblList, dispatch: bool) {
    if list.is_empty() {
        return;
    }
    // SAFETY: caller contract; the chain is handed back exactly once.
    unsafe {
        n::NdisMSendNetBufferListsComplete(miniport, list.head(), send_complete_flags(dispatch))
    };
}

/// Sets the status of every NBL of a raw chain and completes it (sends refused as a whole).
///
/// # Safety
/// `nbls` is a chain the miniport owns; `dispatch` as in [`complete_sends`].
pub(crate) unsafe fn complete_chain(
    miniport: n::NDIS_HANDLE,
    nbls: n::PNET_BUFFER_LIST,
    status: n::NDIS_STATUS,
    dispatch: bool,
) {
    if nbls.is_null() {
        return;
    }
    // SAFETY: the chain is owned and not modified while iterating.
    for nbl in unsafe { n::NblChain::new(nbls) } {
        // SAFETY: element of the owned chain.
        unsafe { (*nbl).set_status(status) };
    }
    // SAFETY: caller contract.
    unsafe { n::NdisMSendNetBufferListsComplete(miniport, nbls, send_complete_flags(dispatch)) };
}

// ---------------------------------------------------------------------------------------------
// MiniportReserved words

/// A `PVOID`-sized reserved word used as an atomic counter / value.
///
/// # Safety
/// `p` points into an NDIS structure the miniport owns for as long as the reference is used.
unsafe fn word<'a>(p: *mut n::PVOID) -> &'a AtomicUsize {
    // SAFETY: a PVOID slot is pointer-aligned and pointer-sized; the miniport owns it (caller).
    unsafe { AtomicUsize::from_ptr(p.cast::<usize>()) }
}

/// Send NBL: `MiniportReserved[0]` = chains (NET_BUFFERs / segments) in flight + 1 while NBs remain
/// to be posted.
///
/// # Safety
/// `nbl` is a send NBL the miniport owns.
pub(crate) unsafe fn nbl_pending<'a>(nbl: n::PNET_BUFFER_LIST) -> &'a AtomicUsize {
    // SAFETY: owned NBL (caller); slot 0 of MiniportReserved.
    unsafe { word(nbl_reserved(nbl, 0)) }
}

/// Address of `MiniportReserved[i & 1]` of an NBL (no dereference).
fn nbl_reserved(nbl: n::PNET_BUFFER_LIST, i: usize) -> *mut n::PVOID {
    nbl.cast::<u8>()
        .wrapping_add(core::mem::offset_of!(n::NET_BUFFER_LIST, MiniportReserved))
        .cast::<n::PVOID>()
        .wrapping_add(i & 1)
}

/// Address of `MiniportReserved[i & 3]` of an NB (no dereference).
fn nb_reserved(nb: n::PNET_BUFFER, i: usize) -> *mut n::PVOID {
    nb.cast::<u8>()
        .wrapping_add(core::mem::offset_of!(n::NET_BUFFER, MiniportReserved))
        .cast::<n::PVOID>()
        .wrapping_add(i & 3)
}

/// Send NBL: `MiniportReserved[1]` = TCP payload bytes sent (LSOv1 completion).
///
/// # Safety
/// As [`nbl_pending`].
pub(crate) unsafe fn nbl_payload<'a>(nbl: n::PNET_BUFFER_LIST) -> &'a AtomicUsize {
    // SAFETY: owned NBL (caller); slot 1 of MiniportReserved.
    unsafe { word(nbl_reserved(nbl, 1)) }
}

/// Receive NBL: `MiniportReserved[0]` = first receive buffer + 1 (0: none), `[1]` = owner tag (pair
/// and pool index).
///
/// # Safety
/// `nbl` is a receive NBL of the datapath's pools.
pub(crate) unsafe fn rx_tags(nbl: n::PNET_BUFFER_LIST) -> (usize, usize) {
    // SAFETY: owned NBL (caller).
    let r = unsafe { &(*nbl).MiniportReserved };
    (r[0] as usize, r[1] as usize)
}

/// Sets the receive tags read by [`rx_tags`].
///
/// # Safety
/// As [`rx_tags`].
pub(crate) unsafe fn set_rx_tags(nbl: n::PNET_BUFFER_LIST, bufs: usize, owner: usize) {
    // SAFETY: owned NBL (caller).
    let r = unsafe { &mut (*nbl).MiniportReserved };
    r[0] = bufs as n::PVOID;
    r[1] = owner as n::PVOID;
}

/// Send NB `MiniportReserved`: `[0]` scatter/gather list, `[1]` mapping state, `[2]` chains in flight
/// that use the list, `[3]` the queue that asked for the mapping.
pub(crate) mod nbw {
    /// SG list pointer.
    pub(crate) const SGL: usize = 0;
    /// [`super::MapState`].
    pub(crate) const STATE: usize = 1;
    /// Chains in flight referencing the list.
    pub(crate) const USERS: usize = 2;
    /// The `TxQueue` that requested the mapping.
    pub(crate) const QUEUE: usize = 3;
}

/// A send NB's reserved word `i` (see [`nbw`]).
///
/// # Safety
/// `nb` is a NET_BUFFER of a send NBL the miniport owns; `i < 4`.
pub(crate) unsafe fn nb_word<'a>(nb: n::PNET_BUFFER, i: usize) -> &'a AtomicUsize {
    // SAFETY: owned NB (caller); the address is MiniportReserved[i & 3] inside it.
    unsafe { word(nb_reserved(nb, i)) }
}

/// Scatter/gather mapping state of a send NB (`MiniportReserved[nbw::STATE]`).
pub(crate) mod map_state {
    /// Not requested.
    pub(crate) const IDLE: usize = 0;
    /// `NdisMAllocateNetBufferSGList` is running on the requesting CPU.
    pub(crate) const REQUESTED: usize = 1;
    /// The call returned without the callback: the list comes later (asynchronous mapping).
    pub(crate) const WAITING: usize = 2;
    /// The list is in `MiniportReserved[nbw::SGL]`.
    pub(crate) const MAPPED: usize = 3;
}

/// Clears a send NB's reserved words (before first use: the protocol may have left anything there).
///
/// # Safety
/// As [`nb_word`].
pub(crate) unsafe fn nb_reset(nb: n::PNET_BUFFER) {
    for i in 0..4 {
        // SAFETY: forwarded.
        unsafe { nb_word(nb, i) }.store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Send NET_BUFFER data

/// Why the data of a send NET_BUFFER cannot be viewed as slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FragError {
    /// More MDLs than the caller's array holds.
    TooMany,
    /// An MDL could not be mapped into system space.
    Unmapped,
    /// The MDL chain is shorter than `DataLength`, or an offset lies outside its MDL.
    Malformed,
}

/// The data of `nb` (from `CurrentMdl` + `CurrentMdlOffset`, `DataLength` bytes) as slices in `out`;
/// returns how many were filled.
///
/// # Safety
/// `nb` is a valid send NET_BUFFER the miniport owns; the returned slices are valid until the NBL is
/// completed (the caller chooses `'a` accordingly).
pub(crate) unsafe fn nb_fragments(
    nb: n::PNET_BUFFER,
    out: &mut [&[u8]],
) -> Result<usize, FragError> {
    // SAFETY: valid NB (caller).
    let b = unsafe { &*nb };
    let mut left = b.data_length() as usize;
    let mut mdl = b.current_mdl();
    let mut off = b.current_mdl_offset() as usize;
    let mut n_out = 0usize;
    // Bound the walk: a chain longer than the data in bytes is a loop or garbage.
    let mut budget = left.saturating_add(out.len()).saturating_add(1);
    while left > 0 {
        if mdl.is_null() || budget == 0 {
            return Err(FragError::Malformed);
        }
        budget -= 1;
        // SAFETY: an MDL of the NB's chain, valid while the NB is owned.
        let m = unsafe { &*mdl };
        let count = m.byte_count() as usize;
        if off > count {
            return Err(FragError::Malformed);
        }
        let take = (count - off).min(left);
        if take > 0 {
            // SAFETY: valid MDL describing locked/non-paged pages (NDIS send data); <= DISPATCH_LEVEL.
            let va = unsafe {
                n::MmGetSystemAddressForMdlSafe(mdl, n::NormalPagePriority | n::MdlMappingNoExecute)
            };
            if va.is_null() {
                return Err(FragError::Unmapped);
            }
            let slot = out.get_mut(n_out).ok_or(FragError::TooMany)?;
            // SAFETY: the MDL maps `count` bytes at `va`; `off + take <= count`; the data is not written
            // by anyone while the miniport owns the NBL (send data is read-only to the miniport).
            *slot = unsafe { core::slice::from_raw_parts(va.cast::<u8>().wrapping_add(off), take) };
            n_out += 1;
        }
        left -= take;
        off = 0;
        mdl = m.next();
    }
    Ok(n_out)
}

/// Copies the data of `nb` into `dst` (which must hold `DataLength` bytes); returns the length.
///
/// # Safety
/// As [`nb_fragments`].
pub(crate) unsafe fn nb_copy(nb: n::PNET_BUFFER, dst: &mut [u8]) -> Result<usize, FragError> {
    // SAFETY: valid NB (caller).
    let b = unsafe { &*nb };
    let total = b.data_length() as usize;
    if total > dst.len() {
        return Err(FragError::TooMany);
    }
    let mut left = total;
    let mut mdl = b.current_mdl();
    let mut off = b.current_mdl_offset() as usize;
    let mut pos = 0usize;
    let mut budget = left.saturating_add(1);
    while left > 0 {
        if mdl.is_null() || budget == 0 {
            return Err(FragError::Malformed);
        }
        budget -= 1;
        // SAFETY: an MDL of the NB's chain.
        let m = unsafe { &*mdl };
        let count = m.byte_count() as usize;
        if off > count {
            return Err(FragError::Malformed);
        }
        let take = (count - off).min(left);
        if take > 0 {
            // SAFETY: as in `nb_fragments`.
            let va = unsafe {
                n::MmGetSystemAddressForMdlSafe(mdl, n::NormalPagePriority | n::MdlMappingNoExecute)
            };
            if va.is_null() {
                return Err(FragError::Unmapped);
            }
            // SAFETY: `take` bytes at `va + off` are mapped NB data.
            let src =
                unsafe { core::slice::from_raw_parts(va.cast::<u8>().wrapping_add(off), take) };
            let d = dst.get_mut(pos..pos + take).ok_or(FragError::TooMany)?;
            d.copy_from_slice(src);
            pos += take;
        }
        left -= take;
        off = 0;
        mdl = m.next();
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// Receive MDLs and NET_BUFFERs

/// Makes a single-page MDL of a page-aligned receive buffer at `base` describe `len` bytes from `start`
/// and ends the chain there.
///
/// The MDL was built by `NdisAllocateMdl` over the whole page (non-paged shared memory: `StartVa` = the
/// page, `MappedSystemVa` = `StartVa + ByteOffset`, one PFN). Moving the window inside that page keeps
/// every field consistent — it is what `MmInitializeMdl` + `MmBuildMdlForNonPagedPool` would produce for
/// the sub-range (same page, same PFN) — so no MDL is allocated per packet.
///
/// # Safety
/// `mdl` is such an MDL owned by the datapath and not in use by NDIS; `start + len <= 4096`.
pub(crate) unsafe fn mdl_window(mdl: n::PMDL, base: *mut u8, start: u32, len: u32) {
    // SAFETY: owned MDL (caller).
    let m = unsafe { &mut *mdl };
    m.ByteOffset = start;
    m.MappedSystemVa = base.wrapping_add(start as usize).cast();
    m.ByteCount = len;
    m.Next = ptr::null_mut();
}

/// Links `next` after `mdl`.
///
/// # Safety
/// Both are datapath MDLs not in use by NDIS.
pub(crate) unsafe fn mdl_link(mdl: n::PMDL, next: n::PMDL) {
    // SAFETY: owned MDL (caller).
    unsafe { (*mdl).Next = next };
}

/// Points the NET_BUFFER of a receive NBL at an MDL chain: data from `offset` in `first`, `len` bytes.
///
/// # Safety
/// `nbl` is a receive NBL of the datapath's pool (allocated with one NET_BUFFER) not in use by NDIS;
/// the chain from `first` holds `offset + len` bytes.
pub(crate) unsafe fn set_rx_data(nbl: n::PNET_BUFFER_LIST, first: n::PMDL, offset: u32, len: u32) {
    // SAFETY: owned NBL with its own NB (caller).
    let nb = unsafe { (*nbl).first_nb() };
    if nb.is_null() {
        return;
    }
    // SAFETY: owned NB (caller).
    let header = unsafe { &mut (*nb).NetBufferHeader };
    // SAFETY: the data view of the union is the live one while the NB is allocated.
    let d = unsafe { &mut header.NetBufferData };
    d.Next = ptr::null_mut();
    d.MdlChain = first;
    d.CurrentMdl = first;
    d.CurrentMdlOffset = offset;
    d.DataOffset = offset;
    d.NbDataLength.DataLength = len;
}

/// Resets the fields of a receive NBL the datapath sets per indication (status, flags, every offload
/// slot it writes) so nothing of the previous use leaks into the next one.
///
/// # Safety
/// As [`set_rx_data`].
pub(crate) unsafe fn reset_rx_nbl(nbl: n::PNET_BUFFER_LIST, source: n::NDIS_HANDLE) {
    // SAFETY: owned NBL (caller).
    let l = unsafe { &mut *nbl };
    l.set_next_nbl(ptr::null_mut());
    l.Status = n::NDIS_STATUS_SUCCESS;
    l.NblFlags = 0;
    l.SourceHandle = source;
    for slot in [
        n::TcpIpChecksumNetBufferListInfo,
        n::Ieee8021QNetBufferListInfo,
        n::NetBufferListHashValue,
        n::NetBufferListHashInfo,
        n::TcpRecvSegCoalesceInfo,
        n::RscTcpTimestampDelta,
        n::UdpRecvSegCoalesceOffloadInfo,
    ] {
        l.set_info_value(slot, 0);
    }
}
