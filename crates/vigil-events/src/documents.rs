//! JSON arrays of events (`[{…},{…}]`), concatenated JSON documents (`{…}\n{…}`, often
//! pretty-printed) and objects of records (`{"Records":[{…},{…}]}`, what AWS CloudTrail delivers
//! and Azure Monitor exports) read in pieces of whole elements. Elements are found by their structure
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

/// How the elements of a file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Documents one after the other, each an element.
    Documents,
    /// One array (`[…]`), each of its elements an element.
    Array,
    /// Objects whose only key, `Records` or `records`, holds an array (`{"Records":[…]}`), each
    /// element of the array an element, numbered on across the objects: AWS CloudTrail's
    /// delivery files, Azure Monitor's exports, and those files concatenated.
    Records,
}

/// What an object of records opens with ([`Layout::Records`]), the `r` either case; blanks may
/// come between its tokens.
const RECORDS_OPENING: &[u8] = b"{\"records\":[";

/// Matches [`RECORDS_OPENING`] a byte at a time, across reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RecordsOpening {
    /// Bytes of [`RECORDS_OPENING`] matched so far.
    matched: usize,
}

/// What one byte did to a [`RecordsOpening`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpeningStep {
    /// A blank between tokens, or the next byte of the opening.
    Going,
    /// The opening's `[`: the array's elements follow.
    Opened,
    /// No object of records opens here.
    Mismatch,
}

impl RecordsOpening {
    /// Takes the next byte.
    pub(crate) fn step(&mut self, b: u8) -> OpeningStep {
        // Inside the key's quotes (bytes 2 to 9) no blank belongs.
        let in_key = (2..=9).contains(&self.matched);
        if !in_key && b.is_ascii_whitespace() {
            return OpeningStep::Going;
        }
        let expected = RECORDS_OPENING[self.matched];
        let matches = b == expected || (self.matched == 2 && b == b'R');
        if !matches {
            return OpeningStep::Mismatch;
        }
        self.matched += 1;
        if self.matched == RECORDS_OPENING.len() {
            OpeningStep::Opened
        } else {
            OpeningStep::Going
        }
    }

    /// Whether no byte of the opening has been matched yet (blanks aside).
    fn not_begun(self) -> bool {
        self.matched == 0
    }
}

/// How many bytes of `data` the opening of an object of records takes (up to and with its
/// `[`), when `data` starts with one; blanks may come before it.
pub(crate) fn records_opening_len(data: &[u8]) -> Option<usize> {
    let mut opening = RecordsOpening::default();
    for (i, &b) in data.iter().enumerate() {
        match opening.step(b) {
            OpeningStep::Going => {}
            OpeningStep::Opened => return Some(i + 1),
            OpeningStep::Mismatch => return None,
        }
    }
    None
}

