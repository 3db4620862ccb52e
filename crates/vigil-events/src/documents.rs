//! JSON arrays of events (`[{…},{…}]`) and concatenated JSON documents (`{…}\n{…}`, often
//! pretty-printed) read in pieces of whole elements. Elements are found by their structure
//! alone — brackets outside strings — and each is parsed on its own later: an export of many
//! gigabytes never sits whole in memory, its pieces decode on any thread, and the elements
//! before a damaged one still count.

use std::io::{self, Read};
use std::ops::Range;

use crate::batch::bom_len;

/// Whole elements of a JSON array, or whole documents, with how many came before them.
#[derive(Debug, Default)]
pub struct DocumentsPiece {
    /// The bytes holding the elements (and the separators between them).
    pub data: Vec<u8>,
    /// Where each element is in `data`.
    pub elements: Vec<Range<usize>>,
    /// Elements of the file before this piece: its first is number `elements_before + 1`.
    pub elements_before: u64,
}

/// Why the pieces ended early.
#[derive(Debug)]
pub enum PiecesError {
    /// The file could not be read (or decompressed) further.
    Read(io::Error),
    /// The text is not an array of elements, or documents, from here on.
    Structure(String),
    /// Element `element` (1-based) is longer than `limit` bytes: where it ends cannot be found
    /// without holding it whole, so the rest is not read.
    TooLong {
        /// Its number in the file.
        element: u64,
        /// The most bytes an element may take.
        limit: usize,
    },
}

/// Reads the elements of a JSON array, or concatenated JSON documents, from `reader` in pieces
/// of about `piece_bytes` (more when one element is larger). An error comes after the pieces of
/// the whole elements before it, and ends them.
pub struct DocumentPieces<R> {
    reader: R,
    /// An array (`[…]`) rather than documents one after the other.
    array: bool,
    buf: Vec<u8>,
    /// Bytes of the content before `buf`, to say where an error is.
    offset: u64,
    /// The next byte of `buf` to look at.
    pos: usize,
    phase: Phase,
    /// Whole elements found in `buf`, not yet given out.
    elements: Vec<Range<usize>>,
    elements_before: u64,
    piece_bytes: usize,
    /// The longest element read ([`crate::source::MAX_RECORD_BYTES`] but in tests).
    max_element: usize,
    at_end: bool,
    failed: Option<PiecesError>,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the array's `[` or the first document.
    Start,
    /// Where an element may start (or, in an array, `]` when `first`).
    BeforeElement { first: bool },
    /// Inside an element that started at `start`.
    Element { start: usize, scan: ValueScan },
    /// In an array, after an element: `,` or `]`.
    AfterElement,
    /// After the array's `]`: only whitespace may follow.
    AfterArray,
}

/// Where the end of one JSON value is, read a byte at a time across reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValueScan {
    /// Nesting of objects and arrays (0 for a string or a bare number, `true`, …).
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
    /// A bare value (number, `true`, `false`, `null`): it ends before a delimiter.
    bare: bool,
}

impl ValueScan {
    fn new(first: u8) -> ValueScan {
        ValueScan {
            depth: usize::from(matches!(first, b'{' | b'[')),
            in_string: first == b'"',
            escaped: false,
            bare: !matches!(first, b'{' | b'[' | b'"'),
        }
    }

    /// Scans `data` from its start; returns how many bytes of it the value takes when it ends
    /// there, `None` when it goes on past it.
    fn end_in(&mut self, data: &[u8]) -> Option<usize> {
        if self.bare {
            return data.iter().position(|b| {
                matches!(b, b',' | b']' | b'}' | b'[' | b'{' | b'"') || b.is_ascii_whitespace()
            });
        }
        let mut i = 0;
        while i < data.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &data[i..]) {
                    None => return None,
                    Some(at) => {
                        i += at;
                        if data[i] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                            if self.depth == 0 {
                                return Some(i + 1);
                            }
                        }
                    }
                }
            } else {
                match data[i] {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        None
    }
}

