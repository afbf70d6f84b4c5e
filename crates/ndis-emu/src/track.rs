//! Every resource the driver allocates through NDIS, with its owner, for the leak checks at
//! Halt (the adapter's resources), after a failed MiniportInitializeEx, and at Unload (all).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// Kind of a tracked resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResKind {
    /// `NdisAllocateMemoryWithTagPriority` / `ExAllocatePool2`.
    Memory,
    /// `NdisMAllocateSharedMemory(AsyncEx)`.
    SharedMemory,
    /// `NdisAllocateNetBufferListPool`.
    NblPool,
    /// `NdisAllocateNetBufferPool`.
    NbPool,
    /// `NdisAllocateMdl`.
    Mdl,
    /// `NdisAllocateTimerObject`.
    Timer,
    /// `NdisAllocateIoWorkItem`.
    WorkItem,
    /// `NdisAllocateSpinLock` (released by `NdisFreeSpinLock`).
    SpinLock,
    /// `NdisAllocateRWLock`.
    RwLock,
    /// `NdisMMapIoSpace`.
    IoMapping,
    /// `NdisMRegisterInterruptEx`.
    Interrupt,
    /// `NdisMRegisterScatterGatherDma`.
    DmaRegistration,
    /// `NdisMAllocateNetBufferSGList`.
    SgList,
    /// `NdisOpenConfigurationEx`.
    Config,
    /// An NBL or NB allocated outside pools' own accounting (clones).
    Clone,
}

/// One live resource.
#[derive(Clone, Debug)]
pub struct Res {
    /// Kind.
    pub kind: ResKind,
    /// Adapter handle it is charged to (0 = driver).
    pub owner: usize,
    /// Size in bytes where meaningful.
    pub size: usize,
    /// Pool tag where meaningful.
    pub tag: u32,
    /// Free-form description (who allocated it).
    pub what: &'static str,
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} from {}", self.kind, self.what)?;
        if self.size != 0 {
            write!(f, " ({} bytes)", self.size)?;
        }
        if self.tag != 0 {
            let t = self.tag.to_le_bytes();
            let s: String = t
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            write!(f, " tag '{s}'")?;
        }
        Ok(())
    }
}

/// The live-resource table of one emulator.
#[derive(Default)]
pub struct Tracker {
    live: Mutex<HashMap<(ResKind, usize), Res>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tracker {
    /// Adds a resource at `addr`; `false` if one of that kind is already registered there.
    pub fn add(&self, addr: usize, res: Res) -> bool {
        lock(&self.live).insert((res.kind, addr), res).is_none()
    }

    /// Removes the resource of `kind` at `addr`.
    pub fn remove(&self, kind: ResKind, addr: usize) -> Option<Res> {
        lock(&self.live).remove(&(kind, addr))
    }

    /// The resource of `kind` at `addr`, if live.
    pub fn get(&self, kind: ResKind, addr: usize) -> Option<Res> {
        lock(&self.live).get(&(kind, addr)).cloned()
    }

    /// Live resources charged to `owner` (`None` = every owner), sorted for stable messages.
    pub fn owned_by(&self, owner: Option<usize>) -> Vec<(usize, Res)> {
        let mut v: Vec<(usize, Res)> = lock(&self.live)
            .iter()
            .filter(|(_, r)| owner.is_none_or(|o| r.owner == o))
            .map(|((_, a), r)| (*a, r.clone()))
            .collect();
        v.sort_by_key(|(a, r)| (r.kind as u32, *a));
        v
    }

    /// Count of live resources of `kind`.
    pub fn count(&self, kind: ResKind) -> usize {
        lock(&self.live).keys().filter(|(k, _)| *k == kind).count()
    }

    /// Forgets everything charged to `owner` (after reporting a leak).
    pub fn forget_owner(&self, owner: usize) {
        lock(&self.live).retain(|_, r| r.owner != owner);
    }
}
