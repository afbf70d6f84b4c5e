//! Child processes that die with the test process: `PR_SET_PDEATHSIG`, optional network
//! namespace entry, output capture, kill by PID.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process. A
//! test thread that starts QEMU and hands the testbed to another thread would otherwise kill
//! QEMU when it ends. So every child is forked by one process-wide spawner thread that never
//! exits: the signal fires exactly when the whole test process dies (panic=abort, SIGKILL, …).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::SyncSender<io::Result<Child>>,
}

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static TX: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // The receiver lives in a detached thread that runs until the process exits (the
        // sender is in a static, so the channel never closes).
        let spawned = std::thread::Builder::new()
            .name("testbed-spawner".into())
            .spawn(move || {
                for mut req in rx {
                    let r = req.cmd.spawn();
                    let _ = req.reply.send(r);
                }
            });
        if let Err(e) = spawned {
            // Without the thread every spawn below reports the failure (the channel is closed).
            eprintln!("testbed: cannot start the spawner thread: {e}");
        }
        Mutex::new(tx)
    })
}

/// How a child is started.
#[derive(Debug, Default)]
pub struct SpawnOptions<'a> {
    /// Enter this network namespace (a `/run/netns/NAME` file) before exec.
    pub netns: Option<&'a Path>,
    /// File descriptors to keep open across exec (their `FD_CLOEXEC` is cleared in the child
    /// only, so concurrently spawned children never inherit them).
    pub keep_fds: &'a [RawFd],
    /// Capture stdout/stderr into memory (else they go to /dev/null unless the caller set them).
    pub capture: bool,
}

/// Spawns `cmd` from the spawner thread with `PR_SET_PDEATHSIG = SIGKILL`, entering a network
/// namespace first when asked. The child's PID is the program's PID (no intermediate shell).
pub fn spawn(mut cmd: Command, opts: SpawnOptions<'_>) -> Result<ChildProc> {
    let desc = describe(&cmd);
    let ns_file = match opts.netns {
        Some(p) => {
            Some(File::open(p).map_err(|e| Error::io(format!("open netns {}", p.display()), e))?)
        }
        None => None,
    };
    let ns_fd: Option<RawFd> = ns_file.as_ref().map(|f| f.as_raw_fd());
    let keep: Vec<RawFd> = opts.keep_fds.to_vec();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    cmd.stdin(Stdio::null());
    if opts.capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let pre_exec = move || -> io::Result<()> {
        // Runs in the forked child before exec: only async-signal-safe calls, no allocation.
        if let Some(fd) = ns_fd {
            // SAFETY: fd is an open netns file inherited from the parent (closed at exec).
            if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number; no memory is passed.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // If the parent died between fork and prctl the signal will never come: give up.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        for &fd in &keep {
            // SAFETY: fcntl on an fd number; a bad fd only yields EBADF.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if flags < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: as above; clears FD_CLOEXEC in this (child) process only.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe system calls (setns, prctl, getppid,
    // fcntl) on values captured before the fork; it neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(pre_exec);
    }
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    spawner()
        .lock()
        .map_err(|_| Error::Setup("spawner lock poisoned".into()))?
        .send(SpawnRequest {
            cmd,
            reply: reply_tx,
        })
        .map_err(|_| Error::Setup("spawner thread is not running".into()))?;
    let child = reply_rx
        .recv()
        .map_err(|_| Error::Setup("spawner thread is not running".into()))?
        .map_err(|e| Error::io(format!("spawn {desc}"), e))?;
    drop(ns_file);
    Ok(ChildProc::new(child, desc))
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Builds a `Command` from a program and arguments.
pub fn command<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit status (signalled when killed).
    pub status: ExitStatus,
    /// Captured stdout (empty when not captured).
    pub stdout: String,
    /// Captured stderr (empty when not captured).
    pub stderr: String,
    /// True when the child was killed because it outlived its timeout.
    pub timed_out: bool,
}

impl CmdOutput {
    /// Ok(stdout) on success, else a [`Error::Command`] with the status and stderr.
    pub fn ok(self, cmdline: &str) -> Result<String> {
        if self.status.success() && !self.timed_out {
            Ok(self.stdout)
        } else {
            Err(Error::Command {
                cmdline: cmdline.to_string(),
                detail: format!(
                    "{}{}: {}",
                    self.status,
                    if self.timed_out { " (timed out)" } else { "" },
                    self.stderr.trim()
                ),
            })
        }
    }
}

/// A running child started by [`spawn`]. Dropping it kills the child (SIGKILL by PID) and
/// reaps it.
pub struct ChildProc {
    child: Child,
    desc: String,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
    status: Option<ExitStatus>,
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    })
}