/// Reads the elements of a JSON array, concatenated JSON documents or objects of records from
/// `reader` in pieces of about `piece_bytes` (more when one element is larger). An error comes
/// after the pieces of the whole elements before it, and ends them.
pub struct DocumentPieces<R> {
    reader: R,
    layout: Layout,
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
    /// Before or in the opening of an object of records ([`Layout::Records`]).
    Opening(RecordsOpening),
    /// After the array of an object of records: its `}` closes it.
    Closing,
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
    /// Reads elements laid out as `layout` from `reader` (decompressed), whose first bytes were
    /// already read into `head`.
    pub fn new(reader: R, head: Vec<u8>, layout: Layout, piece_bytes: usize) -> Self {
        let pos = bom_len(&head);
        DocumentPieces {
            reader,
            layout,
            buf: head,
            offset: 0,
            pos,
            phase: match layout {
                Layout::Records => Phase::Opening(RecordsOpening::default()),
                Layout::Documents | Layout::Array => Phase::Start,
            },
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
        let kind = match self.layout {
            Layout::Documents => "JSON",
            Layout::Array => "JSON array",
            Layout::Records => "JSON object of records",
        };
        self.fail(PiecesError::Structure(format!(
            "not a {kind} at byte {at}: {what}"
        )))
    }

    /// Where the array's `]` leads: the end of the content, or the `}` of an object of records.
    fn after_array(&self) -> Phase {
        match self.layout {
            Layout::Records => Phase::Closing,
            Layout::Documents | Layout::Array => Phase::AfterArray,
        }
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
                        Phase::Opening(opening) if opening.not_begun() => {
                            (!self.elements.is_empty()).then(|| Ok(self.cut()))
                        }
                        Phase::Opening(_) | Phase::Closing => {
                            self.structure("the content ends before the object's closing `]}`")
                        }
                        Phase::BeforeElement { .. } | Phase::AfterElement
                            if self.layout != Layout::Documents =>
                        {
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
                        self.phase = match self.layout {
                            Layout::Documents => Phase::BeforeElement { first: false },
                            Layout::Array | Layout::Records => Phase::AfterElement,
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
                Phase::Opening(mut opening) => {
                    self.phase = match opening.step(b) {
                        OpeningStep::Going => Phase::Opening(opening),
                        OpeningStep::Opened => Phase::BeforeElement { first: true },
                        OpeningStep::Mismatch => {
                            return self.structure(
                                "expected `{\"Records\": [` opening an object whose only key, `Records` or `records`, holds the events",
                            );
                        }
                    };
                    self.pos += 1;
                }
                _ if b.is_ascii_whitespace() => self.pos += 1,
                Phase::Start if self.layout == Layout::Array => {
                    if b != b'[' {
                        return self.structure("it does not open with `[`");
                    }
                    self.pos += 1;
                    self.phase = Phase::BeforeElement { first: true };
                }
                Phase::Start | Phase::BeforeElement { .. } if self.layout == Layout::Documents => {
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
                    self.phase = self.after_array();
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
                        b']' => self.phase = self.after_array(),
                        _ => return self.structure("expected `,` or `]` after an element"),
                    }
                    self.pos += 1;
                }
                Phase::Closing => {
                    if b != b'}' {
                        return self.structure(
                            "expected `}` after the array of records: the object holds no other key",
                        );
                    }
                    self.pos += 1;
                    // Another object of records may follow: such files concatenated.
                    self.phase = Phase::Opening(RecordsOpening::default());
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
        layout: Layout,
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
        for piece in DocumentPieces::new(Slow(text), Vec::new(), layout, piece_bytes) {
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
            let (elements, befores, error) = read(text, Layout::Array, piece_bytes);
            assert_eq!(elements, expected, "pieces of {piece_bytes}");
            assert_eq!(error, None);
            assert_eq!(befores[0], 0);
            if piece_bytes == 1 {
                assert_eq!(befores, [0, 1, 2, 3, 4, 5]);
            }
        }
        assert_eq!(read(b"[]", Layout::Array, 10), (vec![], vec![], None));
        // A byte-order mark opens the file's first bytes, which are read to tell its format.
        let pieces: Vec<_> =
            DocumentPieces::new(io::empty(), b"\xef\xbb\xbf[{}]".to_vec(), Layout::Array, 10)
                .collect();
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
        let (elements, _, error) = read(text, Layout::Documents, 5);
        assert_eq!(
            elements,
            ["{\n  \"a\": 1\n}", "{\"b\": \"}\"}", "{\"c\": {}}"]
        );
        assert_eq!(error, None);
    }

    #[test]
    fn objects_of_records_give_their_records_numbered_on_across_objects() {
        // CloudTrail's delivery file, on one line; Azure Monitor's export, pretty-printed.
        let cloudtrail = br#"{"Records":[{"eventName":"A","x":"]}"},{"eventName":"B"}]}"#;
        let azure =
            b"\xef\xbb\xbf {\n  \"records\" : [\n    {\"a\": [1]},\n    {\"b\": 2}\n  ]\n}\n";
        for piece_bytes in [1, 10, 1 << 20] {
            let (elements, befores, error) = read(cloudtrail, Layout::Records, piece_bytes);
            assert_eq!(
                elements,
                [r#"{"eventName":"A","x":"]}"}"#, r#"{"eventName":"B"}"#]
            );
            assert_eq!((befores[0], error), (0, None));
        }
        let pieces: Vec<_> =
            DocumentPieces::new(io::empty(), azure.to_vec(), Layout::Records, 1 << 20).collect();
        let piece = pieces[0].as_ref().unwrap();
        assert_eq!(piece.elements.len(), 2);
        assert_eq!(&piece.data[piece.elements[1].clone()], br#"{"b": 2}"#);
        // Delivery files concatenated (`zcat *.json.gz`): the records of all, numbered on.
        let (elements, befores, error) = read(
            b"{\"Records\":[{\"a\":1}]}\n{\"Records\":[]}{\"Records\":[{\"b\":2}]}\n",
            Layout::Records,
            1,
        );
        assert_eq!(elements, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!((befores, error), (vec![0, 1], None));
        assert_eq!(
            read(b"{\"Records\": []}", Layout::Records, 10),
            (vec![], vec![], None)
        );
    }

    #[test]
    fn an_object_of_records_that_is_not_one_ends_after_the_records_before() {
        let (elements, _, error) = read(br#"{"Records":[{"a":1}],"b":2}"#, Layout::Records, 1);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert_eq!(
            error.as_deref(),
            Some(
                "not a JSON object of records at byte 20: expected `}` after the array of records: the object holds no other key"
            )
        );
        let (elements, _, error) = read(br#"{"Records":[{"a":1}]"#, Layout::Records, 1);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(
            error
                .unwrap()
                .contains("ends before the object's closing `]}`")
        );
        let (elements, _, error) = read(br#"{"Records":[{"a":1}]}{"b":2}"#, Layout::Records, 1);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(
            error
                .unwrap()
                .contains("at byte 23: expected `{\"Records\": [`")
        );
        let (_, _, error) = read(br#"{"Re cords":[]}"#, Layout::Records, 1);
        assert!(error.unwrap().contains("at byte 4"));
        assert_eq!(records_opening_len(b" { \"Records\" :\n[{"), Some(16));
        assert_eq!(records_opening_len(b"{\"RECORDS\":["), None);
        assert_eq!(records_opening_len(b"{\"Records\":"), None);
    }

    #[test]
    fn damage_comes_after_the_whole_elements_before_it() {
        let (elements, _, error) = read(br#"[{"a":1},{"b":2} {"c":3}]"#, Layout::Array, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(
            error.as_deref(),
            Some("not a JSON array at byte 17: expected `,` or `]` after an element")
        );
        let (elements, _, error) = read(br#"[{"a":1},{"b":"#, Layout::Array, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert_eq!(
            error.as_deref(),
            Some("not a JSON array at byte 9: the element there is cut short")
        );
        let (elements, _, error) = read(br#"[{"a":1}"#, Layout::Array, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(error.unwrap().contains("before the array's `]`"));
        let (_, _, error) = read(br#"[{"a":1}] x"#, Layout::Array, 1 << 20);
        assert!(error.unwrap().contains("more after the array's closing"));
        let (_, _, error) = read(br#"[,]"#, Layout::Array, 1 << 20);
        assert!(error.unwrap().contains("expected an element"));
        let (elements, _, error) = read(b"{\"a\":1} garbage", Layout::Documents, 1 << 20);
        assert_eq!(elements, [r#"{"a":1}"#]);
        assert!(error.unwrap().contains("expected `{`"));
    }

    #[test]
    fn an_element_longer_than_the_cap_ends_the_pieces_after_the_ones_before() {
        let text = format!("[{{\"a\":1}}, \"{}\", {{\"b\":2}}]", "x".repeat(200_000));
        let pieces: Vec<_> = DocumentPieces::new(text.as_bytes(), Vec::new(), Layout::Array, 100)
            .max_element(1000)
            .collect();
        assert!(
            matches!(&pieces[..], [Ok(p), Err(PiecesError::TooLong { element: 2, limit: 1000 })] if p.elements.len() == 1)
        );
        // Blanks between elements are dropped as they are read: no element is too long.
        let blanks = format!("[{{}}{}, {{}}]", " ".repeat(200_000));
        let pieces: Vec<_> = DocumentPieces::new(blanks.as_bytes(), Vec::new(), Layout::Array, 100)
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
