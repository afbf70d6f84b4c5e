//! Interrupts: registration with `NdisMRegisterInterruptEx` (message-signalled handlers preferred, line
//! based as fallback), the MSI-X vector plan, and the ISR/DPC trampolines into the adapter.
//!
//! Vector plan (reference §3.9, NetKVM `ParaNdis_ConfigureMSIXVectors`), with `M` messages granted and `P`
//! pairs wanted:
//! * `M >= 2P + 1`: TX of pair j = message 2j, RX = 2j + 1, configuration change = 2P (NetKVM's layout);
//! * `P + 1 <= M < 2P + 1`: TX and RX of pair j share message j, configuration = P;
//! * `2 <= M < P + 1`: pairs reduced to `M - 1`, shared per pair, configuration = M - 1;
//! * `M = 1`: one pair, every queue and the configuration on message 0;
//! * line-based (INTx): one pair, no MSI-X vectors (`VIRTIO_MSI_NO_VECTOR`); the ISR reads the virtio ISR
//!   status register to tell queue work from a configuration change.

use core::ffi::c_void;
use core::ptr;

use ndis_sys as n;

use crate::datapath::{PairVectors, QueueKind, MAX_PAIRS};

/// The registered interrupt (`NdisInterruptHandle`), `Copy` so that the datapath can queue DPCs.
#[derive(Clone, Copy, Debug)]
pub struct InterruptHandle(n::NDIS_HANDLE);

// SAFETY: an opaque NDIS handle, valid for calls from any CPU until deregistration.
unsafe impl Send for InterruptHandle {}
// SAFETY: as above.
unsafe impl Sync for InterruptHandle {}

impl InterruptHandle {
    /// No interrupt (tests, or before registration).
    pub const NONE: InterruptHandle = InterruptHandle(ptr::null_mut());

    /// The raw handle.
    pub fn raw(&self) -> n::NDIS_HANDLE {
        self.0
    }

    /// Queues the DPC of `message_id` on `target` (or on the current processor) with `NdisMQueueDpcEx`
    /// (<= DISPATCH_LEVEL). Returns false when there is no interrupt.
    pub fn queue_dpc(&self, message_id: u32, target: Option<n::PROCESSOR_NUMBER>) -> bool {
        if self.0.is_null() {
            return false;
        }
        let proc_number = match target {
            Some(p) => p,
            None => {
                let mut p = n::PROCESSOR_NUMBER::default();
                // SAFETY: callable at any IRQL; `p` is writable.
                unsafe { n::KeGetCurrentProcessorNumberEx(&mut p) };
                p
            }
        };
        let mut affinity = n::GROUP_AFFINITY {
            Mask: 1usize
                .checked_shl(u32::from(proc_number.Number))
                .unwrap_or(1),
            Group: proc_number.Group,
            Reserved: [0; 3],
        };
        // SAFETY: the handle is a registered interrupt (checked non-null; valid until deregistration,
        // which happens only after every caller stopped); `affinity` lives across the call.
        let queued =
            unsafe { n::NdisMQueueDpcEx(self.0, message_id, &mut affinity, ptr::null_mut()) };
        queued != 0
    }
}

/// What a message (or the line interrupt) stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRole {
    /// First pair served.
    pub first_pair: u16,
    /// Number of pairs served (0 for a configuration-only message).
    pub pair_count: u16,
    /// Which queue(s) of those pairs.
    pub kind: QueueKind,
    /// The configuration-change interrupt is on this message.
    pub config: bool,
}

/// How queues and the configuration change are spread over interrupt messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorPlan {
    /// Messages granted (0 = line-based interrupt).
    pub messages: u32,
    /// Pairs the plan serves.
    pub pairs: u16,
    /// Vector of every pair (first `pairs` entries valid).
    pub per_pair: [PairVectors; MAX_PAIRS],
    /// Configuration-change vector.
    pub config: Option<u16>,
    /// Separate TX/RX vectors per pair.
    pub split: bool,
}

