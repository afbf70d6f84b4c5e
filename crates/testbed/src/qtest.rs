//! Pipelined client of QEMU's qtest text protocol (`system/qtest.c`).
//!
//! One line per command; QEMU answers every command with exactly one `OK [0xVALUE]` or
//! `FAIL …` line, strictly in order (asynchronous `IRQ raise|lower N` lines only appear when
//! IRQs are intercepted; they are skipped). That ordering is what makes pipelining possible:
//!
//! * **Posted** commands ([`QTest::post`], [`QTest::post_writew`] …) are written and not
//!   waited for — the datapath's queue notifies must never cost a round trip. A `FAIL` reply to
//!   a posted command is counted and kept ([`QTest::take_posted_failures`]).
//! * **Synchronous** commands wait for their own reply; [`QTest::pipeline`] sends several
//!   commands in one `write` (adjacent in the stream, no other thread's command in between —
//!   needed for `cf8`/`cfc` pairs) and waits once.
//! * Replies are always drained: every posted write opportunistically reaps what has arrived,
//!   and a synchronous waiter reads everything before its own reply. If the socket's receive
//!   buffer filled up QEMU's main loop would block on the write and the device would stop
//!   (recipe: "always drain").
//!
//! # Thread safety
//! `QTest` is `Sync`: any number of threads may post and call concurrently. Writes are
//! serialised by a short writer lock (sequence number + `write`). Reading uses a
//! leader/follower scheme: one waiter at a time reads the socket and hands replies to whoever
//! is waiting for them; the others sleep on a condition variable. No helper thread exists.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a synchronous call waits for QEMU before declaring the connection dead.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Posted writes reap replies once this many are outstanding (a few hundred bytes in the
/// socket: QEMU can never block on a full buffer, and most posts cost one `send` only).
pub const REAP_AT: u64 = 32;
/// Failures of posted commands kept for inspection (the count is exact beyond that).
const MAX_KEPT_FAILURES: usize = 32;

/// One parsed reply: `OK` (with its value if any) or the `FAIL …` text.
pub type Reply = std::result::Result<Option<u64>, String>;

/// Parses one reply line. `OK` → `Ok(None)`, `OK 0x1f` → `Ok(Some(0x1f))`, anything else →
/// `Err(line)`.
pub fn parse_reply(line: &str) -> Reply {
    let line = line.trim_end();
    if line == "OK" {
        return Ok(None);
    }
    if let Some(rest) = line.strip_prefix("OK ") {
        let v = rest.trim();
        let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse::<u64>(),
        };
        return parsed.map(Some).map_err(|_| line.to_string());
    }
    Err(line.to_string())
}

/// Counters for rate reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QTestStats {
    /// Commands written (posted + synchronous).
    pub sent: u64,
    /// Of which posted.
    pub posted: u64,
    /// Replies read.
    pub replies: u64,
    /// `FAIL` replies to posted commands.
    pub posted_failures: u64,
}

struct Writer {
    sock: UnixStream,
    next_seq: u64,
    line: Vec<u8>,
}

struct Reader {
    sock: UnixStream,
    buf: Vec<u8>,
    start: usize,
}

#[derive(Default)]
struct Book {
    /// Sequence numbers somebody waits for, with the reply once it arrived.
    waiting: HashMap<u64, Option<Reply>>,
    /// Replies received so far (= sequence number of the next reply).
    replies: u64,
    /// Someone is reading the socket (the leader).
    reading: bool,
    /// Set once the connection broke; every call fails with it.
    dead: Option<String>,
    posted_failures: u64,
    kept_failures: Vec<String>,
}

/// A qtest connection (see the module docs).
pub struct QTest {
    wr: Mutex<Writer>,
    rd: Mutex<Reader>,
    book: Mutex<Book>,
    cv: Condvar,
    timeout: Duration,
    sent: AtomicU64,
    posted: AtomicU64,
    /// Mirror of `Book::replies` readable without the lock (posted writes check it).
    replies_seen: AtomicU64,
}

