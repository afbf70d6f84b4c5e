//! Error types. All are small `Copy` enums carrying enough context for one useful log
//! line; the miniport maps them to a device reset, a hardware-error report or a failed
//! request (see each variant).

use crate::hal::DmaAllocError;
use crate::pci::CapKind;

/// Transport-level failures (PCI capabilities, status handshake, queue registers,
/// configuration space). Device misbehaviour shows up here as typed variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// PCI vendor/device id is not a modern virtio-net function (0x1AF4:0x1041 or the
    /// transitional 0x1000 with subsystem 1).
    NotVirtioNet {
        /// Vendor id read from config space.
        vendor: u16,
        /// Device id read from config space.
        device: u16,
    },
    /// The function has no capability list (status bit 4 clear).
    NoCapabilityList,
    /// The capability list is longer than config space allows (a loop).
    CapabilityLoop,
    /// A required virtio capability is missing.
    MissingCapability(CapKind),
    /// A capability names a BAR that is not mapped ([`crate::Hal::bar_len`] is `None`).
    CapabilityBarUnmapped {
        /// Which structure.
        kind: CapKind,
        /// BAR index from the capability.
        bar: u8,
    },
    /// A capability's `offset + length` lies outside its BAR.
    CapabilityOutsideBar {
        /// Which structure.
        kind: CapKind,
        /// BAR index.
        bar: u8,
        /// Offset of the structure in the BAR.
        offset: u32,
        /// Length of the structure.
        length: u32,
        /// Mapped length of the BAR.
        bar_len: u64,
    },
    /// A capability is too short for its structure, misaligned, or its notify
    /// multiplier is invalid.
    CapabilityInvalid {
        /// Which structure.
        kind: CapKind,
        /// Offset of the structure in the BAR.
        offset: u32,
        /// Length of the structure.
        length: u32,
    },
    /// `device_status` did not read 0 within the bounded wait after a reset.
    ResetTimeout {
        /// Last status read.
        status: u8,
    },
    /// The device does not offer VERSION_1 (legacy-only devices are not supported).
    Version1NotOffered,
    /// The device cleared FEATURES_OK after the driver wrote its feature set.
    FeaturesNotAccepted {
        /// Feature bits the driver wrote.
        driver_features: u64,
    },
    /// A queue index is not below `num_queues`.
    QueueIndexOutOfRange {
        /// Requested queue.
        index: u16,
        /// `num_queues` read from the device.
        num_queues: u16,
    },
    /// The device reports queue size 0 (queue not available).
    QueueSizeZero {
        /// Queue index.
        index: u16,
    },
    /// The device reports a queue size that is not a power of two (split ring, §2.7).
    QueueSizeNotPowerOfTwo {
        /// Queue index.
        index: u16,
        /// Size read.
        size: u16,
    },
    /// Queue size above the split-ring maximum of 32768, or the driver's requested maximum
    /// is 0.
    QueueSizeTooLarge {
        /// Queue index.
        index: u16,
        /// Size read.
        size: u16,
    },
    /// The queue is already enabled (it must be set up after a reset).
    QueueAlreadyEnabled {
        /// Queue index.
        index: u16,
    },
    /// `queue_notify_off × notify_off_multiplier + 2` lies outside the notify capability.
    NotifyOutsideCapability {
        /// Queue index.
        index: u16,
        /// `queue_notify_off` read.
        notify_off: u16,
    },
    /// The device refused an MSI-X vector (read back `VIRTIO_MSI_NO_VECTOR` or another value).
    MsixVectorRejected {
        /// Queue index, or `None` for the configuration-change vector.
        queue: Option<u16>,
        /// Vector written.
        vector: u16,
        /// Vector read back.
        read_back: u16,
    },
    /// `config_generation` kept changing during a multi-field read.
    ConfigGenerationUnstable {
        /// Attempts made.
        attempts: u32,
    },
    /// The device-specific configuration structure is absent or shorter than a field read.
    DeviceConfigTooShort {
        /// Offset of the field.
        offset: u32,
        /// Width of the field.
        width: u32,
        /// Length of the structure (0 if absent).
        length: u32,
    },
    /// A device configuration field holds a value the spec forbids.
    InvalidConfigValue {
        /// Which field.
        field: ConfigField,
        /// Value read.
        value: u32,
    },
    /// The device status reads 0 although the driver completed initialisation: the
    /// device reset itself.
    DeviceReset,
    /// The device set NEEDS_RESET (§2.1.2).
    NeedsReset,
    /// Config space/registers read all-ones: the device is gone (surprise removal).
    DeviceGone,
    /// A DMA allocation failed.
    Dma(DmaAllocError),
    /// Memory for the driver's shadow state could not be allocated.
    NoMemory,
}