impl VectorPlan {
    /// The plan for `messages` granted messages (0 = INTx) and `wanted_pairs` (>= 1) pairs.
    pub fn new(messages: u32, wanted_pairs: u16) -> Self {
        let wanted = wanted_pairs.clamp(1, MAX_PAIRS as u16);
        let mut plan = VectorPlan {
            messages,
            pairs: 1,
            per_pair: [PairVectors::default(); MAX_PAIRS],
            config: None,
            split: false,
        };
        if messages == 0 {
            return plan;
        }
        if messages == 1 {
            plan.per_pair[0] = PairVectors {
                rx: Some(0),
                tx: Some(0),
            };
            plan.config = Some(0);
            return plan;
        }
        // virtio vectors are u16 and the MSI-X table has at most 2048 entries.
        let m = messages.min(2048) as u16;
        if m > 2 * wanted {
            plan.pairs = wanted;
            plan.split = true;
            // wanted <= MAX_PAIRS: `take` stops at `wanted`.
            for (j, v) in (0..).zip(plan.per_pair.iter_mut().take(usize::from(wanted))) {
                *v = PairVectors {
                    tx: Some(2 * j),
                    rx: Some(2 * j + 1),
                };
            }
            plan.config = Some(2 * wanted);
        } else {
            let pairs = wanted.min(m - 1);
            plan.pairs = pairs;
            for (j, v) in (0..).zip(plan.per_pair.iter_mut().take(usize::from(pairs))) {
                *v = PairVectors {
                    tx: Some(j),
                    rx: Some(j),
                };
            }
            plan.config = Some(pairs);
        }
        plan
    }

    /// The vectors of the pairs in use.
    pub fn pair_vectors(&self) -> &[PairVectors] {
        self.per_pair.get(..usize::from(self.pairs)).unwrap_or(&[])
    }

    /// What `message_id` (MSI-X table index) serves. The line interrupt is "message 0" of a 0-message plan.
    pub fn role(&self, message_id: u32) -> Option<MessageRole> {
        let all = MessageRole {
            first_pair: 0,
            pair_count: self.pairs,
            kind: QueueKind::Both,
            config: true,
        };
        if self.messages <= 1 {
            return (message_id == 0).then_some(all);
        }
        let m = u16::try_from(message_id).ok()?;
        if Some(m) == self.config {
            return Some(MessageRole {
                first_pair: 0,
                pair_count: 0,
                kind: QueueKind::Both,
                config: true,
            });
        }
        if self.split {
            let pair = m / 2;
            (pair < self.pairs).then_some(MessageRole {
                first_pair: pair,
                pair_count: 1,
                kind: if m % 2 == 0 {
                    QueueKind::Tx
                } else {
                    QueueKind::Rx
                },
                config: false,
            })
        } else {
            (m < self.pairs).then_some(MessageRole {
                first_pair: m,
                pair_count: 1,
                kind: QueueKind::Both,
                config: false,
            })
        }
    }
}

/// Handlers NDIS calls; `context` is the adapter (see `adapter::Adapter::interrupt_*`).
pub fn characteristics() -> n::NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
    n::NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
        Header: n::NDIS_OBJECT_HEADER::new(
            n::NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
            n::NDIS_MINIPORT_INTERRUPT_REVISION_1,
            n::NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
        ),
        InterruptHandler: Some(isr_line),
        InterruptDpcHandler: Some(dpc_line),
        DisableInterruptHandler: None,
        EnableInterruptHandler: None,
        MsiSupported: n::TRUE,
        MsiSyncWithAllMessages: n::FALSE,
        MessageInterruptHandler: Some(isr_message),
        MessageInterruptDpcHandler: Some(dpc_message),
        DisableMessageInterruptHandler: None,
        EnableMessageInterruptHandler: None,
        InterruptType: 0,
        MessageInfoTable: ptr::null_mut(),
    }
}

/// The registration result.
#[derive(Clone, Copy, Debug)]
pub struct Registered {
    /// The handle.
    pub handle: InterruptHandle,
    /// Messages granted (0 for line-based).
    pub messages: u32,
}

