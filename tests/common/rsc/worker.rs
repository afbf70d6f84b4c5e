//! One rig per test process, kept on a worker thread and reused by every test of the same path.
//!
//! libtest runs each test on its own thread while the bench must stay on one (the driver is a
//! process-wide singleton and [`crate::E2e`] holds the global bench lock): the rig lives on
//! this worker; tests send it jobs. A different path drops the rig and starts the right one
//! (tests of one path run back to back under `cargo xtask hck rsc`, which filters per path).
//! A job that fails with an error or panics drops the rig too, so the next test starts clean.
//! At process exit the rig is torn down (adapter halted, QEMU and namespaces removed).

use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::harness::Res;
use crate::rsc::rig::{Path, Rig};

type Job = Box<dyn FnOnce(&mut Option<Rig>) + Send>;

static JOBS: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

extern "C" fn at_exit() {
    let Some(m) = JOBS.get() else { return };
    let tx = m.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (done_tx, done_rx) = mpsc::channel();
    let job: Job = Box::new(move |slot| {
        *slot = None;
        let _ = done_tx.send(());
    });
    if tx.send(job).is_ok() {
        let _ = done_rx.recv_timeout(Duration::from_secs(60));
    }
}

fn sender() -> Sender<Job> {
    JOBS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("rsc-rig".into())
            .spawn(move || {
                let mut slot: Option<Rig> = None;
                while let Ok(job) = rx.recv() {
                    job(&mut slot);
                }
            });
        if spawned.is_ok() {
            // SAFETY: registers a plain `extern "C" fn()` with no preconditions.
            unsafe { libc::atexit(at_exit) };
        }
        Mutex::new(tx)
    })
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .clone()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs `f` on the process's rig for `path` (started if needed).
pub fn with_rig<R: Send + 'static>(
    path: Path,
    f: impl FnOnce(&mut Rig) -> Res<R> + Send + 'static,
) -> Res<R> {
    let (rtx, rrx) = mpsc::channel();
    let job: Job = Box::new(move |slot: &mut Option<Rig>| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Res<R> {
            if slot.as_ref().map(|r| r.path()) != Some(path) {
                // The old bench goes first: it holds the process's bench lock.
                *slot = None;
                *slot = Some(Rig::start(path)?);
            }
            match slot.as_mut() {
                Some(rig) => f(rig),
                None => Err("no rig".into()),
            }
        }));
        let r = r.unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&*p))));
        if r.is_err() {
            *slot = None;
        }
        let _ = rtx.send(r);
    });
    sender()
        .send(job)
        .map_err(|_| "the rig thread is gone".to_string())?;
    rrx.recv().map_err(|_| "the rig thread died".to_string())?
}
