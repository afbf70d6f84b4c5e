//! The execution model: emulated processors with one DPC thread each, a timer thread, and
//! worker threads for IO work items and NDIS's own deferred work (CheckForHang, resets).
//!
//! Idle threads sleep on condition variables (no polling), so an idle emulator costs no CPU.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ctx::{self, Role};
use crate::ndis::Ndis;

pub(crate) type Job = Box<dyn FnOnce(&Arc<Ndis>) + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Exclusive ownership of an emulated processor at DISPATCH_LEVEL (see [`crate::ctx`]).
pub(crate) struct Gate {
    owner: Mutex<Option<u64>>,
    cv: Condvar,
}

impl Gate {
    fn new() -> Self {
        Gate {
            owner: Mutex::new(None),
            cv: Condvar::new(),
        }
    }
    fn acquire(&self, token: u64) {
        let mut o = lock(&self.owner);
        while o.is_some_and(|t| t != token) {
            o = self.cv.wait(o).unwrap_or_else(|p| p.into_inner());
        }
        *o = Some(token);
    }
    fn release(&self) {
        *lock(&self.owner) = None;
        self.cv.notify_one();
    }
}

pub(crate) struct Cpu {
    gate: Gate,
    queue: Mutex<VecDeque<Job>>,
    cv: Condvar,
    busy: AtomicBool,
}