impl<R: Read> DocumentPieces<R> {
    /// Reads a JSON array (`array`) or concatenated documents from `reader` (decompressed),
    /// whose first bytes were already read into `head`.
    pub fn new(reader: R, head: Vec<u8>, array: bool, piece_bytes: usize) -> Self {
        let pos = bom_len(&head);
        DocumentPieces {
            reader,
            array,
            buf: head,
            offset: 0,
            pos,
            phase: Phase::Start,
            elements: Vec::new(),
            elements_before: 0,
            piece_bytes: piece_bytes.max(1),
            max_element: crate::source::MAX_RECORD_BYTES,
            at_end: false,
            failed: None,
            done: false,
        }
    }

    /// An element longer than `bytes` ends the pieces with [`PiecesError::TooLong`] rather
    /// than being read whole.
    pub fn max_element(mut self, bytes: usize) -> Self {
        self.max_element = bytes.max(1);
        self
    }

    /// Drops the bytes before the element being read (blanks, separators) when no whole
    /// element is waiting to be given out: blanks between elements take no memory however
    /// many there are.
    fn compact(&mut self) {
        let keep = match self.phase {
            Phase::Element { start, .. } => start,
            _ => self.pos,
        };
        if !self.elements.is_empty() || keep == 0 {
            return;
        }
        self.buf.drain(..keep);
        self.offset += keep as u64;
        self.pos -= keep;
        if let Phase::Element { start, .. } = &mut self.phase {
            *start = 0;
        }
    }

    /// Gives out the whole elements found so far as a piece, keeping the rest of `buf`.
    fn cut(&mut self) -> DocumentsPiece {
        let end = self.elements.last().map_or(0, |e| e.end);
        let rest = self.buf.split_off(end);
        let data = std::mem::replace(&mut self.buf, rest);
        self.offset += end as u64;
        self.pos -= end;
        if let Phase::Element { start, .. } = &mut self.phase {
            *start -= end;
        }
        let elements = std::mem::take(&mut self.elements);
        let piece = DocumentsPiece {
            data,
            elements_before: self.elements_before,
            elements,
        };
        self.elements_before += piece.elements.len() as u64;
        piece
    }

    /// Ends the pieces with `error`, after a last piece of the elements found before it.
    fn fail(&mut self, error: PiecesError) -> Option<Result<DocumentsPiece, PiecesError>> {
        self.done = true;
        if self.elements.is_empty() {
            return Some(Err(error));
        }
        self.failed = Some(error);
        Some(Ok(self.cut()))
    }

    /// Ends the pieces: the text is not what it should be at the current byte.
    fn structure(&mut self, what: &str) -> Option<Result<DocumentsPiece, PiecesError>> {
        self.structure_at(self.pos, what)
    }

    /// Ends the pieces: the text is not what it should be at byte `pos` of `buf`.
    fn structure_at(
        &mut self,
        pos: usize,
        what: &str,
    ) -> Option<Result<DocumentsPiece, PiecesError>> {
        let at = self.offset + pos as u64;
        let kind = if self.array { "JSON array" } else { "JSON" };
        self.fail(PiecesError::Structure(format!(
            "not a {kind} at byte {at}: {what}"
        )))
    }

    /// Whether the whole elements found make a piece.
    fn ready(&self) -> bool {
        self.elements
            .last()
            .is_some_and(|e| e.end >= self.piece_bytes)
    }
}

