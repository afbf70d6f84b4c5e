//! Debug logging without allocation: [`log!`](crate::log) formats into a fixed 256-byte stack buffer and hands
//! the bytes to the OS sink.
//!
//! Why OS-specific: the sink. On Windows it is `DbgPrint("%s", line)` (ntoskrnl, cdecl varargs; the message is
//! passed as an argument, never as the format, so a `%` in it is harmless). On the host it is the
//! non-variadic `NetkvmHostLog(level, ptr, len)` that the user-mode NDIS defines:
//! ```c
//! void NetkvmHostLog(uint32_t level, const uint8_t *msg, size_t len);   /* msg: UTF-8, not NUL-terminated */
//! ```
//! Formatting itself is portable and tested on the host.
//!
//! The buffer lives on the stack (256 bytes, well under the 4 KiB that would need `__chkstk` and far under
//! the 24 KiB kernel stack), so logging works at any IRQL the sink allows (DbgPrint: up to DIRQL).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU32, Ordering};

/// Message severity; lower is more severe. The numeric values are the host sink's `level` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Trace = 3,
}

impl Level {
    const fn tag(self) -> &'static str {
        match self {
            Level::Error => "E",
            Level::Warn => "W",
            Level::Info => "I",
            Level::Trace => "T",
        }
    }
}

/// Most verbose level still emitted (a later issue sets it from the registry).
static MAX_LEVEL: AtomicU32 = AtomicU32::new(Level::Info as u32);

pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u32, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    passes(level, MAX_LEVEL.load(Ordering::Relaxed))
}

const fn passes(level: Level, max: u32) -> bool {
    level as u32 <= max
}

/// Capacity of one log line including the terminating NUL the Windows sink needs.
pub const LINE_CAPACITY: usize = 256;

/// A fixed-capacity line: writes past the capacity are dropped and the line is marked truncated.
pub struct LineBuf {
    buf: [u8; LINE_CAPACITY],
    len: usize,
    truncated: bool,
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuf {
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_CAPACITY],
            len: 0,
            truncated: false,
        }
    }

    /// The text so far. Interior NULs are replaced (the Windows sink reads a C string).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Mark a truncated line with a trailing `...` (replacing the last bytes, on a char boundary).
    fn finish(&mut self) {
        if !self.truncated {
            return;
        }
        let mut cut = self.len.saturating_sub(3);
        // Do not split a UTF-8 sequence: back up to a char start.
        while cut > 0 && self.buf.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
            cut -= 1;
        }
        self.len = cut;
        for _ in 0..3 {
            self.push(b'.');
        }
    }

    fn push(&mut self, b: u8) -> bool {
        // Keep one byte for the NUL terminator.
        if self.len + 1 >= LINE_CAPACITY {
            self.truncated = true;
            return false;
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = if b == 0 { b'?' } else { b };
            self.len += 1;
        }
        true
    }

    /// NUL-terminated view for C sinks.
    pub fn as_c_bytes(&mut self) -> &[u8] {
        let end = self.len.min(LINE_CAPACITY - 1);
        if let Some(slot) = self.buf.get_mut(end) {
            *slot = 0;
        }
        self.buf.get(..=end).unwrap_or(&[0])
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = (LINE_CAPACITY - 1).saturating_sub(self.len);
        if s.len() <= room {
            for b in s.bytes() {
                self.push(b);
            }
            return Ok(());
        }
        // Copy only whole characters that fit.
        let mut fit = room;
        while fit > 0 && !s.is_char_boundary(fit) {
            fit -= 1;
        }
        for b in s.as_bytes().iter().take(fit) {
            self.push(*b);
        }
        self.truncated = true;
        Ok(())
    }
}

/// Format one line: `netkvmrs[<L>] <message>`.
pub fn format_line(level: Level, args: fmt::Arguments<'_>) -> LineBuf {
    let mut line = LineBuf::new();
    // Writing to LineBuf never fails; a Display impl returning Err just ends the message early.
    let _ = write!(line, "netkvmrs[{}] ", level.tag());
    let _ = line.write_fmt(args);
    line.finish();
    line
}

/// Emit a message if `level` is enabled. Use through [`log!`](crate::log).
pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = format_line(level, args);
    sink(level, &mut line);
}

#[cfg(target_os = "windows")]
fn sink(_level: Level, line: &mut LineBuf) {
    let text = line.as_c_bytes();
    // SAFETY: "%s\n" is a NUL-terminated format consuming exactly one `char*` argument, and `text` is a
    // NUL-terminated byte string without interior NULs (LineBuf replaces them) that outlives the call.
    unsafe {
        ndis_sys::DbgPrint(c"%s\n".as_ptr(), text.as_ptr());
    }
}

#[cfg(not(target_os = "windows"))]
fn sink(level: Level, line: &mut LineBuf) {
    unsafe extern "C" {
        /// Defined by the user-mode NDIS (crates/ndis-emu) or a test; see the module docs.
        fn NetkvmHostLog(level: u32, msg: *const u8, len: usize);
    }
    let bytes = line.as_bytes();
    // SAFETY: `bytes` is a valid slice for the duration of the call; the host sink copies what it keeps.
    unsafe { NetkvmHostLog(level as u32, bytes.as_ptr(), bytes.len()) }
}

/// `log!(Info, "format {}", args)` — see [`platform::log`](crate::platform::log).
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::platform::log::emit($crate::platform::log::Level::$level, format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn line_has_prefix_and_message() {
        let l = format_line(Level::Warn, format_args!("bar {} at {:#x}", 3, 0x1000));
        assert_eq!(l.as_bytes(), b"netkvmrs[W] bar 3 at 0x1000");
        assert!(!l.is_truncated());
    }

    #[test]
    fn long_message_is_truncated_with_ellipsis_and_room_for_nul() {
        let long = "x".repeat(1000);
        let mut l = format_line(Level::Info, format_args!("{long}"));
        assert!(l.is_truncated());
        assert_eq!(l.as_bytes().len(), LINE_CAPACITY - 1);
        assert!(l.as_bytes().ends_with(b"..."));
        let c = l.as_c_bytes();
        assert_eq!(c.len(), LINE_CAPACITY);
        assert_eq!(c.last(), Some(&0));
    }

    #[test]
    fn truncation_never_splits_a_utf8_character() {
        // 'é' is 2 bytes; fill so that the boundary falls inside a character.
        let s: String = core::iter::repeat_n('é', 200).collect();
        let l = format_line(Level::Info, format_args!("{s}"));
        assert!(l.is_truncated());
        assert!(core::str::from_utf8(l.as_bytes()).is_ok());
    }

    #[test]
    fn interior_nul_cannot_cut_the_c_string() {
        let mut l = format_line(Level::Error, format_args!("a\0b"));
        let c = l.as_c_bytes();
        assert_eq!(
            c.iter().filter(|b| **b == 0).count(),
            1,
            "only the terminator"
        );
        assert!(c.ends_with(b"a?b\0"));
    }

    #[test]
    fn levels_above_the_maximum_are_filtered() {
        let max = Level::Warn as u32;
        assert!(passes(Level::Error, max) && passes(Level::Warn, max));
        assert!(!passes(Level::Info, max) && !passes(Level::Trace, max));
        assert!(passes(Level::Trace, Level::Trace as u32));
    }
}