struct TimerEntry {
    due: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for TimerEntry {
    fn eq(&self, o: &Self) -> bool {
        self.due == o.due && self.seq == o.seq
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for TimerEntry {
    // Reversed: BinaryHeap is a max-heap, the earliest deadline must come first.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        o.due.cmp(&self.due).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct Timers {
    heap: BinaryHeap<TimerEntry>,
    seq: u64,
}

pub(crate) struct Runtime {
    cpus: Vec<Cpu>,
    work: Mutex<VecDeque<Job>>,
    work_cv: Condvar,
    workers_busy: AtomicUsize,
    timers: Mutex<Timers>,
    timer_cv: Condvar,
    stop: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    workers: usize,
}

impl Runtime {
    pub(crate) fn new(cpus: usize, workers: usize) -> Self {
        Runtime {
            cpus: (0..cpus.max(1))
                .map(|_| Cpu {
                    gate: Gate::new(),
                    queue: Mutex::new(VecDeque::new()),
                    cv: Condvar::new(),
                    busy: AtomicBool::new(false),
                })
                .collect(),
            work: Mutex::new(VecDeque::new()),
            work_cv: Condvar::new(),
            workers_busy: AtomicUsize::new(0),
            timers: Mutex::new(Timers::default()),
            timer_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            workers: workers.max(1),
        }
    }

    /// Number of emulated processors.
    pub(crate) fn cpu_count(&self) -> u32 {
        self.cpus.len() as u32
    }

    /// Starts the DPC, timer and worker threads.
    pub(crate) fn start(self: &Arc<Self>, ndis: &Arc<Ndis>) {
        let mut th = lock(&self.threads);
        for cpu in 0..self.cpus.len() as u32 {
            let (rt, w) = (self.clone(), Arc::downgrade(ndis));
            th.push(spawn(format!("ndis-dpc{cpu}"), move || {
                dpc_thread(rt, w, cpu)
            }));
        }
        let (rt, w) = (self.clone(), Arc::downgrade(ndis));
        th.push(spawn("ndis-timer".into(), move || timer_thread(rt, w)));
        for i in 0..self.workers {
            let (rt, w) = (self.clone(), Arc::downgrade(ndis));
            th.push(spawn(format!("ndis-worker{i}"), move || {
                worker_thread(rt, w, i as u32)
            }));
        }
    }

    /// Stops and joins every thread (not from one of them).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in &self.cpus {
            let _g = lock(&c.queue);
            c.cv.notify_all();
        }
        {
            let _g = lock(&self.work);
            self.work_cv.notify_all();
        }
        {
            let _g = lock(&self.timers);
            self.timer_cv.notify_all();
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn gate_acquire(&self, cpu: u32) {
        if let Some(c) = self.cpus.get(cpu as usize) {
            c.gate.acquire(ctx::token());
        }
    }

    pub(crate) fn gate_release(&self, cpu: u32) {
        if let Some(c) = self.cpus.get(cpu as usize) {
            c.gate.release();
        }
    }

    /// Queues a DPC job on processor `cpu` (taken modulo the processor count).
    pub(crate) fn queue_dpc(&self, cpu: u32, job: Job) {
        let c = &self.cpus[cpu as usize % self.cpus.len()];
        lock(&c.queue).push_back(job);
        c.cv.notify_one();
    }

    /// Queues a PASSIVE_LEVEL job on the worker threads.
    pub(crate) fn queue_work(&self, job: Job) {
        lock(&self.work).push_back(job);
        self.work_cv.notify_one();
    }

    /// Runs `job` (on the timer thread) at `due`.
    pub(crate) fn at(&self, due: Instant, job: Job) {
        let mut t = lock(&self.timers);
        t.seq += 1;
        let seq = t.seq;
        t.heap.push(TimerEntry { due, seq, job });
        self.timer_cv.notify_one();
    }

    /// True when no DPC is queued or running.
    pub(crate) fn dpcs_idle(&self) -> bool {
        self.cpus
            .iter()
            .all(|c| !c.busy.load(Ordering::SeqCst) && lock(&c.queue).is_empty())
    }

    /// True when no work item is queued or running.
    pub(crate) fn work_idle(&self) -> bool {
        self.workers_busy.load(Ordering::SeqCst) == 0 && lock(&self.work).is_empty()
    }

    /// Waits until every queued DPC has run (`KeFlushQueuedDpcs`); false on timeout.
    pub(crate) fn flush_dpcs(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while !self.dpcs_idle() {
            if start.elapsed() > timeout || self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    match std::thread::Builder::new().name(name).spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("ndis-emu: cannot start a thread: {e}"),
    }
}

fn dpc_thread(rt: Arc<Runtime>, w: Weak<Ndis>, cpu: u32) {
    match w.upgrade() {
        Some(ndis) => ctx::enter(&ndis, Role::Dpc, cpu),
        None => return,
    }
    let c = &rt.cpus[cpu as usize];
    loop {
        let job = {
            let mut q = lock(&c.queue);
            loop {
                if rt.stopping() {
                    break None;
                }
                if let Some(j) = q.pop_front() {
                    c.busy.store(true, Ordering::SeqCst);
                    break Some(j);
                }
                q = c.cv.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Some(mut job) = job else { break };
        let Some(ndis) = w.upgrade() else {
            c.busy.store(false, Ordering::SeqCst);
            break;
        };
        c.gate.acquire(ctx::token());
        loop {
            ctx::set_irql_raw(ndis_sys::DISPATCH_LEVEL);
            job(&ndis);
            match lock(&c.queue).pop_front() {
                Some(j) => job = j,
                None => break,
            }
        }
        c.busy.store(false, Ordering::SeqCst);
        c.gate.release();
    }
    ctx::leave();
}

fn worker_thread(rt: Arc<Runtime>, w: Weak<Ndis>, index: u32) {
    let cpu = index % rt.cpu_count();
    match w.upgrade() {
        Some(ndis) => ctx::enter(&ndis, Role::Passive, cpu),
        None => return,
    }
    loop {
        let job = {
            let mut q = lock(&rt.work);
            loop {
                if rt.stopping() {
                    break None;
                }
                if let Some(j) = q.pop_front() {
                    rt.workers_busy.fetch_add(1, Ordering::SeqCst);
                    break Some(j);
                }
                q = rt.work_cv.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Some(job) = job else { break };
        let Some(ndis) = w.upgrade() else {
            rt.workers_busy.fetch_sub(1, Ordering::SeqCst);
            break;
        };
        ctx::set_cpu(cpu);
        job(&ndis);
        drop(ndis);
        rt.workers_busy.fetch_sub(1, Ordering::SeqCst);
    }
    ctx::leave();
}

fn timer_thread(rt: Arc<Runtime>, w: Weak<Ndis>) {
    match w.upgrade() {
        Some(ndis) => ctx::enter(&ndis, Role::Passive, 0),
        None => return,
    }
    loop {
        let due_jobs = {
            let mut t = lock(&rt.timers);
            loop {
                if rt.stopping() {
                    break Vec::new();
                }
                let now = Instant::now();
                let mut ready = Vec::new();
                while t.heap.peek().is_some_and(|e| e.due <= now) {
                    if let Some(e) = t.heap.pop() {
                        ready.push(e.job);
                    }
                }
                if !ready.is_empty() {
                    break ready;
                }
                t = match t.heap.peek().map(|e| e.due.saturating_duration_since(now)) {
                    Some(wait) => {
                        rt.timer_cv
                            .wait_timeout(t, wait)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    None => rt.timer_cv.wait(t).unwrap_or_else(|p| p.into_inner()),
                };
            }
        };
        if rt.stopping() {
            break;
        }
        let Some(ndis) = w.upgrade() else { break };
        for j in due_jobs {
            j(&ndis);
        }
    }
    ctx::leave();
}
