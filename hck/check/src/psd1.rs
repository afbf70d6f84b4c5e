//! A reader for the restricted PowerShell data language of `.psd1` files.
//!
//! `Import-PowerShellDataFile` accepts only literals: hash tables `@{ k = v }`, arrays `@( … )`,
//! strings, numbers and `$true` / `$false` / `$null`, with `#` and `<# … #>` comments. The kit's
//! keyword table and profiles use exactly that subset; this reader parses it so the Linux tests
//! can compare the table with the driver's and validate the profiles. It is stricter than
//! PowerShell where that keeps the files simple: no expandable (`"…$x"`) strings, no
//! sub-expressions, decimal integers only.

use std::fmt;

/// A parsed data-language value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `'text'` or `"text"`.
    Str(String),
    /// A decimal integer (optionally signed).
    Int(i64),
    /// `$true` / `$false`.
    Bool(bool),
    /// `$null`.
    Null,
    /// `@( … )`, in source order.
    Array(Vec<Value>),
    /// `@{ … }`, in source order (keys are case-insensitive, as in PowerShell).
    Table(Vec<(String, Value)>),
}

impl Value {
    /// Looks a key up in a table (case-insensitive); `None` for a missing key or a non-table.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Table(entries) => entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is a table.
    pub fn as_table(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Table(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Why a file did not parse, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the offending character.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole `.psd1` text: exactly one value, then only blanks and comments.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    // A UTF-8 byte order mark is legal at the start of a PowerShell file.
    if p.s.starts_with(&[0xEF, 0xBB, 0xBF]) {
        p.pos = 3;
    }
    p.skip_trivia(true)?;
    let v = p.value()?;
    p.skip_trivia(true)?;
    if p.pos < p.s.len() {
        return Err(p.err("unexpected text after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> ParseError {
        let upto = self.s.get(..self.pos).unwrap_or(self.s);
        ParseError {
            line: upto.iter().filter(|&&b| b == b'\n').count() + 1,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.s.get(self.pos + off).copied()
    }

    /// Skips blanks and comments; newlines too when `newlines` is set.
    fn skip_trivia(&mut self, newlines: bool) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') if newlines => self.pos += 1,
                Some(b'<') if self.peek_at(1) == Some(b'#') => {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match self.peek() {
                            None => {
                                self.pos = start;
                                return Err(self.err("unterminated <# comment"));
                            }
                            Some(b'#') if self.peek_at(1) == Some(b'>') => {
                                self.pos += 2;
                                break;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                Some(b'#') => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'@') if self.peek_at(1) == Some(b'{') => {
                self.pos += 2;
                self.table()
            }
            Some(b'@') if self.peek_at(1) == Some(b'(') => {
                self.pos += 2;
                self.array()
            }
            Some(b'\'') => self.single_quoted().map(Value::Str),
            Some(b'"') => self.double_quoted().map(Value::Str),
            Some(b'$') => self.variable(),
            Some(b'-' | b'+' | b'0'..=b'9') => self.integer(),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of file, expected a value")),
        }
    }

    fn table(&mut self) -> Result<Value, ParseError> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        loop {
            self.skip_separators(b';')?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Table(entries));
            }
            let key = match self.peek() {
                Some(b'\'') => self.single_quoted()?,
                Some(b'"') => self.double_quoted()?,
                Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.bare_word(),
                None => return Err(self.err("unterminated @{ table")),
                Some(_) => return Err(self.err("expected a key")),
            };
            if entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(self.err(&format!("duplicate key `{key}`")));
            }
            self.skip_trivia(false)?;
            if self.peek() != Some(b'=') {
                return Err(self.err(&format!("expected `=` after key `{key}`")));
            }
            self.pos += 1;
            self.skip_trivia(true)?;
            let v = self.value()?;
            entries.push((key, v));
            // An entry ends at `;`, a newline or the closing brace.
            self.skip_trivia(false)?;
            match self.peek() {
                Some(b';' | b'\n' | b'}') => {}
                _ => return Err(self.err("expected `;`, a newline or `}` after a table entry")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_separators(b',')?;
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            if self.peek().is_none() {
                return Err(self.err("unterminated @( array"));
            }
            items.push(self.value()?);
            self.skip_trivia(false)?;
            match self.peek() {
                Some(b',' | b';' | b'\n' | b')') => {}
                _ => return Err(self.err("expected `,`, a newline or `)` after an array item")),
            }
        }
    }

    /// Skips trivia, newlines, `;` and the given extra separator.
    fn skip_separators(&mut self, extra: u8) -> Result<(), ParseError> {
        loop {
            self.skip_trivia(true)?;
            match self.peek() {
                Some(c) if c == extra || c == b';' => self.pos += 1,
                _ => return Ok(()),
            }
        }
    }

    fn bare_word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(self.s.get(start..self.pos).unwrap_or_default()).into_owned()
    }

    fn single_quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err("unterminated '…' string"));
                }
                // `''` is an escaped quote inside a single-quoted string.
                Some(b'\'') if self.peek_at(1) == Some(b'\'') => {
                    out.push(b'\'');
                    self.pos += 2;
                }
                Some(b'\'') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn double_quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err("unterminated \"…\" string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                // Expansion and escapes change the text at run time; the data files must not
                // depend on them.
                Some(b'$' | b'`') => {
                    return Err(self.err(
                        "`$` or a backtick in a \"…\" string: use a '…' string in data files",
                    ))
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn variable(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let name = self.bare_word();
        match name.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => Err(self.err(&format!(
                "variable `${name}`: data files allow only $true, $false and $null"
            ))),
        }
    }

    fn integer(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(self.s.get(start..self.pos).unwrap_or_default())
            .unwrap_or_default();
        // A number glued to letters (`12kb`, `0x10`, `1.5`) is legal PowerShell but not in our files.
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'.') {
            return Err(self.err("only plain decimal integers are allowed"));
        }
        text.parse::<i64>()
            .map(Value::Int)
            .map_err(|_| self.err(&format!("`{text}` is not a 64-bit integer")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psd1_nested_table_array_and_literals() {
        let v = parse(
            "# comment\n<# block\n comment #>\n@{\n  A = 'x''y'; b = \"z\"\n  'Quoted Key' = @( 1, -2\n 3 )\n  T = $TRUE\n  N = $null\n  E = @{}\n}\n",
        )
        .unwrap();
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x'y"));
        assert_eq!(v.get("B").and_then(Value::as_str), Some("z"));
        assert_eq!(
            v.get("quoted key").and_then(Value::as_array),
            Some(&[Value::Int(1), Value::Int(-2), Value::Int(3)][..])
        );
        assert_eq!(v.get("t").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("n"), Some(&Value::Null));
        assert_eq!(v.get("e"), Some(&Value::Table(vec![])));
        assert_eq!(v.get("missing"), None);
    }

    #[test]
    fn psd1_rejects_duplicate_keys_case_insensitively() {
        let e = parse("@{ A = 1\n a = 2 }").unwrap_err();
        assert!(e.message.contains("duplicate key"), "{e}");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn psd1_rejects_code_and_expansion() {
        for bad in [
            "@{ A = $env:X }",
            "@{ A = \"$x\" }",
            "@{ A = 0x10 }",
            "@{ A = 1.5 }",
            "@{ A = Get-Date }",
            "@{ A = 'open",
            "@{ A = 1 B = 2 }",
            "@{ A = 1 } trailing",
            "<# never closed",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn psd1_accepts_bom_and_crlf() {
        let v = parse("\u{feff}@{\r\n A = '1'\r\n}\r\n").unwrap();
        assert_eq!(v.get("A").and_then(Value::as_str), Some("1"));
    }
}