impl std::fmt::Debug for QTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QTest")
            .field("stats", &self.stats())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every critical section
    // is a few assignments), so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl QTest {
    /// Wraps an accepted qtest connection.
    pub fn new(sock: UnixStream) -> Result<QTest> {
        Self::with_timeout(sock, DEFAULT_REPLY_TIMEOUT)
    }

    /// As [`QTest::new`] with a custom reply timeout.
    pub fn with_timeout(sock: UnixStream, timeout: Duration) -> Result<QTest> {
        let rsock = sock
            .try_clone()
            .map_err(|e| Error::io("clone qtest socket", e))?;
        // A large receive buffer gives posted replies room even when nobody reaps for a while.
        let size: libc::c_int = 1 << 20;
        // SAFETY: setsockopt with a pointer to a live c_int and its size.
        unsafe {
            libc::setsockopt(
                rsock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rsock
            .set_read_timeout(Some(timeout))
            .map_err(|e| Error::io("qtest read timeout", e))?;
        Ok(QTest {
            wr: Mutex::new(Writer {
                sock,
                next_seq: 0,
                line: Vec::with_capacity(256),
            }),
            rd: Mutex::new(Reader {
                sock: rsock,
                buf: Vec::with_capacity(64 * 1024),
                start: 0,
            }),
            book: Mutex::new(Book::default()),
            cv: Condvar::new(),
            timeout,
            sent: AtomicU64::new(0),
            posted: AtomicU64::new(0),
            replies_seen: AtomicU64::new(0),
        })
    }

    /// Counters.
    pub fn stats(&self) -> QTestStats {
        let b = lock(&self.book);
        QTestStats {
            sent: self.sent.load(Ordering::Relaxed),
            posted: self.posted.load(Ordering::Relaxed),
            replies: b.replies,
            posted_failures: b.posted_failures,
        }
    }

    /// Returns and forgets the kept `FAIL` replies of posted commands (at most 32 are kept;
    /// [`QTestStats::posted_failures`] has the exact count).
    pub fn take_posted_failures(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.book).kept_failures)
    }

    /// Whether the connection broke (QEMU gone or a timeout), with the reason.
    pub fn dead(&self) -> Option<String> {
        lock(&self.book).dead.clone()
    }

    /// Marks the connection dead and wakes every waiter (used at shutdown too).
    pub fn mark_dead(&self, why: &str) {
        let mut b = lock(&self.book);
        if b.dead.is_none() {
            b.dead = Some(why.to_string());
        }
        drop(b);
        self.cv.notify_all();
    }

    /// Writes `cmds` as one write; when `sync`, registers their sequence numbers as awaited
    /// before writing (so no reader can discard the replies). Returns the first sequence number.
    fn send(&self, cmds: &[&str], sync: bool) -> Result<u64> {
        if let Some(c) = cmds.iter().find(|c| c.contains('\n')) {
            return Err(Error::Invalid(format!("qtest command with newline: {c:?}")));
        }
        let mut w = lock(&self.wr);
        let first = w.next_seq;
        let n = cmds.len() as u64;
        {
            let mut b = lock(&self.book);
            if let Some(d) = &b.dead {
                return Err(Error::QtestDead(d.clone()));
            }
            if sync {
                for s in first..first + n {
                    b.waiting.insert(s, None);
                }
            }
        }
        let Writer { sock, line, .. } = &mut *w;
        line.clear();
        for c in cmds {
            line.extend_from_slice(c.as_bytes());
            line.push(b'\n');
        }
        if let Err(e) = send_all(sock, line) {
            // The stream may now hold a partial command: nothing after it can be trusted.
            drop(w);
            self.forget(first, n);
            let why = format!("write failed: {e}");
            self.mark_dead(&why);
            return Err(Error::QtestDead(why));
        }
        w.next_seq += n;
        drop(w);
        self.sent.fetch_add(n, Ordering::Relaxed);
        Ok(first)
    }

    fn forget(&self, first: u64, n: u64) {
        let mut b = lock(&self.book);
        for s in first..first + n {
            b.waiting.remove(&s);
        }
    }

    /// Hands one reply to its waiter, or accounts for it as posted.
    fn deliver(b: &mut Book, reply: Reply) {
        let seq = b.replies;
        b.replies += 1;
        match b.waiting.get_mut(&seq) {
            Some(slot) => *slot = Some(reply),
            None => {
                if let Err(line) = reply {
                    b.posted_failures += 1;
                    if b.kept_failures.len() < MAX_KEPT_FAILURES {
                        b.kept_failures.push(line);
                    }
                }
            }
        }
    }

    /// Reads replies. `until`: block until this many replies have arrived in total; `None`:
    /// only take what is already there. Caller holds the leader role.
    fn read_replies(&self, until: Option<u64>) -> std::result::Result<(), String> {
        let mut r = lock(&self.rd);
        loop {
            // Consume complete lines already buffered.
            let mut delivered = 0;
            let have;
            {
                let mut b = lock(&self.book);
                while let Some(nl) = r.buf[r.start..].iter().position(|&c| c == b'\n') {
                    let end = r.start + nl;
                    let bytes = &r.buf[r.start..end];
                    if bytes.starts_with(b"IRQ") {
                        r.start = end + 1;
                        continue;
                    }
                    let reply = match std::str::from_utf8(bytes) {
                        Ok(line) => parse_reply(line),
                        Err(_) => Err(String::from_utf8_lossy(bytes).into_owned()),
                    };
                    r.start = end + 1;
                    Self::deliver(&mut b, reply);
                    delivered += 1;
                }
                have = b.replies;
                self.replies_seen.store(have, Ordering::Relaxed);
            }
            if delivered > 0 {
                self.cv.notify_all();
            }
            if r.start == r.buf.len() {
                r.buf.clear();
                r.start = 0;
            } else if r.start > 32 * 1024 {
                let s = r.start;
                r.buf.drain(..s);
                r.start = 0;
            }
            let block = match until {
                Some(u) if have < u => true,
                Some(_) => return Ok(()),
                None => false,
            };
            let mut chunk = [0u8; 16 * 1024];
            // Blocking reads time out through SO_RCVTIMEO (set in the constructor).
            let flags = if block { 0 } else { libc::MSG_DONTWAIT };
            // SAFETY: recv into a live stack buffer of the given length.
            let n = unsafe {
                libc::recv(
                    r.sock.as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                    flags,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock if !block => return Ok(()),
                    io::ErrorKind::WouldBlock => {
                        return Err(format!(
                            "no reply from QEMU within {:?} (waiting for reply #{}, have {have})",
                            self.timeout,
                            until.unwrap_or(0)
                        ))
                    }
                    _ => return Err(format!("read failed: {e}")),
                }
            }
            if n == 0 {
                return Err("QEMU closed the qtest socket".into());
            }
            let n = n as usize;
            r.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Waits until replies `first .. first+n` are in; returns them in order.
    fn wait(&self, first: u64, n: u64) -> Result<Vec<Reply>> {
        let last_needed = first + n; // total reply count that covers all of ours
        let mut b = lock(&self.book);
        loop {
            if b.replies >= last_needed {
                let mut out = Vec::with_capacity(n as usize);
                for s in first..last_needed {
                    match b.waiting.remove(&s) {
                        Some(Some(r)) => out.push(r),
                        _ => out.push(Err("reply lost".into())),
                    }
                }
                return Ok(out);
            }
            if let Some(d) = b.dead.clone() {
                for s in first..last_needed {
                    b.waiting.remove(&s);
                }
                return Err(Error::QtestDead(d));
            }
            if !b.reading {
                b.reading = true;
                drop(b);
                let res = self.read_replies(Some(last_needed));
                b = lock(&self.book);
                b.reading = false;
                if let Err(why) = res {
                    if b.dead.is_none() {
                        b.dead = Some(why);
                    }
                }
                self.cv.notify_all();
                continue;
            }
            b = self
                .cv
                .wait_timeout(b, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Reads whatever replies have arrived, without blocking, unless another thread is
    /// already reading (it will take them).
    pub fn reap(&self) {
        let mut b = lock(&self.book);
        if b.reading || b.dead.is_some() {
            return;
        }
        b.reading = true;
        drop(b);
        let res = self.read_replies(None);
        let mut b = lock(&self.book);
        b.reading = false;
        if let Err(why) = res {
            if b.dead.is_none() {
                b.dead = Some(why);
            }
        }
        drop(b);
        self.cv.notify_all();
    }

    /// Waits until every command sent so far (posted ones included) has been answered.
    pub fn drain(&self) -> Result<()> {
        let target = lock(&self.wr).next_seq;
        let mut b = lock(&self.book);
        loop {
            if b.replies >= target {
                return Ok(());
            }
            if let Some(d) = &b.dead {
                return Err(Error::QtestDead(d.clone()));
            }
            if !b.reading {
                b.reading = true;
                drop(b);
                let res = self.read_replies(Some(target));
                b = lock(&self.book);
                b.reading = false;
                if let Err(why) = res {
                    if b.dead.is_none() {
                        b.dead = Some(why);
                    }
                }
                self.cv.notify_all();
                continue;
            }
            b = self
                .cv
                .wait_timeout(b, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Sends one command and waits for its reply (`FAIL` → [`Error::QtestFail`]).
    pub fn cmd(&self, command: &str) -> Result<Option<u64>> {
        let first = self.send(&[command], true)?;
        let mut r = self.wait(first, 1)?;
        match r.pop() {
            Some(Ok(v)) => Ok(v),
            Some(Err(reply)) => Err(Error::QtestFail {
                command: command.to_string(),
                reply,
            }),
            None => Err(Error::QtestDead("reply lost".into())),
        }
    }

    /// Sends several commands in one write (adjacent in the stream) and waits for all replies.
    /// Returns every reply; use [`QTest::pipeline_ok`] to turn the first `FAIL` into an error.
    pub fn pipeline(&self, commands: &[&str]) -> Result<Vec<Reply>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.send(commands, true)?;
        self.wait(first, commands.len() as u64)
    }

    /// [`QTest::pipeline`], failing on the first `FAIL`.
    pub fn pipeline_ok(&self, commands: &[&str]) -> Result<Vec<Option<u64>>> {
        let replies = self.pipeline(commands)?;
        replies
            .into_iter()
            .zip(commands)
            .map(|(r, c)| {
                r.map_err(|reply| Error::QtestFail {
                    command: (*c).to_string(),
                    reply,
                })
            })
            .collect()
    }

    /// Sends a command without waiting (fire-and-forget); its reply is reaped later: by the
    /// next synchronous call, or here once [`REAP_AT`] replies are outstanding.
    pub fn post(&self, command: &str) -> Result<()> {
        self.send(&[command], false)?;
        self.posted.fetch_add(1, Ordering::Relaxed);
        let outstanding = self
            .sent
            .load(Ordering::Relaxed)
            .saturating_sub(self.replies_seen.load(Ordering::Relaxed));
        if outstanding >= REAP_AT {
            self.reap();
        }
        Ok(())
    }

    fn value(&self, command: &str) -> Result<u64> {
        self.cmd(command)?.ok_or_else(|| Error::QtestFail {
            command: command.to_string(),
            reply: "OK without a value".into(),
        })
    }

    /// `readb ADDR` (MMIO / guest-physical read through the CPU's address space).
    pub fn readb(&self, addr: u64) -> Result<u8> {
        Ok(self.value(&format!("readb {addr:#x}"))? as u8)
    }
    /// `readw ADDR`.
    pub fn readw(&self, addr: u64) -> Result<u16> {
        Ok(self.value(&format!("readw {addr:#x}"))? as u16)
    }
    /// `readl ADDR`.
    pub fn readl(&self, addr: u64) -> Result<u32> {
        Ok(self.value(&format!("readl {addr:#x}"))? as u32)
    }
    /// `readq ADDR` (one 8-byte access; QEMU's virtio common cfg rejects these — split them).
    pub fn readq(&self, addr: u64) -> Result<u64> {
        self.value(&format!("readq {addr:#x}"))
    }
    /// `writeb ADDR V`, waiting for the reply.
    pub fn writeb(&self, addr: u64, v: u8) -> Result<()> {
        self.cmd(&format!("writeb {addr:#x} {v:#x}")).map(|_| ())
    }
    /// `writew ADDR V`, waiting for the reply.
    pub fn writew(&self, addr: u64, v: u16) -> Result<()> {
        self.cmd(&format!("writew {addr:#x} {v:#x}")).map(|_| ())
    }
    /// `writel ADDR V`, waiting for the reply.
    pub fn writel(&self, addr: u64, v: u32) -> Result<()> {
        self.cmd(&format!("writel {addr:#x} {v:#x}")).map(|_| ())
    }
    /// `writeq ADDR V`, waiting for the reply.
    pub fn writeq(&self, addr: u64, v: u64) -> Result<()> {
        self.cmd(&format!("writeq {addr:#x} {v:#x}")).map(|_| ())
    }
    /// Posted `writeb` (no round trip).
    pub fn post_writeb(&self, addr: u64, v: u8) -> Result<()> {
        self.post(&format!("writeb {addr:#x} {v:#x}"))
    }
    /// Posted `writew` — the queue-notify path.
    pub fn post_writew(&self, addr: u64, v: u16) -> Result<()> {
        self.post(&format!("writew {addr:#x} {v:#x}"))
    }
    /// Posted `writel`.
    pub fn post_writel(&self, addr: u64, v: u32) -> Result<()> {
        self.post(&format!("writel {addr:#x} {v:#x}"))
    }
    /// Posted `writeq`.
    pub fn post_writeq(&self, addr: u64, v: u64) -> Result<()> {
        self.post(&format!("writeq {addr:#x} {v:#x}"))
    }
    /// `inb PORT`.
    pub fn inb(&self, port: u16) -> Result<u8> {
        Ok(self.value(&format!("inb {port:#x}"))? as u8)
    }
    /// `inw PORT`.
    pub fn inw(&self, port: u16) -> Result<u16> {
        Ok(self.value(&format!("inw {port:#x}"))? as u16)
    }
    /// `inl PORT`.
    pub fn inl(&self, port: u16) -> Result<u32> {
        Ok(self.value(&format!("inl {port:#x}"))? as u32)
    }
    /// `outb PORT V`.
    pub fn outb(&self, port: u16, v: u8) -> Result<()> {
        self.cmd(&format!("outb {port:#x} {v:#x}")).map(|_| ())
    }
    /// `outw PORT V`.
    pub fn outw(&self, port: u16, v: u16) -> Result<()> {
        self.cmd(&format!("outw {port:#x} {v:#x}")).map(|_| ())
    }
    /// `outl PORT V`.
    pub fn outl(&self, port: u16, v: u32) -> Result<()> {
        self.cmd(&format!("outl {port:#x} {v:#x}")).map(|_| ())
    }
}

/// `write_all` with MSG_NOSIGNAL: a dead QEMU gives EPIPE, never a SIGPIPE.
fn send_all(sock: &UnixStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: send from a live slice of the given length.
        let n = unsafe {
            libc::send(
                sock.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    #[test]
    fn replies_parse_ok_value_and_fail() {
        assert_eq!(parse_reply("OK"), Ok(None));
        assert_eq!(parse_reply("OK 0x1af4\n"), Ok(Some(0x1af4)));
        assert_eq!(parse_reply("OK 0xffffffffffffffff"), Ok(Some(u64::MAX)));
        assert_eq!(
            parse_reply("FAIL Unknown command 'clock_step'"),
            Err("FAIL Unknown command 'clock_step'".into())
        );
        assert!(parse_reply("OK zz").is_err());
    }

    /// A fake qtest server: answers `readl A` with `OK A+1`, `bad` with FAIL, everything else
    /// with OK, interleaving an IRQ line now and then; optionally delays replies.
    fn fake_server(sock: UnixStream) {
        let mut w = sock.try_clone().unwrap();
        let r = BufReader::new(sock);
        for (i, line) in r.lines().enumerate() {
            let Ok(line) = line else { break };
            if i % 7 == 3 {
                w.write_all(b"IRQ raise 5\n").unwrap();
            }
            let mut parts = line.split_whitespace();
            let reply = match parts.next() {
                Some("readl") => {
                    let a = parts.next().unwrap();
                    let v = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap();
                    format!("OK 0x{:x}\n", v + 1)
                }
                Some("bad") => "FAIL no such thing\n".to_string(),
                _ => "OK\n".to_string(),
            };
            if w.write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
    }

    #[test]
    fn replies_are_matched_in_order_across_threads_posts_and_irq_lines() {
        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || fake_server(b));
        let qt = QTest::new(a).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let qt = &qt;
                s.spawn(move || {
                    for i in 0..500u64 {
                        let addr = t * 0x10000 + i;
                        if i % 3 == 0 {
                            qt.post_writew(addr, 1).unwrap();
                        }
                        assert_eq!(qt.readl(addr).unwrap() as u64, addr + 1);
                        if i % 50 == 0 {
                            let cmds: Vec<String> =
                                (0..5).map(|k| format!("readl {:#x}", addr + k)).collect();
                            let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
                            let v = qt.pipeline_ok(&refs).unwrap();
                            for (k, x) in v.iter().enumerate() {
                                assert_eq!(*x, Some(addr + k as u64 + 1));
                            }
                        }
                    }
                });
            }
        });
        qt.post("bad").unwrap();
        qt.drain().unwrap();
        let st = qt.stats();
        assert_eq!(st.sent, st.replies, "{st:?}");
        assert_eq!(st.posted_failures, 1);
        assert_eq!(
            qt.take_posted_failures(),
            vec!["FAIL no such thing".to_string()]
        );
        match qt.cmd("bad") {
            Err(Error::QtestFail { reply, .. }) => assert_eq!(reply, "FAIL no such thing"),
            other => panic!("{other:?}"),
        }
        drop(qt);
        srv.join().unwrap();
    }

    #[test]
    fn a_closed_connection_fails_every_waiter_instead_of_hanging() {
        let (a, b) = UnixStream::pair().unwrap();
        let qt = QTest::with_timeout(a, Duration::from_secs(5)).unwrap();
        drop(b);
        let e = qt.readl(0).unwrap_err();
        assert!(matches!(e, Error::QtestDead(_)), "{e:?}");
        assert!(qt.dead().is_some());
        assert!(matches!(qt.post("x"), Err(Error::QtestDead(_))));
    }

    #[test]
    fn a_silent_server_times_out() {
        let (a, _b) = UnixStream::pair().unwrap();
        let qt = QTest::with_timeout(a, Duration::from_millis(200)).unwrap();
        let e = qt.readl(0).unwrap_err();
        assert!(
            matches!(e, Error::QtestDead(ref s) if s.contains("no reply")),
            "{e:?}"
        );
    }
}