impl<R: Read> Iterator for DocumentPieces<R> {
    type Item = Result<DocumentsPiece, PiecesError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return self.failed.take().map(Err);
        }
        loop {
            if self.ready() {
                return Some(Ok(self.cut()));
            }
            if self.pos >= self.buf.len() {
                if self.at_end {
                    self.done = true;
                    return match self.phase {
                        Phase::Element { start, .. } => {
                            self.structure_at(start, "the element there is cut short")
                        }
                        Phase::Start | Phase::AfterArray => {
                            (!self.elements.is_empty()).then(|| Ok(self.cut()))
                        }
                        Phase::BeforeElement { .. } | Phase::AfterElement if self.array => {
                            self.structure("the content ends before the array's `]`")
                        }
                        Phase::BeforeElement { .. } | Phase::AfterElement => {
                            (!self.elements.is_empty()).then(|| Ok(self.cut()))
                        }
                    };
                }
                // Whole elements followed by many blanks go out before more is read.
                if !self.elements.is_empty() && self.buf.len() >= self.piece_bytes {
                    return Some(Ok(self.cut()));
                }
                self.compact();
                let want = self
                    .piece_bytes
                    .saturating_sub(self.buf.len())
                    .max(64 * 1024);
                match (&mut self.reader)
                    .take(want as u64)
                    .read_to_end(&mut self.buf)
                {
                    Ok(0) => self.at_end = true,
                    Ok(_) => {}
                    Err(error) => return self.fail(PiecesError::Read(error)),
                }
                continue;
            }
            let b = self.buf[self.pos];
            match self.phase {
                Phase::Element { start, mut scan } => match scan.end_in(&self.buf[self.pos..]) {
                    Some(len) => {
                        self.pos += len;
                        self.elements.push(start..self.pos);
                        self.phase = if self.array {
                            Phase::AfterElement
                        } else {
                            Phase::BeforeElement { first: false }
                        };
                    }
                    None => {
                        self.pos = self.buf.len();
                        self.phase = Phase::Element { start, scan };
                        if self.buf.len() - start > self.max_element {
                            let element = self.elements_before + self.elements.len() as u64 + 1;
                            let limit = self.max_element;
                            return self.fail(PiecesError::TooLong { element, limit });
                        }
                    }
                },
                _ if b.is_ascii_whitespace() => self.pos += 1,
                Phase::Start if self.array => {
                    if b != b'[' {
                        return self.structure("it does not open with `[`");
                    }
                    self.pos += 1;
                    self.phase = Phase::BeforeElement { first: true };
                }
                Phase::Start | Phase::BeforeElement { .. } if !self.array => {
                    if !matches!(b, b'{' | b'[') {
                        return self.structure("expected `{` opening a document");
                    }
                    self.phase = Phase::Element {
                        start: self.pos,
                        scan: ValueScan::new(b),
                    };
                    self.pos += 1;
                }
                Phase::BeforeElement { first: true } if b == b']' => {
                    self.pos += 1;
                    self.phase = Phase::AfterArray;
                }
                Phase::BeforeElement { .. } => {
                    if matches!(b, b',' | b']' | b'}') {
                        return self.structure("expected an element");
                    }
                    self.phase = Phase::Element {
                        start: self.pos,
                        scan: ValueScan::new(b),
                    };
                    self.pos += 1;
                }
                Phase::AfterElement => {
                    match b {
                        b',' => self.phase = Phase::BeforeElement { first: false },
                        b']' => self.phase = Phase::AfterArray,
                        _ => return self.structure("expected `,` or `]` after an element"),
                    }
                    self.pos += 1;
                }
                Phase::AfterArray | Phase::Start => {
                    return self.structure("more after the array's closing `]`");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements of `text` read in pieces of `piece_bytes`, and how it ended.
    fn read(
        text: &[u8],
        array: bool,
        piece_bytes: usize,
    ) -> (Vec<String>, Vec<u64>, Option<String>) {
        let mut elements = Vec::new();
        let mut befores = Vec::new();
        let mut error = None;
        // Read by a reader that gives 7 bytes at a time, to cut elements across reads.
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for piece in DocumentPieces::new(Slow(text), Vec::new(), array, piece_bytes) {
            match piece {
                Ok(p) => {
                    befores.push(p.elements_before);
                    for e in &p.elements {
                        elements.push(String::from_utf8(p.data[e.clone()].to_vec()).unwrap());
                    }
                }
                Err(PiecesError::Structure(s)) => error = Some(s),
                Err(PiecesError::Read(e)) => error = Some(e.to_string()),
                Err(PiecesError::TooLong { element, limit }) => {
                    error = Some(format!("element {element} over {limit}"))
                }
            }
        }
        (elements, befores, error)
    }

    #[test]
    fn array_elements_are_found_whole_whatever_the_strings_hold() {
        let text = br#"  [ {"a": "x]}\"{"}, {"b": [1, {"c": 2}]} ,
            {"d": "\\"}, 42, "s,]", null ]  "#;
        let expected = [
            r#"{"a": "x]}\"{"}"#,
            r#"{"b": [1, {"c": 2}]}"#,
            r#"{"d": "\\"}"#,
            "42",
            r#""s,]""#,
            "null",
        ];
        for piece_bytes in [1, 10, 1 << 20] {
            let (elements, befores, error) = read(text, true, piece_bytes);
            assert_eq!(elements, expected, "pieces of {piece_bytes}");
            assert_eq!(error, None);
            assert_eq!(befores[0], 0);
            if piece_bytes == 1 {
                assert_eq!(befores, [0, 1, 2, 3, 4, 5]);
            }
        }
        assert_eq!(read(b"[]", true, 10), (vec![], vec![], None));
        // A byte-order mark opens the file's first bytes, which are read to tell its format.
        let pieces: Vec<_> =
            DocumentPieces::new(io::empty(), b"\xef\xbb\xbf[{}]".to_vec(), true, 10).collect();
        assert_eq!(pieces.len(), 1);
        let piece = pieces[0].as_ref().unwrap();
        let found: Vec<&[u8]> = piece
            .elements
            .iter()
            .map(|e| &piece.data[e.clone()])
            .collect();
        assert_eq!(found, [b"{}"]);
    }

    #[test]
    fn documents_are_found_one_after_the_other() {
        let text = b"{\n  \"a\": 1\n}\n{\"b\": \"}\"}{\"c\": {}}\n";
        let (elements, _, error) = read(text, false, 5);
        assert_eq!(
            elements,
            ["{\n  \"a\": 1\n}", "{\"b\": \"}\"}", "{\"c\": {}}"]
        );
        assert_eq!(error, None);
    }

    #[test]
    fn damage_comes_after_the_whole_elements_before_it() {
        let (elements, _, error) = read(br#"[{"a":1},{"b":2} {"c":3}]"#, true, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(
            error.as_deref(),
            Some("not a JSON array at byte 17: expected `,` or `]` after an element")
        );
        let (elements, _, error) = read(br#"[{"a":1},{"b":"#, true, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert_eq!(
            error.as_deref(),
            Some("not a JSON array at byte 9: the element there is cut short")
        );
        let (elements, _, error) = read(br#"[{"a":1}"#, true, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(error.unwrap().contains("before the array's `]`"));
        let (_, _, error) = read(br#"[{"a":1}] x"#, true, 1 << 20);
        assert!(error.unwrap().contains("more after the array's closing"));
        let (_, _, error) = read(br#"[,]"#, true, 1 << 20);
        assert!(error.unwrap().contains("expected an element"));
        let (elements, _, error) = read(b"{\"a\":1} garbage", false, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(error.unwrap().contains("expected `{`"));
    }

    #[test]
    fn an_element_longer_than_the_cap_ends_the_pieces_after_the_ones_before() {
        let text = format!("[{{\"a\":1}}, \"{}\", {{\"b\":2}}]", "x".repeat(200_000));
        let pieces: Vec<_> = DocumentPieces::new(text.as_bytes(), Vec::new(), true, 100)
            .max_element(1000)
            .collect();
        assert!(
            matches!(&pieces[..], [Ok(p), Err(PiecesError::TooLong { element: 2, limit: 1000 })] if p.elements.len() == 1)
        );
        // Blanks between elements are dropped as they are read: no element is too long.
        let blanks = format!("[{{}}{}, {{}}]", " ".repeat(200_000));
        let pieces: Vec<_> = DocumentPieces::new(blanks.as_bytes(), Vec::new(), true, 100)
            .max_element(1000)
            .collect();
        let found: usize = pieces
            .iter()
            .map(|p| p.as_ref().unwrap().elements.len())
            .sum();
        assert_eq!(found, 2);
        // No piece holds all the blanks: at most a read's worth.
        assert!(
            pieces
                .iter()
                .all(|p| p.as_ref().unwrap().data.len() <= 100 + 64 * 1024)
        );
    }
}