/// Fields of `struct virtio_net_config` (§5.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigField {
    /// `max_virtqueue_pairs` (1..=0x8000).
    MaxVirtqueuePairs,
    /// `mtu` (68..=65535).
    Mtu,
}

/// A device-written value in the used ring that breaks the protocol. The queue stops
/// (the error is sticky) and keeps every chain in flight, so that
/// [`crate::queue::SplitQueue::detach_unused`] after the device reset returns every token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedFault {
    /// Used element id is not a descriptor index (≥ queue size).
    IdOutOfRange {
        /// Id written by the device.
        id: u32,
        /// Queue size.
        size: u16,
    },
    /// Used element id is not the head of a chain in flight (includes a second completion
    /// of the same chain).
    IdNotInFlight {
        /// Id written by the device.
        id: u32,
    },
    /// Used length larger than the device-writable bytes posted in the chain.
    LengthTooLarge {
        /// Chain head.
        id: u16,
        /// Length written by the device.
        len: u32,
        /// Device-writable bytes the driver posted.
        posted: u32,
    },
    /// `used->idx` moved by more than the number of chains in flight (includes going
    /// backwards and jumping by more than the ring size).
    IndexJump {
        /// Driver's last consumed index.
        last: u16,
        /// Index read from the device.
        read: u16,
        /// Chains in flight.
        in_flight: u16,
    },
}

/// Virtqueue errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// Not enough free descriptors (or indirect slots) for the chain: retry after
    /// completions. Not a device fault.
    Full {
        /// Ring descriptors needed.
        needed: u16,
        /// Ring descriptors free.
        free: u16,
    },
    /// The chain has no buffers.
    EmptyChain,
    /// A buffer of length 0.
    ZeroLengthBuffer,
    /// A device-readable buffer follows a device-writable one (§2.7.4.2 forbids it).
    ReadableAfterWritable,
    /// More buffers than the ring (and the indirect table) can take.
    ChainTooLong {
        /// Buffers in the chain.
        len: usize,
    },
    /// The buffer iterator's `size_hint` was not exact or it yielded a different count.
    ChainLengthMismatch,
    /// Total device-writable length overflows `u32`.
    WritableLengthOverflow,
    /// The device broke the ring protocol; the queue is stopped until it is reset.
    Device(UsedFault),
    /// Invalid queue parameters (size not a power of two, zero, > 32768).
    InvalidSize {
        /// Requested size.
        size: u16,
    },
    /// A DMA allocation failed.
    Dma(DmaAllocError),
    /// Shadow state could not be allocated.
    NoMemory,
}

impl From<DmaAllocError> for QueueError {
    fn from(e: DmaAllocError) -> Self {
        QueueError::Dma(e)
    }
}

impl From<DmaAllocError> for TransportError {
    fn from(e: DmaAllocError) -> Self {
        TransportError::Dma(e)
    }
}

/// Control-queue errors (§5.1.6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtrlError {
    /// The feature the command needs was not negotiated.
    Unsupported {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
    },
    /// An argument is outside what the spec or the device's config allows.
    InvalidArgument {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
    },
    /// The command does not fit the preallocated command buffer.
    TooLarge {
        /// Bytes needed.
        len: usize,
        /// Buffer capacity.
        capacity: usize,
    },
    /// The device did not complete the command within the bounded wait. The command
    /// stays posted; the control queue refuses further commands ([`CtrlError::Stuck`])
    /// until [`crate::ctrl::ControlQueue::recover_after_reset`].
    Timeout {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
    },
    /// A previous command timed out and is still owned by the device.
    Stuck,
    /// The device answered `VIRTIO_NET_ERR`: the request failed; the device is fine
    /// (NetKVM defect #7925 removed the adapter here — don't).
    DeviceRejected {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
    },
    /// The ack byte is neither `VIRTIO_NET_OK` nor `VIRTIO_NET_ERR`.
    BogusReply {
        /// Command class.
        class: u8,
        /// Command.
        cmd: u8,
        /// Ack byte read.
        ack: u8,
    },
    /// The device completed the command with used length 0 (the ack was not written).
    BogusCompletion {
        /// Used length reported.
        len: u32,
    },
    /// Ring error (including device faults on the control queue).
    Queue(QueueError),
}

impl From<QueueError> for CtrlError {
    fn from(e: QueueError) -> Self {
        CtrlError::Queue(e)
    }
}

/// Error of [`crate::transport::PciTransport::create_split_queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSetupError {
    /// Register-level failure (size, notify address, MSI-X vector).
    Transport(TransportError),
    /// Ring allocation failure.
    Queue(QueueError),
}

impl From<TransportError> for QueueSetupError {
    fn from(e: TransportError) -> Self {
        QueueSetupError::Transport(e)
    }
}

impl From<QueueError> for QueueSetupError {
    fn from(e: QueueError) -> Self {
        QueueSetupError::Queue(e)
    }
}
