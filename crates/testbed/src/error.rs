//! One error type for the whole testbed.

use std::fmt;
use std::io;

/// Everything that can go wrong while building, driving or tearing down a testbed.
#[derive(Debug)]
pub enum Error {
    /// A system call or a file operation failed; `context` says which step.
    Io {
        /// The step that failed (e.g. "create run dir /tmp/ntb-…").
        context: String,
        /// The OS error.
        source: io::Error,
    },
    /// A helper program (`ip`, `ethtool`, …) exited unsuccessfully.
    Command {
        /// The command line as run.
        cmdline: String,
        /// Exit status and captured stderr.
        detail: String,
    },
    /// QEMU answered a qtest command with `FAIL …` (carries the command and the reply).
    QtestFail {
        /// The command sent.
        command: String,
        /// QEMU's reply line.
        reply: String,
    },
    /// The qtest connection is gone (QEMU exited, the socket broke, or a reply timed out);
    /// every later call fails the same way.
    QtestDead(String),
    /// A QMP command returned an error object, or the QMP stream broke.
    Qmp(String),
    /// Something the testbed needs is missing on this machine (root, /dev/net/tun, QEMU ≥ 10 …).
    Prerequisite(String),
    /// A bring-up step found the machine not as expected (no virtio-net function, no MSI-X, bad BAR …).
    Setup(String),
    /// A wait ran out of time.
    Timeout(String),
    /// An argument was invalid (name too long, RAM size out of range, address outside RAM …).
    Invalid(String),
}

impl Error {
    /// Wraps an `io::Error` with the step that produced it.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The last OS error (`errno`) with context.
    pub fn last_os(context: impl Into<String>) -> Self {
        Self::io(context, io::Error::last_os_error())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Command { cmdline, detail } => write!(f, "`{cmdline}` failed: {detail}"),
            Error::QtestFail { command, reply } => write!(f, "qtest `{command}` -> {reply}"),
            Error::QtestDead(why) => write!(f, "qtest connection lost: {why}"),
            Error::Qmp(why) => write!(f, "QMP: {why}"),
            Error::Prerequisite(why) => write!(f, "prerequisite missing: {why}"),
            Error::Setup(why) => write!(f, "testbed setup: {why}"),
            Error::Timeout(why) => write!(f, "timeout: {why}"),
            Error::Invalid(why) => write!(f, "invalid argument: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The testbed's result type.
pub type Result<T> = std::result::Result<T, Error>;