impl ChildProc {
    fn new(mut child: Child, desc: String) -> Self {
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        ChildProc {
            child,
            desc,
            out,
            err,
            status: None,
        }
    }

    /// The child's PID (that of the program itself).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line, for messages.
    pub fn cmdline(&self) -> &str {
        &self.desc
    }

    /// Non-blocking: the exit status if the child has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .map_err(|e| Error::io(format!("wait for {}", self.desc), e))?;
        }
        Ok(self.status)
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(200);
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }

    /// Sends `sig` to the child's PID (never to a group or by name). No-op once reaped.
    pub fn signal(&mut self, sig: libc::c_int) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let pid = libc::pid_t::try_from(self.pid())
            .map_err(|_| Error::Invalid(format!("pid {} out of range", self.pid())))?;
        // SAFETY: kill on the PID of our own unreaped child (it cannot have been recycled).
        if unsafe { libc::kill(pid, sig) } != 0 {
            return Err(Error::last_os(format!("kill {} {}", sig, self.desc)));
        }
        Ok(())
    }

    /// SIGKILL by PID, then reap.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        self.signal(libc::SIGKILL)?;
        self.wait_timeout(Duration::from_secs(10))?
            .ok_or_else(|| Error::Timeout(format!("{} did not die after SIGKILL", self.desc)))
    }

    /// Waits up to `timeout` (killing the child when it is exceeded) and returns its output.
    pub fn finish(mut self, timeout: Duration) -> Result<CmdOutput> {
        let mut timed_out = false;
        let status = match self.wait_timeout(timeout)? {
            Some(s) => s,
            None => {
                timed_out = true;
                self.kill()?
            }
        };
        let stdout = self
            .out
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stderr = self
            .err
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Ok(CmdOutput {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            timed_out,
        })
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.try_wait() {
            let _ = self.kill();
        }
    }
}

/// Runs `cmd` to completion (captured, killed after `timeout`), in `netns` when given.
pub fn run(cmd: Command, netns: Option<&Path>, timeout: Duration) -> Result<CmdOutput> {
    spawn(
        cmd,
        SpawnOptions {
            netns,
            capture: true,
            ..Default::default()
        },
    )?
    .finish(timeout)
}

/// Runs a program with arguments and returns its stdout, or an error carrying stderr.
pub fn run_ok<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    netns: Option<&Path>,
    timeout: Duration,
) -> Result<String> {
    let cmd = command(program, args);
    let desc = describe(&cmd);
    run(cmd, netns, timeout)?.ok(&desc)
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`), used
/// together with the PID to recognise a process across PID reuse.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start_time(&stat)
}

/// Parses the start time out of a `/proc/PID/stat` line (the command name may contain spaces
/// and parentheses, so fields are counted after the last `)`).
pub fn parse_stat_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After ")" come fields 3.. ; starttime is field 22, i.e. index 19 of the remainder.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// True when a process with this PID exists (any state but reaped).
pub fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_start_time_is_field_22_even_with_parens_in_comm() {
        let line = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 98765 1000 50 18446744073709551615";
        assert_eq!(parse_stat_start_time(line), Some(98765));
        assert_eq!(parse_stat_start_time("garbage"), None);
    }

    #[test]
    fn own_start_time_is_readable_and_stable() {
        let me = std::process::id();
        let a = process_start_time(me).unwrap();
        let b = process_start_time(me).unwrap();
        assert_eq!(a, b);
        assert!(pid_exists(me));
    }

    #[test]
    fn spawned_child_output_is_captured_and_timeout_kills_it() {
        let out = run(
            command("sh", &["-c", "echo out; echo err >&2; exit 3"]),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(!out.timed_out);
        let t0 = Instant::now();
        let out = run(command("sleep", &["30"]), None, Duration::from_millis(200)).unwrap();
        assert!(out.timed_out);
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(out.ok("sleep 30").is_err());
    }

    #[test]
    fn dropping_a_child_kills_it_by_pid() {
        let child = spawn(command("sleep", &["30"]), SpawnOptions::default()).unwrap();
        let pid = child.pid();
        assert!(pid_exists(pid));
        drop(child);
        assert!(!pid_exists(pid), "pid {pid} still exists after drop");
    }
}