/// `NdisMRegisterInterruptEx` (PASSIVE_LEVEL). `miniport` is the opaque adapter handle (never
/// dereferenced here). `context` must stay valid until
/// [`deregister`]; the handlers may run as soon as this returns.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // opaque NDIS handle and context, passed through only
pub fn register(
    miniport: n::NDIS_HANDLE,
    context: *const c_void,
) -> Result<Registered, n::NDIS_STATUS> {
    let mut chars = characteristics();
    let mut handle: n::NDIS_HANDLE = ptr::null_mut();
    // SAFETY: PASSIVE_LEVEL (InitializeEx); `chars` is a complete revision-1 structure NDIS reads and
    // fills (InterruptType, MessageInfoTable); `context` outlives the registration (caller contract).
    let status = unsafe {
        n::NdisMRegisterInterruptEx(miniport, context.cast_mut(), &mut chars, &mut handle)
    };
    if status != n::NDIS_STATUS_SUCCESS || handle.is_null() {
        return Err(if status == n::NDIS_STATUS_SUCCESS {
            n::NDIS_STATUS_FAILURE
        } else {
            status
        });
    }
    let messages = if chars.InterruptType == n::NDIS_CONNECT_MESSAGE_BASED
        && !chars.MessageInfoTable.is_null()
    {
        // SAFETY: NDIS filled a valid table for message-based interrupts; the field address is computed
        // without creating a reference.
        let count = unsafe { ptr::addr_of!((*chars.MessageInfoTable).MessageCount) };
        // SAFETY: `count` points into the table NDIS owns for the lifetime of the registration.
        unsafe { count.read_unaligned() }
    } else {
        0
    };
    Ok(Registered {
        handle: InterruptHandle(handle),
        messages,
    })
}

/// `NdisMDeregisterInterruptEx` (PASSIVE_LEVEL). After it returns no ISR or DPC of this interrupt runs.
pub fn deregister(handle: InterruptHandle) {
    if !handle.0.is_null() {
        // SAFETY: a handle returned by NdisMRegisterInterruptEx, deregistered once (Halt / failed init).
        unsafe { n::NdisMDeregisterInterruptEx(handle.0) };
    }
}

// ---- trampolines -------------------------------------------------------------------------------------

/// `MiniportMessageInterrupt` (DIRQL).
///
/// # Safety
/// Called by NDIS with the context given to [`register`].
unsafe extern "system" fn isr_message(
    context: n::NDIS_HANDLE,
    message_id: u32,
    queue_default_dpc: *mut n::BOOLEAN,
    target_processors: *mut u32,
) -> n::BOOLEAN {
    // SAFETY: the context is the adapter, alive while the interrupt is registered.
    let Some(adapter) = (unsafe { crate::adapter::Adapter::from_context(context) }) else {
        return n::FALSE;
    };
    let ours = adapter.on_message_interrupt(message_id);
    // SAFETY: NDIS passes writable out-parameters (tolerate null).
    if let Some(q) = unsafe { queue_default_dpc.as_mut() } {
        *q = n::BOOLEAN::from(ours);
    }
    // SAFETY: as above.
    if let Some(t) = unsafe { target_processors.as_mut() } {
        *t = 0;
    }
    n::BOOLEAN::from(ours)
}

/// `MiniportMessageInterruptDPC` (DISPATCH_LEVEL).
///
/// # Safety
/// Called by NDIS with the context given to [`register`].
unsafe extern "system" fn dpc_message(
    context: n::NDIS_HANDLE,
    message_id: u32,
    _dpc_context: n::PVOID,
    throttle: n::PVOID,
    _reserved: n::PVOID,
) {
    // SAFETY: as in `isr_message`.
    if let Some(adapter) = unsafe { crate::adapter::Adapter::from_context(context) } {
        // SAFETY: NDIS's throttle parameters for this DPC.
        unsafe { adapter.on_dpc(Some(message_id), throttle.cast()) };
    }
}

