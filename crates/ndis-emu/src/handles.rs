//! The handles NDIS gives the driver (driver, adapter, pools, timers, …) and their validation.
//!
//! A handle is the address of the object it names; every handle handed out is entered in one
//! process-wide table (exported functions have no other way to find their emulator), and every
//! handle the driver passes back is looked up there first — an unknown or released handle is a
//! violation, never a dereference.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock, Weak};

use crate::adapter::Adapter;
use crate::checks::{self, Kind};
use crate::dma::SgDma;
use crate::driver::DriverBlock;
use crate::interrupt::InterruptObj;
use crate::nbl::{NbPool, NblPool};
use crate::ndis::Ndis;
use crate::registry::ConfigObj;
use crate::sched::{RwLockObj, TimerObj, WorkItemObj};

/// An object a handle names.
#[derive(Clone)]
pub(crate) enum Obj {
    Driver(Arc<DriverBlock>),
    Adapter(Arc<Adapter>),
    NblPool(Arc<NblPool>),
    NbPool(Arc<NbPool>),
    Timer(Arc<TimerObj>),
    WorkItem(Arc<WorkItemObj>),
    Interrupt(Arc<InterruptObj>),
    Dma(Arc<SgDma>),
    Config(Arc<ConfigObj>),
    RwLock(Arc<RwLockObj>),
}

impl Obj {
    fn name(&self) -> &'static str {
        match self {
            Obj::Driver(_) => "driver",
            Obj::Adapter(_) => "miniport adapter",
            Obj::NblPool(_) => "NET_BUFFER_LIST pool",
            Obj::NbPool(_) => "NET_BUFFER pool",
            Obj::Timer(_) => "timer object",
            Obj::WorkItem(_) => "IO work item",
            Obj::Interrupt(_) => "interrupt",
            Obj::Dma(_) => "scatter/gather DMA",
            Obj::Config(_) => "configuration",
            Obj::RwLock(_) => "RW lock",
        }
    }
}

type Table = HashMap<usize, (Weak<Ndis>, Obj)>;

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| RwLock::new(HashMap::new()));

fn read() -> std::sync::RwLockReadGuard<'static, Table> {
    TABLE.read().unwrap_or_else(|p| p.into_inner())
}
fn write() -> std::sync::RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(|p| p.into_inner())
}

/// Registers handle `h` for `obj`.
pub(crate) fn insert(ndis: &Arc<Ndis>, h: usize, obj: Obj) {
    write().insert(h, (Arc::downgrade(ndis), obj));
}

/// Releases handle `h`.
pub(crate) fn remove(h: usize) -> Option<Obj> {
    write().remove(&h).map(|(_, o)| o)
}

/// Looks `h` up.
pub(crate) fn lookup(h: usize) -> Option<(Arc<Ndis>, Obj)> {
    let t = read();
    let (w, o) = t.get(&h)?;
    Some((w.upgrade()?, o.clone()))
}

/// Releases every handle of `ndis` (emulator shutdown).
pub(crate) fn purge(ndis: &Ndis) {
    write().retain(|_, (w, _)| !std::ptr::eq(w.as_ptr(), ndis));
}

/// Number of live handles of `ndis` (tests).
pub(crate) fn count(ndis: &Ndis) -> usize {
    read()
        .values()
        .filter(|(w, _)| std::ptr::eq(w.as_ptr(), ndis))
        .count()
}

fn bad(api: &'static str, h: usize, want: &str, got: Option<&Obj>) {
    let msg = match got {
        Some(o) => format!(
            "handle {h:#x} is a {} handle, expected a {want} handle",
            o.name()
        ),
        None if h == 0 => format!("NULL {want} handle"),
        None => format!("{h:#x} is not a live {want} handle"),
    };
    checks::violation(Kind::InvalidHandle, api, msg);
}

macro_rules! getter {
    ($fn:ident, $variant:ident, $ty:ty, $what:literal) => {
        /// Looks up a handle of this kind; records an invalid-handle violation otherwise.
        pub(crate) fn $fn(
            h: ndis_sys::NDIS_HANDLE,
            api: &'static str,
        ) -> Option<(Arc<Ndis>, Arc<$ty>)> {
            let h = h as usize;
            match lookup(h) {
                Some((n, Obj::$variant(o))) => Some((n, o)),
                Some((_, o)) => {
                    bad(api, h, $what, Some(&o));
                    None
                }
                None => {
                    bad(api, h, $what, None);
                    None
                }
            }
        }
    };
}

getter!(driver, Driver, DriverBlock, "driver");
getter!(adapter, Adapter, Adapter, "miniport adapter");
getter!(nbl_pool, NblPool, NblPool, "NET_BUFFER_LIST pool");
getter!(nb_pool, NbPool, NbPool, "NET_BUFFER pool");
getter!(timer, Timer, TimerObj, "timer object");
getter!(work_item, WorkItem, WorkItemObj, "IO work item");
getter!(interrupt, Interrupt, InterruptObj, "interrupt");
getter!(dma, Dma, SgDma, "scatter/gather DMA");
getter!(config, Config, ConfigObj, "configuration");
getter!(rw_lock, RwLock, RwLockObj, "RW lock");

/// The owner a driver- or adapter-scoped allocation is charged to: the adapter handle, or 0 for
/// the driver.
pub(crate) fn owner_of(h: ndis_sys::NDIS_HANDLE, api: &'static str) -> Option<(Arc<Ndis>, usize)> {
    let hv = h as usize;
    match lookup(hv) {
        Some((n, Obj::Adapter(a))) => Some((n, a.handle())),
        Some((n, Obj::Driver(_))) => Some((n, 0)),
        Some((_, o)) => {
            bad(api, hv, "driver or miniport adapter", Some(&o));
            None
        }
        None => {
            bad(api, hv, "driver or miniport adapter", None);
            None
        }
    }
}