/// `MiniportInterrupt` (line-based, DIRQL).
///
/// # Safety
/// Called by NDIS with the context given to [`register`].
unsafe extern "system" fn isr_line(
    context: n::NDIS_HANDLE,
    queue_default_dpc: *mut n::BOOLEAN,
    target_processors: *mut u32,
) -> n::BOOLEAN {
    // SAFETY: as in `isr_message`.
    let Some(adapter) = (unsafe { crate::adapter::Adapter::from_context(context) }) else {
        return n::FALSE;
    };
    let ours = adapter.on_line_interrupt();
    // SAFETY: NDIS passes writable out-parameters (tolerate null).
    if let Some(q) = unsafe { queue_default_dpc.as_mut() } {
        *q = n::BOOLEAN::from(ours);
    }
    // SAFETY: as above.
    if let Some(t) = unsafe { target_processors.as_mut() } {
        *t = 0;
    }
    n::BOOLEAN::from(ours)
}

/// `MiniportInterruptDPC` (line-based, DISPATCH_LEVEL).
///
/// # Safety
/// Called by NDIS with the context given to [`register`].
unsafe extern "system" fn dpc_line(
    context: n::NDIS_HANDLE,
    _dpc_context: n::PVOID,
    throttle: n::PVOID,
    _reserved: n::PVOID,
) {
    // SAFETY: as in `isr_message`.
    if let Some(adapter) = unsafe { crate::adapter::Adapter::from_context(context) } {
        // SAFETY: NDIS's throttle parameters for this DPC.
        unsafe { adapter.on_dpc(None, throttle.cast()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_messages_give_netkvm_layout_tx_even_rx_odd_config_last() {
        let p = VectorPlan::new(9, 4);
        assert_eq!((p.pairs, p.split, p.config), (4, true, Some(8)));
        assert_eq!(
            p.per_pair[2],
            PairVectors {
                tx: Some(4),
                rx: Some(5)
            }
        );
        assert_eq!(
            p.role(5),
            Some(MessageRole {
                first_pair: 2,
                pair_count: 1,
                kind: QueueKind::Rx,
                config: false
            })
        );
        assert_eq!(p.role(4).map(|r| r.kind), Some(QueueKind::Tx));
        assert!(p.role(8).is_some_and(|r| r.config && r.pair_count == 0));
        assert_eq!(p.role(9), None, "beyond the plan");
    }

    #[test]
    fn fewer_messages_share_a_vector_per_pair_then_reduce_pairs() {
        let p = VectorPlan::new(5, 4);
        assert_eq!((p.pairs, p.split, p.config), (4, false, Some(4)));
        assert_eq!(
            p.role(3).map(|r| (r.first_pair, r.kind)),
            Some((3, QueueKind::Both))
        );
        let p = VectorPlan::new(3, 4);
        assert_eq!((p.pairs, p.config), (2, Some(2)));
        assert_eq!(p.pair_vectors().len(), 2);
        assert_eq!(p.role(2).map(|r| r.config), Some(true));
    }

    #[test]
    fn one_message_or_line_interrupt_serve_everything_with_one_pair() {
        for m in [0, 1] {
            let p = VectorPlan::new(m, 8);
            assert_eq!(p.pairs, 1);
            let r = p.role(0).unwrap();
            assert!(r.config && r.pair_count == 1 && r.kind == QueueKind::Both);
            assert_eq!(p.role(1), None);
        }
        assert_eq!(VectorPlan::new(0, 8).per_pair[0], PairVectors::default());
        assert_eq!(VectorPlan::new(1, 8).config, Some(0));
    }

    #[test]
    fn pairs_never_exceed_the_table_or_drop_below_one() {
        let p = VectorPlan::new(4096, 1000);
        assert_eq!(p.pairs as usize, MAX_PAIRS);
        assert!(p.config.unwrap() < 2048);
        let p = VectorPlan::new(2, 0);
        assert_eq!(p.pairs, 1);
    }
}
