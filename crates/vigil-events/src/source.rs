//! Log files to records: walk files and folders, detect each file's format from its content,
//! and decode it into [`Record`]s the detection engine can run on.
//!
//! Formats, detected by content and never by file name:
//! - EVTX (magic `ElfFile\0`), decoded natively with the `evtx` crate into the JSON shape
//!   `evtx_dump -o jsonl` writes (`Event.System…`, `Event.EventData…`, XML attributes under
//!   `#attributes`); the record id is the EventRecordID;
//! - JSON lines (first non-blank byte `{`); the record id is the line number (1-based);
//! - a JSON array of objects (`[` then `{`, or `[]`, blanks aside); the record id is the index + 1;
//! - an object whose only key, `Records` or `records`, holds an array of objects (AWS
//!   CloudTrail's delivery files, Azure Monitor's exports; such objects concatenated too); the
//!   record id is the index + 1 across the objects;
//! - pretty-printed or concatenated JSON objects (first non-blank byte `{` but the first line
//!   is not a whole object); the record id is the index + 1;
//! - any of these compressed with gzip (magic `1f 8b`): the stream is decompressed, then
//!   detected again;
//! - text in UTF-16 with a byte-order mark (Windows PowerShell's `Out-File` and `>`): read as
//!   the UTF-8 it spells, then detected;
//! - other text ([`Opened::Unknown`]) is a plain-text log when its first line is one, or
//!   two of the next few ([`LinesFile::into_text_log`], [`LineFormat::of`]): syslog (RFC
//!   5424 or 3164), a web server access log (common or combined, IIS's W3C) or error log
//!   (Apache, nginx), a Linux audit log (auditd's audit.log); any other text only when asked ([`LinesFile::into_plain_text`]); the
//!   record id is the line number.
//!
//! [`open_file`] reads a file in pieces: JSON lines in whole lines, JSON arrays and documents in
//! whole elements, EVTX in whole chunks (gzip-compressed or piped EVTX through a decompressed
//! copy in a temporary file, as the parser seeks); [`open`] reads one whole. Either is decoded
//! record by record: a corrupt record yields a [`DecodeError`] and decoding goes on with the
//! next one; a file that cannot be read or recognised yields one error and no records (a file
//! damaged mid-way: the records before the damage, then the error). Nothing panics on bad input.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Cursor, Read, Seek, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxParser, IntoIterChunks, ParserSettings};

use crate::batch::{LineFormat, Lines, bom_len, text_log_line};
pub use crate::documents::DocumentsPiece;
use crate::documents::{DocumentPieces, Layout, PiecesError, records_opening_len};
use crate::json::{JsonError, JsonEvent, first_line};
use crate::time::LocalZone;

/// One decoded event with where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    /// The file the event was read from.
    pub file: Arc<Path>,
    /// The EventRecordID for EVTX, the line number for JSON lines, the index + 1 for arrays.
    pub record_id: u64,
    /// Milliseconds since the Unix epoch, when the event carries a timestamp.
    pub timestamp: Option<i64>,
    /// The event, parsed once (sonic-rs for EVTX records and JSON lines).
    pub event: JsonEvent,
}

/// A file format Vigil can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Windows XML event log (binary).
    Evtx,
    /// One JSON object per line.
    JsonLines,
    /// One JSON array of objects.
    JsonArray,
    /// One or more JSON objects spread over lines (pretty-printed, or concatenated).
    JsonDocuments,
    /// JSON objects whose only key, `Records` or `records`, holds an array of objects, the
    /// events: AWS CloudTrail's delivery files, Azure Monitor's exports.
    JsonRecords,
}

impl Format {
    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::JsonLines => "jsonl",
            Format::JsonArray => "json-array",
            Format::JsonDocuments => "json",
            Format::JsonRecords => "json-records",
        }
    }

    /// How the elements of a file in this format are laid out, for formats read by
    /// [`DocumentPieces`].
    fn layout(self) -> Layout {
        match self {
            Format::JsonArray => Layout::Array,
            Format::JsonRecords => Layout::Records,
            Format::Evtx | Format::JsonLines | Format::JsonDocuments => Layout::Documents,
        }
    }
}

/// Why a file or a record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A path named on the command line, or a file found under it, could not be read.
    #[error("cannot read {}: {error}; check that the path exists and is readable", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error (in the message, not a `source`, so it is printed once).
        error: std::io::Error,
    },
    /// A folder inside a folder given could not be listed: its files were skipped, the rest
    /// read.
    #[error(
        "cannot read the folder {}: {error}; its files were skipped (give the user running vigil read access to it to include them)",
        path.display()
    )]
    FolderSkipped {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file's content is in no format Vigil reads, compressed or not.
    #[error(
        "{}: not an EVTX, JSON, syslog, Linux audit or web server log file (gzip or not); give --text to read any other text line by line, or remove it from the paths",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A file named `.gz` whose content is not gzip-compressed, nor in a format Vigil reads
    /// as it is: a log renamed, or a download cut or saved as text.
    #[error(
        "{}: named .gz but not gzip-compressed (it does not start with gzip's bytes 1f 8b), nor an EVTX, JSON, syslog, Linux audit or web server log file; check that it was copied whole and unchanged, or give --text to read it as text line by line",
        path.display()
    )]
    NotGzip {
        /// The file.
        path: PathBuf,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{}: corrupt gzip stream: {error}; what it holds before the damage was read, the rest skipped", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decompression error.
        error: std::io::Error,
    },
    /// An EVTX file that is compressed or piped in could not be copied to a temporary file to
    /// be read a chunk at a time.
    #[error(
        "{}: cannot copy it to a temporary file to read its EVTX chunks: {error}; set TMPDIR to a folder with room for the decompressed log",
        path.display()
    )]
    Spill {
        /// The file.
        path: PathBuf,
        /// The error writing the copy.
        error: std::io::Error,
    },
    /// The EVTX file header is unreadable.
    #[error("{}: invalid EVTX file: {reason}; the file was skipped", path.display())]
    Evtx {
        /// The file.
        path: PathBuf,
        /// What the EVTX parser said.
        reason: String,
    },
    /// An EVTX file ends part-way through a chunk: it was cut short (an interrupted copy or
    /// download). The records of that chunk before the cut are read.
    #[error(
        "{}: the file ends {}: it was cut short, as by an interrupted copy; {}",
        path.display(),
        match bytes {
            0 => format!(
                "{}, but its header counts {in_use} in use",
                match chunk {
                    0 => "before its first EVTX chunk".to_owned(),
                    1 => "after its first EVTX chunk".to_owned(),
                    n => format!("after {n} EVTX chunks"),
                }
            ),
            _ => format!(
                "after {bytes} of the {EVTX_CHUNK_BYTES} bytes of EVTX chunk {chunk} (chunks counted from 0; its header counts {in_use} in use)"
            ),
        },
        match records_lost {
            true => "the records after the cut are missing: copy the log again from its source",
            false => "its headers say no record was after the cut, so none is missing",
        }
    )]
    CutShort {
        /// The file.
        path: PathBuf,
        /// The chunk cut short (numbered from 0, as in chunk errors).
        chunk: u64,
        /// The bytes of it the file holds (0: cut where a chunk ends).
        bytes: u64,
        /// The chunks in use, by the file's header.
        in_use: u64,
        /// Whether records were after the cut, by the file's and the chunk's headers.
        records_lost: bool,
    },
    /// An EVTX chunk does not match its CRC32 checksums: it changed after Windows wrote it. Its
    /// records are read all the same.
    #[error(
        "{}: EVTX chunk {chunk} does not match its checksum: it changed after Windows wrote it (damage, or records edited); its records were read, but may not be as logged",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The chunk number.
        chunk: u64,
    },
    /// The EVTX file header does not match its CRC32 checksum: it changed after Windows wrote
    /// it. The chunks are found and checked by their own headers all the same.
    #[error(
        "{}: the EVTX file header does not match its checksum, or its signature is gone: it changed after Windows wrote it (damage, or edited); its chunks were read by their own headers and checksums, but what the header says of the log (chunks in use, whether it was closed) may be wrong",
        path.display()
    )]
    HeaderChecksum {
        /// The file.
        path: PathBuf,
    },
    /// One EVTX chunk (64 KiB of records) is unreadable.
    #[error("{}: EVTX chunk {chunk} unreadable: {reason}; its records were skipped", path.display())]
    Chunk {
        /// The file.
        path: PathBuf,
        /// The chunk number.
        chunk: u64,
        /// What the EVTX parser said.
        reason: String,
    },
    /// One record is corrupt.
    #[error("{}: {}: {reason}; the record was skipped", path.display(), record_label(*record))]
    Record {
        /// The file.
        path: PathBuf,
        /// The record id (line number for JSON lines; for EVTX the record number the parser
        /// gives, 0 when even that is unreadable).
        record: u64,
        /// Why.
        reason: String,
    },
    /// An element of a JSON array (or a JSON document) is longer than
    /// [`MAX_RECORD_BYTES`]: where it ends cannot be found without holding it whole.
    #[error(
        "{}: element {element} is longer than {limit}, the most Vigil reads as one event; the rest of the file was skipped: check that the file is a log export, or split it into smaller events",
        path.display()
    )]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The element's number (1-based).
        element: u64,
        /// The most one may take, for the message.
        limit: String,
    },
    /// A JSON array (or pretty-printed JSON) file is not valid JSON from some point on.
    #[error("{}: invalid JSON: {reason}; the rest of the file was skipped", path.display())]
    JsonArray {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        reason: String,
    },
}

impl DecodeError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DecodeError::Io { path, .. }
            | DecodeError::FolderSkipped { path, .. }
            | DecodeError::UnknownFormat { path }
            | DecodeError::NotGzip { path }
            | DecodeError::Gzip { path, .. }
            | DecodeError::Spill { path, .. }
            | DecodeError::Evtx { path, .. }
            | DecodeError::CutShort { path, .. }
            | DecodeError::Checksum { path, .. }
            | DecodeError::HeaderChecksum { path }
            | DecodeError::Chunk { path, .. }
            | DecodeError::Record { path, .. }
            | DecodeError::JsonArray { path, .. }
            | DecodeError::TooLong { path, .. } => path,
        }
    }

    /// The message without the file (and record) it opens with, for a report whose lines
    /// name them already (`vigil ingest`'s `FILE record N: reason`).
    pub fn reason(&self) -> String {
        let text = self.to_string();
        let mut rest = text
            .strip_prefix(&format!("{}: ", self.path().display()))
            .unwrap_or(&text);
        if let DecodeError::Record { record, .. } = self {
            let label = format!("{}: ", record_label(*record));
            rest = rest.strip_prefix(&label).unwrap_or(rest);
        }
        rest.to_owned()
    }
}

/// "record N", or "a record" when its number could not be read (0: numbers start at 1).
fn record_label(record: u64) -> String {
    if record == 0 {
        "a record".to_owned()
    } else {
        format!("record {record}")
    }
}

/// A file to decode, found by [`collect_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The file.
    pub path: PathBuf,
    /// Named on the command line rather than found in a folder: an unrecognised format is then
    /// an error; in a folder it is skipped (READMEs, scripts) unless named like a log
    /// ([`InputFile::must_decode`]).
    pub explicit: bool,
}

/// File name endings that say "this is a log": in a folder, a file named so whose content is
/// none Vigil reads is a damaged log (an interrupted copy, a failed export) that a responder
/// must hear about, not a README to pass over.
const LOG_EXTENSIONS: &[&str] = &["evtx", "jsonl", "ndjson", "json", "gz"];

impl InputFile {
    /// Whether content in no format Vigil reads is an error to report rather than a file to
    /// skip: named on the command line, or named like a log.
    pub fn must_decode(&self) -> bool {
        self.explicit
            || self
                .path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| LOG_EXTENSIONS.iter().any(|l| e.eq_ignore_ascii_case(l)))
    }
}

impl InputFile {
    /// Whether the file is named like a text log (`app.log`, `app.log.1`, `app.log.2.gz`): one
    /// found in a folder in no format Vigil reads is still skipped (a responder's collection
    /// holds many: `setupapi.dev.log`, `CBS.log`), but named to the user, who may want it read
    /// with `--text` — unlike a README or a script passed over.
    pub fn named_like_text_log(&self) -> bool {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_ascii_lowercase)
            .is_some_and(|n| n.ends_with(".log") || n.contains(".log."))
    }
}

/// Names of the files that come with a collection to describe it (`README.md`, `LICENSE`), by
/// how they start, and endings of documents, scripts and settings: none is a log, so `--text`
/// does not store them line by line when it meets them in a folder.
const DOCUMENT_NAMES: &[&str] = &[
    "readme",
    "license",
    "licence",
    "copying",
    "notice",
    "changelog",
    "authors",
    "contributing",
];
const DOCUMENT_EXTENSIONS: &[&str] = &[
    "md", "rst", "adoc", "html", "htm", "pdf", "yml", "yaml", "toml", "ini", "cfg", "py", "sh",
    "ps1", "psm1", "bat", "cmd", "js", "rs", "go", "c", "h",
];

impl InputFile {
    /// Whether `--text` may read the file as plain lines: named on the command line, or found
    /// in a folder and not named like a document, a script or settings (a collection's README,
    /// LICENSE or collection script is no log).
    pub fn may_be_plain_text(&self) -> bool {
        if self.explicit {
            return true;
        }
        let Some(name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return true;
        };
        let name = name.to_ascii_lowercase();
        let documented = DOCUMENT_NAMES.iter().any(|d| name.starts_with(d));
        let extension = name.rsplit_once('.').map(|(_, e)| e);
        let document = extension.is_some_and(|e| DOCUMENT_EXTENSIONS.contains(&e));
        !documented && !document
    }
}

/// The path that stands for standard input (`zcat x.gz | vigil hunt -r rules -`).
pub const STDIN_PATH: &str = "-";

impl InputFile {
    /// Whether this is standard input rather than a file.
    pub fn is_stdin(&self) -> bool {
        is_stdin(&self.path)
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN_PATH
}

/// The files [`collect_files`] found, and the folders under the paths given that could not be
/// read, each skipped with its files.
#[derive(Debug, Default)]
pub struct Collected {
    /// The files to decode, in order.
    pub files: Vec<InputFile>,
    /// A [`DecodeError::FolderSkipped`] (or, for an entry whose kind could not be read, a
    /// [`DecodeError::Io`]) for each folder or entry left out.
    pub skipped: Vec<DecodeError>,
    /// Files found more than once — by overlapping paths (`case/HOST-A case/HOST-A/Logs`), or
    /// under another name (a link) — and left out after the first: read twice, each match
    /// would be reported twice and each event stored twice.
    pub given_twice: u64,
}

/// Expands files and folders (recursively, sorted by path, symbolic links to folders not
/// followed) into the files to decode, each once, under the first name it was found by
/// ([`Collected::given_twice`]); `-` is standard input. Fails on the first path given
/// that does not exist or cannot be read: a folder that cannot be listed, a file that cannot
/// be opened ([`check_readable`]). A folder found inside one that cannot be listed (an
/// ACL-protected folder of a triage collection) is skipped and named in
/// [`Collected::skipped`], and the rest is still walked; a file found inside one that cannot be
/// read is the reader's error, reported and skipped as it comes.
pub fn collect_files(paths: &[PathBuf]) -> Result<Collected, DecodeError> {
    let mut out = Collected::default();
    for path in paths {
        if is_stdin(path) {
            out.files.push(InputFile {
                path: path.clone(),
                explicit: true,
            });
            continue;
        }
        let meta = fs::metadata(path).map_err(|error| DecodeError::Io {
            path: path.clone(),
            error,
        })?;
        if meta.is_dir() {
            let entries = list_dir(path).map_err(|error| DecodeError::Io {
                path: path.clone(),
                error,
            })?;
            walk(entries, &mut out, &mut list_dir);
        } else {
            check_readable(path, &meta).map_err(|error| DecodeError::Io {
                path: path.clone(),
                error,
            })?;
            out.files.push(InputFile {
                path: path.clone(),
                explicit: true,
            });
        }
    }
    out.given_twice = keep_first_of_each(&mut out.files);
    keep_first_of_each_skipped(&mut out.skipped);
    Ok(out)
}

/// Leaves out the folders and entries skipped that were skipped already (a folder that cannot
/// be listed, a link to no file, reached by overlapping paths): each is reported and counted
/// once. Told apart by the entry itself (a link's own inode), else by its path.
fn keep_first_of_each_skipped(skipped: &mut Vec<DecodeError>) {
    let mut seen = std::collections::HashSet::new();
    skipped.retain(|e| {
        let (DecodeError::FolderSkipped { path, .. } | DecodeError::Io { path, .. }) = e else {
            return true;
        };
        let identity = match fs::symlink_metadata(path) {
            Ok(meta) => file_identity(path, &meta),
            Err(_) => (0, 0, path.clone()),
        };
        seen.insert(identity)
    });
}

/// Leaves out the files that are a file already in `files` (the same device and inode: the
/// same path twice, or a link to it), keeping the first — named on the command line if any of
/// its names was ([`InputFile::explicit`]); returns how many were left out. Standard input,
/// FIFOs and devices are kept as they are: each is read as it comes.
fn keep_first_of_each(files: &mut Vec<InputFile>) -> u64 {
    let mut kept_at = std::collections::HashMap::new();
    let mut kept: Vec<InputFile> = Vec::with_capacity(files.len());
    let mut left_out = 0;
    for file in files.drain(..) {
        let identity = match fs::metadata(&file.path) {
            Ok(meta) if meta.is_file() && !file.is_stdin() => file_identity(&file.path, &meta),
            // A file that cannot be read now is reported when it is read.
            _ => {
                kept.push(file);
                continue;
            }
        };
        match kept_at.entry(identity) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let first: &mut InputFile = &mut kept[*first.get()];
                first.explicit |= file.explicit;
                left_out += 1;
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(file);
            }
        }
    }
    *files = kept;
    left_out
}

/// What tells one file from another, whatever names it has.
#[cfg(unix)]
fn file_identity(_path: &Path, meta: &fs::Metadata) -> (u64, u64, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), PathBuf::new())
}

/// What tells one file from another, whatever names it has: its canonical path, where no
/// inode is at hand.
#[cfg(not(unix))]
fn file_identity(path: &Path, _meta: &fs::Metadata) -> (u64, u64, PathBuf) {
    (
        0,
        0,
        fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
    )
}

/// Whether a file named on the command line can be read, found before any is: one that cannot
/// (no permission, a socket) is a mistake in the command, as a missing path is, where a file
/// found in a folder is one of many. A FIFO or a character device (`<(zcat …)`, `/dev/stdin`)
/// is not opened to check it: the open would wait for a writer, and a process substitution
/// can be read once; it is opened when read.
fn check_readable(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_socket() {
            // Opening one fails with "No such device or address", which says nothing useful.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a socket, not a file",
            ));
        }
        if kind.is_fifo() || kind.is_char_device() {
            return Ok(());
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    fs::File::open(path).map(drop)
}

/// What a folder entry is, as far as walking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Folder,
    File,
    /// Anything else (a symbolic link to a folder, a socket, a device): left out.
    Other,
}

/// A folder's entries sorted by name, each with its kind (or the error reading it).
type Listing = Vec<(PathBuf, io::Result<EntryKind>)>;

fn list_dir(dir: &Path) -> io::Result<Listing> {
    let mut entries = fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries
        .into_iter()
        .map(|entry| {
            let path = entry.path();
            let kind = match entry.file_type() {
                Err(error) => Err(error),
                Ok(kind) if kind.is_dir() => Ok(EntryKind::Folder),
                Ok(kind) if kind.is_file() => Ok(EntryKind::File),
                Ok(kind) if kind.is_symlink() => link_kind(&path),
                Ok(_) => Ok(EntryKind::Other),
            };
            (path, kind)
        })
        .collect())
}

/// What a symbolic link found in a folder points at: a file is read; a folder (not followed)
/// or anything else is left out; a link whose target does not exist or cannot be reached (a
/// link copied without its file) is an error, as a file found that cannot be read is.
fn link_kind(link: &Path) -> io::Result<EntryKind> {
    match fs::metadata(link) {
        Ok(target) if target.is_file() => Ok(EntryKind::File),
        Ok(_) => Ok(EntryKind::Other),
        Err(error) => {
            let target = fs::read_link(link)
                .map_or_else(|_| "a file".to_owned(), |t| t.display().to_string());
            let why = match error.kind() {
                io::ErrorKind::NotFound => {
                    "which does not exist (a link copied without its file)".to_owned()
                }
                _ => format!("which cannot be read: {error}"),
            };
            Err(io::Error::new(
                error.kind(),
                format!("a symbolic link to {target}, {why}"),
            ))
        }
    }
}

/// Walks the entries of a folder already listed, listing the folders inside with `list`; one
/// that cannot be listed is recorded in `out.skipped` and the walk goes on.
fn walk(entries: Listing, out: &mut Collected, list: &mut dyn FnMut(&Path) -> io::Result<Listing>) {
    for (path, kind) in entries {
        match kind {
            Ok(EntryKind::Folder) => match list(&path) {
                Ok(inner) => walk(inner, out, list),
                Err(error) => out.skipped.push(DecodeError::FolderSkipped { path, error }),
            },
            Ok(EntryKind::File) => out.files.push(InputFile {
                path,
                explicit: false,
            }),
            Ok(EntryKind::Other) => {}
            Err(error) => out.skipped.push(DecodeError::Io { path, error }),
        }
    }
}

const EVTX_MAGIC: &[u8] = b"ElfFile\0";
const EVTX_CHUNK_MAGIC: &[u8] = b"ElfChnk\0";

/// Whether `data` is an EVTX file whose file header is gone (overwritten, zeroed, its magic
/// damaged) while its first chunk is where the header's end puts it: the chunks are read all
/// the same, behind a header made for them ([`made_header`]).
fn header_lost(data: &[u8]) -> bool {
    !data.starts_with(EVTX_MAGIC)
        && data
            .get(EVTX_HEADER_BYTES as usize..)
            .is_some_and(|rest| rest.starts_with(EVTX_CHUNK_MAGIC))
}

/// A file header for the chunks of a file of `size` bytes whose own header is lost: every
/// chunk slot counted, none left open, no checksum (MS-EVEN6 2.2.1's layout).
fn made_header(size: u64) -> Vec<u8> {
    let chunks = size.saturating_sub(EVTX_HEADER_BYTES) / EVTX_CHUNK_BYTES as u64;
    let mut header = vec![0u8; EVTX_HEADER_BYTES as usize];
    header[..8].copy_from_slice(EVTX_MAGIC);
    header[16..24].copy_from_slice(&chunks.saturating_sub(1).to_le_bytes());
    header[32..36].copy_from_slice(&128u32.to_le_bytes());
    header[36..38].copy_from_slice(&1u16.to_le_bytes());
    header[38..40].copy_from_slice(&3u16.to_le_bytes());
    header[40..42].copy_from_slice(&(EVTX_HEADER_BYTES as u16).to_le_bytes());
    let count = u16::try_from(chunks).unwrap_or(u16::MAX);
    header[42..44].copy_from_slice(&count.to_le_bytes());
    // NO_CRC32: the header carries no checksum to fail.
    header[120..124].copy_from_slice(&4u32.to_le_bytes());
    header
}

/// A reader whose first bytes are `head` in place of its own (a made file header).
struct HeadReplaced<R> {
    head: Vec<u8>,
    inner: R,
    position: u64,
}

impl<R: Read + io::Seek> Read for HeadReplaced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match usize::try_from(self.position)
            .ok()
            .and_then(|at| self.head.get(at..))
        {
            Some(head) if !head.is_empty() => {
                let n = head.len().min(buf.len());
                buf[..n].copy_from_slice(&head[..n]);
                self.inner.seek(io::SeekFrom::Current(n as i64))?;
                n
            }
            _ => self.inner.read(buf)?,
        };
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for HeadReplaced<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Detects the format of (decompressed) content; `None` when it is none Vigil decodes.
pub fn detect(data: &[u8]) -> Option<Format> {
    if data.starts_with(EVTX_MAGIC) || header_lost(data) {
        return Some(Format::Evtx);
    }
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    match data.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') if is_object_of_records(data) => Some(Format::JsonRecords),
        Some(b'{') => {
            let start = data
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(0);
            let line = &data[start..];
            let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
            if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
                || next_lines_are_json_objects(data)
            {
                Some(Format::JsonLines)
            } else {
                Some(Format::JsonDocuments)
            }
        }
        // An array of events opens with `[{` (or is `[]`); `[Sun Dec 04 …` is an Apache
        // error log, `[2024-…` many an application's, which are no JSON.
        Some(b'[') => {
            let mut rest = data.iter().filter(|b| !b.is_ascii_whitespace()).skip(1);
            if matches!(rest.next(), Some(b'{' | b']')) {
                Some(Format::JsonArray)
            } else {
                next_lines_are_json_objects(data).then_some(Format::JsonLines)
            }
        }
        // JSON lines whose first line is damaged (an export cut mid-event, a stray line)
        // are JSON lines all the same: that line is rejected, the others read.
        _ => next_lines_are_json_objects(data).then_some(Format::JsonLines),
    }
}

/// Whether `data` opens an object whose only key, `Records` or `records`, holds an array of
/// objects (or none): CloudTrail's `{"Records":[{…},…]}`. When the first object ends within
/// `data` it must hold no other key (it is then one event, as any object); when it goes on
/// past, or is damaged, its opening says.
fn is_object_of_records(data: &[u8]) -> bool {
    let Some(opened) = records_opening_len(data) else {
        return false;
    };
    if !matches!(
        data[opened..].iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b']')
    ) {
        return false;
    }
    let mut objects = serde_json::Deserializer::from_slice(data)
        .into_iter::<std::collections::HashMap<String, serde::de::IgnoredAny>>();
    match objects.next() {
        Some(Ok(keys)) => keys.len() == 1,
        _ => true,
    }
}

/// Whether most of the whole lines after the first (up to eight, blank ones aside) are each a
/// JSON object written from the line's start — JSON lines, though the first is not one.
/// Pretty-printed JSON indents what is inside its objects, and no text log line is an object.
fn next_lines_are_json_objects(data: &[u8]) -> bool {
    let Some(first_end) = memchr::memchr(b'\n', data) else {
        return false;
    };
    let mut rest = &data[first_end + 1..];
    let (mut lines, mut objects) = (0, 0);
    while lines < 8 {
        // Only whole lines: the sniffed bytes may end inside one.
        let Some(end) = memchr::memchr(b'\n', rest) else {
            break;
        };
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        rest = &rest[end + 1..];
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        if line.starts_with(b"{") && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
            objects += 1;
        }
    }
    objects > 0 && objects * 2 > lines
}

/// Reads a file whole, decompressing gzip, and returns its format and content; `Ok(None)` when
/// the format is not recognised.
pub fn read_file(path: &Path) -> Result<Option<(Format, Vec<u8>)>, DecodeError> {
    let data = read_decompressed(path)?;
    Ok(detect(&data).map(|f| (f, data)))
}

/// Reads a file whole, decompressing it when it is gzip.
fn read_decompressed(path: &Path) -> Result<Vec<u8>, DecodeError> {
    let data = fs::read(path).map_err(|error| DecodeError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    if !data.starts_with(GZIP_MAGIC)
        && !data.starts_with(UTF16LE_BOM)
        && !data.starts_with(UTF16BE_BOM)
    {
        return Ok(data);
    }
    let gzip = data.starts_with(GZIP_MAGIC);
    let content: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(Cursor::new(data)))
    } else {
        Box::new(Cursor::new(data))
    };
    let mut out = Vec::new();
    utf8(content)
        .read_to_end(&mut out)
        .map_err(|error| read_error(path, gzip, error))?;
    Ok(out)
}

/// A JSON-lines file is read in pieces of about this many bytes, each cut after a newline: a
/// hunt over a 20 GB export then holds a few pieces in memory rather than the file, and every
/// core can take a piece of one large file.
pub const LINES_PIECE_BYTES: usize = 32 * 1024 * 1024;

/// How much of a file is read to recognise its format before deciding how to read the rest.
const SNIFF_BYTES: usize = 1024 * 1024;

/// A file opened for decoding by [`open_file`].
pub enum Opened {
    /// JSON lines, to be read in pieces.
    Lines(LinesFile),
    /// EVTX, to be read in pieces of chunks.
    Evtx(EvtxFile),
    /// A JSON array or concatenated JSON documents, to be read in pieces of whole elements.
    Documents(DocumentsFile),
    /// None of the formats Vigil reads: its content as text lines from the start, for a caller
    /// that reads other text (plain syslog) without opening it again, which standard input
    /// could not be.
    Unknown(LinesFile),
}

/// Opens a file, decompressing gzip as it reads, and recognises its format from its first
/// bytes; then reads it piece by piece: JSON lines in whole lines ([`LinesPieces`]), EVTX in
/// whole chunks ([`EvtxFile`]), JSON arrays and documents in whole elements ([`DocumentsFile`]).
pub fn open_file(path: &Path, piece_bytes: usize) -> Result<Opened, DecodeError> {
    open_file_capped(path, piece_bytes, MAX_RECORD_BYTES)
}

/// [`open_file`], a line or element longer than `max_record` bytes skipped rather than the
/// [`MAX_RECORD_BYTES`] it allows (tests set a small one).
pub fn open_file_capped(
    path: &Path,
    piece_bytes: usize,
    max_record: usize,
) -> Result<Opened, DecodeError> {
    let FileReader {
        content: mut reader,
        gzip,
        disk_read,
    } = open_reader(path)?;
    let read_error = |error| read_error(path, gzip, error);
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    // A small file damaged early fails here; its JSON lines before the damage still count.
    let sniff_error = (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .err();
    // A first line longer than the sniffed bytes cannot be recognised as a line: read whole.
    let whole_line = prefix.len() < SNIFF_BYTES || memchr::memchr(b'\n', &prefix).is_some();
    // An empty file (a log rotated away, an export with nothing in it) holds no events: it is
    // read as JSON lines, which gives none, rather than reported as of an unknown format.
    let empty = sniff_error.is_none()
        && prefix.len() < SNIFF_BYTES
        && prefix.iter().all(u8::is_ascii_whitespace);
    if empty && named_evtx(path) {
        return Err(empty_evtx(path, prefix.len()));
    }
    let format = detect(&prefix).or(empty.then_some(Format::JsonLines));
    match (format, sniff_error) {
        (Some(Format::JsonLines), error) if whole_line => {
            let mut pieces = LinesPieces::after(reader, prefix, piece_bytes).max_line(max_record);
            pieces.deferred = error;
            Ok(Opened::Lines(LinesFile {
                pieces,
                path: Arc::from(path),
                gzip,
                disk_read,
            }))
        }
        (Some(Format::Evtx), sniffed) => {
            // The parser seeks, a chunk at a time: in the file itself, or, for gzip and standard
            // input, which cannot be sought in, in a decompressed copy on disk (not in memory,
            // whatever the log's size). A copy cut short by damage still gives its chunks
            // before the damage, then the error — damage within the first bytes read too.
            let (data, compressed, damage): (Box<dyn EvtxData>, _, _) =
                if gzip || is_stdin(path) || sniffed.is_some() {
                    let rest: &mut dyn Read = if sniffed.is_some() {
                        &mut io::empty()
                    } else {
                        &mut reader
                    };
                    let (copy, damage) = spill(path, prefix, rest)?;
                    let damage = sniffed.or(damage).map(read_error);
                    (
                        Box::new(copy),
                        Some(disk_read.load(Ordering::Relaxed)),
                        damage,
                    )
                } else {
                    let file = fs::File::open(path).map_err(|error| DecodeError::Io {
                        path: path.to_path_buf(),
                        error,
                    })?;
                    (Box::new(file), None, None)
                };
            match EvtxFile::new(path, data, piece_bytes, compressed) {
                Ok(mut evtx) => {
                    // A copy cut short by damage ends part-way through a chunk: the damage is
                    // the news.
                    if damage.is_some() {
                        evtx.failed = damage;
                    }
                    Ok(Opened::Evtx(evtx))
                }
                // Cut short before its first chunk: the damage is the news.
                Err(unreadable) => Err(damage.unwrap_or(unreadable)),
            }
        }
        // Text (a syslog file) damaged within its first bytes gives its lines before the
        // damage, then the error, as JSON lines do; with no whole line of text before it, the
        // damage is all there is to say.
        (None, Some(error)) if !whole_text_line(&prefix) => Err(read_error(error)),
        (None, error) => {
            let mut pieces = LinesPieces::after(reader, prefix, piece_bytes).max_line(max_record);
            pieces.deferred = error;
            Ok(Opened::Unknown(LinesFile {
                pieces,
                path: Arc::from(path),
                gzip,
                disk_read,
            }))
        }
        (_, Some(error)) => Err(read_error(error)),
        // A JSON array or documents, in pieces of whole elements; so too a first line longer
        // than the sniffed bytes that parses as an object (padded with blanks): documents one
        // after the other, never held whole.
        (Some(format), None) => Ok(Opened::Documents(DocumentsFile {
            pieces: DocumentPieces::new(reader, prefix, format.layout(), piece_bytes)
                .max_element(max_record),
            path: path.to_path_buf(),
            gzip,
            disk_read,
        })),
    }
}

/// Whether the file is named as an EVTX file (`Security.evtx`, `Security.evtx.gz`).
fn named_evtx(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    name.strip_suffix(".gz").unwrap_or(&name).ends_with(".evtx")
}

/// The error of a file named as an EVTX file that holds nothing, or only `blanks` blank
/// bytes: where an empty JSON-lines or text log is a log rotated away, Windows never writes
/// an EVTX file without its header and a chunk, so this is a copy or export that failed.
fn empty_evtx(path: &Path, blanks: usize) -> DecodeError {
    let held = match blanks {
        0 => "the file is empty (0 bytes)".to_owned(),
        n => format!("the file holds only {n} blank bytes"),
    };
    DecodeError::Evtx {
        path: path.to_path_buf(),
        reason: format!(
            "{held}, where an EVTX file starts with its {EVTX_HEADER_BYTES}-byte header: the copy or export failed, and it holds no record; copy the log again from its source"
        ),
    }
}

/// Whether `data` begins with a whole line and reads as text ([`reads_as_text`]).
fn whole_text_line(data: &[u8]) -> bool {
    memchr::memchr(b'\n', data).is_some() && reads_as_text(data)
}

/// No NUL, and UTF-8 but perhaps for a character cut at its end.
fn reads_as_text(data: &[u8]) -> bool {
    !data.contains(&0)
        && std::str::from_utf8(data).map_or_else(|e| e.error_len().is_none(), |_| true)
}

/// A file opened by [`open_reader`].
struct FileReader {
    /// The content, decompressed.
    content: Box<dyn Read + Send>,
    gzip: bool,
    /// Bytes read from the file on disk so far.
    disk_read: Arc<AtomicU64>,
}

/// The file's content as a reader, through a gzip decoder when it starts like gzip.
fn open_reader(path: &Path) -> Result<FileReader, DecodeError> {
    let io = |error| DecodeError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file: Box<dyn Read + Send> = if is_stdin(path) {
        Box::new(io::stdin())
    } else {
        Box::new(fs::File::open(path).map_err(io)?)
    };
    let mut magic = Vec::with_capacity(GZIP_MAGIC.len());
    (&mut file)
        .take(GZIP_MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(io)?;
    let gzip = magic == GZIP_MAGIC;
    let disk_read = Arc::new(AtomicU64::new(magic.len() as u64));
    let file = CountingReader {
        inner: file,
        count: disk_read.clone(),
    };
    let head = Cursor::new(magic).chain(file);
    let content: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(head))
    } else {
        Box::new(head)
    };
    Ok(FileReader {
        content: utf8(content),
        gzip,
        disk_read,
    })
}

/// Text written as UTF-16 with a byte-order mark — what Windows PowerShell 5 writes with
/// `Out-File` and `>`, as in `Get-WinEvent … | ConvertTo-Json > events.json` — is read as the
/// UTF-8 it spells; anything else (UTF-8, EVTX) passes as it is.
fn utf8(mut content: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    let mut head = Vec::with_capacity(2);
    // A read error is kept for the first read after the bytes peeked, where the sniffing of
    // the format reports it as it would have without the peek.
    let error = (&mut content).take(2).read_to_end(&mut head).err();
    let utf16 = head == UTF16LE_BOM || head == UTF16BE_BOM;
    let peeked = Peeked {
        head: Cursor::new(head),
        error,
        rest: content,
    };
    if utf16 {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .strip_bom(true)
                .build(peeked),
        )
    } else {
        Box::new(peeked)
    }
}

/// A small text file given beside the logs (a list of search terms), read whole in the
/// encodings the logs are read in: UTF-8, a byte-order mark dropped (Notepad writes one), or
/// UTF-16 with a byte-order mark in either byte order (Windows PowerShell 5's `>` and
/// `Out-File`). Other bytes that are not UTF-8 are an error of kind
/// [`io::ErrorKind::InvalidData`]; a file the system cannot read, its error.
pub fn read_text(path: &Path) -> io::Result<String> {
    let file = fs::File::open(path)?;
    let mut text = String::new();
    encoding_rs_io::DecodeReaderBytesBuilder::new()
        .strip_bom(true)
        // UTF-8 after its mark is checked as UTF-8 without one is, not made valid.
        .utf8_passthru(true)
        .build(file)
        .read_to_string(&mut text)?;
    Ok(text)
}

const UTF16LE_BOM: &[u8] = &[0xff, 0xfe];
const UTF16BE_BOM: &[u8] = &[0xfe, 0xff];

/// A reader's first bytes, read ahead to look at, then the reader; a read error met while
/// reading ahead comes after those bytes.
struct Peeked<R> {
    head: Cursor<Vec<u8>>,
    error: Option<io::Error>,
    rest: R,
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        match self.error.take() {
            Some(error) => Err(error),
            None => self.rest.read(buf),
        }
    }
}

/// Counts the bytes read through it, for a progress bar over a compressed file.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A read error of `path`: a gzip error when it is compressed (the stream is damaged), an I/O
/// error when not.
fn read_error(path: &Path, gzip: bool, error: io::Error) -> DecodeError {
    let path = path.to_path_buf();
    if gzip {
        DecodeError::Gzip { path, error }
    } else {
        DecodeError::Io { path, error }
    }
}

/// Copies `head` and the rest of `content` to an unnamed temporary file (in `TMPDIR`), for a
/// reader that must seek in what can only be read once. A read error (a damaged gzip stream)
/// ends the copy and is returned beside it; failing to write the copy is the error.
fn spill(
    path: &Path,
    head: Vec<u8>,
    content: &mut dyn Read,
) -> Result<(fs::File, Option<io::Error>), DecodeError> {
    let spill_error = |error| DecodeError::Spill {
        path: path.to_path_buf(),
        error,
    };
    let mut copy = tempfile::tempfile().map_err(spill_error)?;
    copy.write_all(&head).map_err(spill_error)?;
    let mut buf = vec![0; 1024 * 1024];
    let damage = loop {
        match content.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => copy.write_all(&buf[..n]).map_err(spill_error)?,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => break Some(error),
        }
    };
    copy.rewind().map_err(spill_error)?;
    Ok((copy, damage))
}

/// The pieces of a text file (JSON lines, syslog), a read error named with the file (as a gzip
/// error when the file is compressed).
pub struct LinesFile {
    pieces: LinesPieces<Box<dyn Read + Send>>,
    /// Shared rather than owned to keep the file small enough to hand back by value
    /// ([`LinesFile::into_text_log`]).
    path: Arc<Path>,
    gzip: bool,
    disk_read: Arc<AtomicU64>,
}

impl LinesFile {
    /// Bytes of the file read from disk so far (compressed ones for gzip; a little ahead of
    /// the pieces given out, which were cut from what was read): how far through the file a
    /// progress bar is.
    pub fn disk_bytes_read(&self) -> u64 {
        self.disk_read.load(Ordering::Relaxed)
    }
}

impl Iterator for LinesFile {
    type Item = Result<LinesPiece, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.pieces.next()?.map_err(|error| match error {
            LinesError::Read(error) => read_error(&self.path, self.gzip, error),
            LinesError::TooLong { line, limit } => DecodeError::Record {
                path: self.path.to_path_buf(),
                record: line,
                reason: format!(
                    "the line is longer than {}, the most Vigil reads as one event; check that the file is a log (no log writes a line this long)",
                    size_label(limit)
                ),
            },
        }))
    }
}

/// `bytes` for a message: in MiB when it is a whole number of them.
fn size_label(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Lines longer than this are no syslog message (RFC 5425 asks receivers for 2 KiB at least,
/// real ones allow 64 KiB): they are rejected unread.
pub const MAX_SYSLOG_LINE: usize = 1024 * 1024;

impl LinesFile {
    /// Reads the lines of a file just opened ([`Opened::Unknown`]) as a plain-text log when the
    /// first of them is one: plain syslog (RFC 5424 or RFC 3164, one message per line), a web
    /// server access log ([`crate::access`], [`crate::w3c`]) or error log
    /// ([`crate::error_log`]), a Linux audit log ([`crate::auditd`]); the file
    /// back when it is none of these (to read as plain text, [`LinesFile::into_plain_text`],
    /// or leave). RFC 3164 timestamps carry no year: the one closest before the file's
    /// modification time is taken (before now, for standard input). Times written without an
    /// offset are read in `zone`.
    pub fn into_text_log(self, zone: &LocalZone) -> Result<TextLogFile, LinesFile> {
        // The first bytes are read already (to recognise the file; empty for an empty one): a
        // file is told from them, not from a whole piece read first.
        let reference_ms = || {
            let reference = if is_stdin(&self.path) {
                None
            } else {
                fs::metadata(&self.path).and_then(|m| m.modified()).ok()
            };
            reference
                .unwrap_or_else(SystemTime::now)
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        };
        let Some(format) = LineFormat::of(&self.pieces.carry, reference_ms, zone) else {
            return Err(self);
        };
        Ok(TextLogFile {
            lines: self,
            format,
        })
    }

    /// The lines as a plain-text log ([`LinesFile::into_text_log`]) or, when plain text is
    /// asked for (`--text`) and `file` reads as text and may be a log
    /// ([`InputFile::may_be_plain_text`]), as plain lines ([`LinesFile::into_plain_text`]);
    /// `None` when neither.
    pub fn into_text_log_or_plain(
        self,
        options: &TextOptions,
        file: &InputFile,
    ) -> Result<TextLogFile, LinesFile> {
        match self.into_text_log(&options.zone) {
            Ok(text) => Ok(text),
            Err(lines) if options.plain && file.may_be_plain_text() && lines.is_text() => {
                Ok(lines.into_plain_text(&options.zone))
            }
            Err(lines) => Err(lines),
        }
    }

    /// Why the file is read as none of the formats Vigil reads: its content is none of them
    /// ([`DecodeError::UnknownFormat`]), and a file named `.gz` whose content is not
    /// gzip-compressed is told so ([`DecodeError::NotGzip`]).
    pub fn unknown_format(&self) -> DecodeError {
        let path = self.path.to_path_buf();
        let named_gz = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"));
        if named_gz && !self.gzip {
            DecodeError::NotGzip { path }
        } else {
            DecodeError::UnknownFormat { path }
        }
    }

    /// Whether the file reads as text (no NUL byte, UTF-8 in what was read to recognise it):
    /// an image or an archive in a folder is no log to store line by line.
    pub fn is_text(&self) -> bool {
        // A character cut where the first read ended is still text.
        reads_as_text(&self.pieces.carry)
    }

    /// Reads the lines as text of no known format, each line an event of its own
    /// ([`crate::batch::LineFormat::Plain`]): for when the user asks for it (`vigil ingest
    /// --text`), since nothing tells such a file from any other text. A leading time without
    /// an offset is read in `zone`.
    pub fn into_plain_text(self, zone: &LocalZone) -> TextLogFile {
        TextLogFile {
            lines: self,
            format: LineFormat::Plain(zone.clone()),
        }
    }
}

/// How the user asks text files to be read (`vigil hunt`, `vigil ingest`).
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// `--text`: text of no format Vigil knows is read line by line, each line a `message`.
    pub plain: bool,
    /// `--timezone`: the zone of times written without an offset (UTC by default).
    pub zone: LocalZone,
}

impl TextOptions {
    /// Only the text logs Vigil knows, times without an offset in UTC.
    pub const DEFAULT: TextOptions = TextOptions {
        plain: false,
        zone: LocalZone::UTC,
    };
}

/// A plain-text log (syslog, web server logs, plain lines; gzip or not) read in pieces of whole
/// lines ([`LinesFile::into_text_log`]).
pub struct TextLogFile {
    lines: LinesFile,
    format: LineFormat,
}

/// Whole lines of a plain-text log, with how they are read.
pub struct TextLogPiece {
    /// The lines.
    pub lines: LinesPiece,
    /// Their format (for syslog, how timestamps are read: the year RFC 3164 leaves out).
    pub format: LineFormat,
}

impl TextLogFile {
    /// Bytes of the file read from disk so far (see [`LinesFile::disk_bytes_read`]).
    pub fn disk_bytes_read(&self) -> u64 {
        self.lines.disk_bytes_read()
    }
}

impl Iterator for TextLogFile {
    type Item = Result<TextLogPiece, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.lines.next()?.map(|lines| {
            let format = self.format.clone();
            // A W3C log's pieces are decoded apart (by several threads, in `hunt`): each starts
            // with the field names of the last `#Fields:` directive before it.
            if let LineFormat::W3c(fields) = &mut self.format
                && let Some(last) = crate::w3c::last_directive_fields(&lines.data[lines.start()..])
            {
                *fields = Some(last);
            }
            TextLogPiece { lines, format }
        }))
    }
}

/// Whole lines of a text file (JSON lines, syslog), and the number of lines before them.
#[derive(Debug)]
pub struct LinesPiece {
    /// The lines, each ending with `\n` but perhaps the file's last.
    pub data: Vec<u8>,
    /// Lines of the file before this piece: its first line is number `lines_before + 1`.
    pub lines_before: u64,
}

impl LinesPiece {
    /// Where its first line starts: after the byte-order mark the file may open with.
    fn start(&self) -> usize {
        if self.lines_before == 0 {
            bom_len(&self.data)
        } else {
            0
        }
    }
}

/// The most bytes one line of a text log, or one element of a JSON array or document, may
/// take. A line has to be held whole to be decoded, so a file with no newline (a 4 GiB string,
/// a binary dump) would otherwise take memory without bound; no log writes an event this large
/// (the server takes 1 MiB at most), so a generous cap loses nothing real.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Why [`LinesPieces`] gave no piece.
#[derive(Debug)]
pub enum LinesError {
    /// The file could not be read (or decompressed) further: the pieces end.
    Read(io::Error),
    /// Line `line` is longer than `limit` bytes: it was skipped, and the pieces go on with the
    /// next line.
    TooLong {
        /// Its number in the file (1-based).
        line: u64,
        /// The most bytes a line may take.
        limit: usize,
    },
}

/// A reader of text lines yielding [`LinesPiece`]s of about `piece_bytes` (more when a line
/// is longer), in file order. A read error (a corrupt gzip tail) comes after the whole lines read
/// before it, and ends the pieces.
pub struct LinesPieces<R> {
    reader: R,
    carry: Vec<u8>,
    lines_before: u64,
    piece_bytes: usize,
    /// The longest line read ([`MAX_RECORD_BYTES`] but in tests).
    max_line: usize,
    /// A read error met before `carry` was given out: it comes after carry's whole lines.
    deferred: Option<io::Error>,
    /// The error that ended the pieces, given out after the last of them.
    failed: Option<io::Error>,
    done: bool,
}

impl<R: Read> LinesPieces<R> {
    /// Reads lines from `reader` (already decompressed) in pieces of about `piece_bytes`.
    pub fn new(reader: R, piece_bytes: usize) -> Self {
        Self::after(reader, Vec::new(), piece_bytes)
    }

    /// Like [`LinesPieces::new`], the file's first bytes already read into `head`.
    fn after(reader: R, head: Vec<u8>, piece_bytes: usize) -> Self {
        LinesPieces {
            reader,
            carry: head,
            lines_before: 0,
            piece_bytes: piece_bytes.max(1),
            max_line: MAX_RECORD_BYTES,
            deferred: None,
            failed: None,
            done: false,
        }
    }

    /// Lines longer than `bytes` are skipped with [`LinesError::TooLong`] rather than read
    /// whole ([`MAX_RECORD_BYTES`] unless set).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Reads past the rest of a line too long to hold, a block at a time, keeping what
    /// follows its newline: memory stays bounded however long the line is.
    fn skip_line(&mut self) -> LinesError {
        let line = self.lines_before + 1;
        let mut block = vec![0; 64 * 1024];
        loop {
            let read = match self.deferred.take() {
                Some(error) => Err(error),
                None => self.reader.read(&mut block),
            };
            match read {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => {
                    if let Some(at) = memchr::memchr(b'\n', &block[..n]) {
                        self.lines_before += 1;
                        self.carry = block[at + 1..n].to_vec();
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.done = true;
                    self.failed = Some(error);
                    break;
                }
            }
        }
        LinesError::TooLong {
            line,
            limit: self.max_line,
        }
    }

    fn piece(&mut self, data: Vec<u8>) -> LinesPiece {
        let piece = LinesPiece {
            lines_before: self.lines_before,
            data,
        };
        self.lines_before += memchr::memchr_iter(b'\n', &piece.data).count() as u64;
        piece
    }
}

impl<R: Read> Iterator for LinesPieces<R> {
    type Item = Result<LinesPiece, LinesError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return self.failed.take().map(|e| Err(LinesError::Read(e)));
        }
        let mut data = std::mem::take(&mut self.carry);
        // Where the last, unfinished line of `data` starts: only the bytes read since are
        // searched for a newline, so a long line is not scanned again at every read.
        let mut tail = memchr::memrchr(b'\n', &data).map_or(0, |at| at + 1);
        loop {
            // Cut after the last newline within the piece's size, or after the first one
            // beyond it when a line is longer than that.
            let size = self.piece_bytes;
            if data.len() >= size && tail > 0 {
                let cut = memchr::memrchr(b'\n', &data[..size])
                    .or_else(|| memchr::memchr(b'\n', &data[size..]).map(|at| size + at))
                    .unwrap_or(tail - 1);
                self.carry = data.split_off(cut + 1);
                return Some(Ok(self.piece(data)));
            }
            if data.len() - tail > self.max_line {
                if tail > 0 {
                    // The whole lines before the long one go out first.
                    self.carry = data.split_off(tail);
                    return Some(Ok(self.piece(data)));
                }
                drop(data);
                return Some(Err(self.skip_line()));
            }
            let want = self.piece_bytes.saturating_sub(data.len()).max(64 * 1024);
            let before = data.len();
            let read = match self.deferred.take() {
                Some(error) => Err(error),
                None => (&mut self.reader).take(want as u64).read_to_end(&mut data),
            };
            match read {
                Ok(0) => {
                    self.done = true;
                    return (!data.is_empty()).then(|| Ok(self.piece(data)));
                }
                Ok(_) => {
                    if let Some(at) = memchr::memrchr(b'\n', &data[before..]) {
                        tail = before + at + 1;
                    }
                }
                Err(error) => {
                    // The whole lines before the damage are still decoded; a torn last line
                    // is dropped, and the error follows them.
                    data.truncate(memchr::memrchr(b'\n', &data).map_or(0, |cut| cut + 1));
                    self.done = true;
                    self.failed = Some(error);
                    if data.is_empty() {
                        return self.failed.take().map(|e| Err(LinesError::Read(e)));
                    }
                    return Some(Ok(self.piece(data)));
                }
            }
        }
    }
}

/// Opens a file as a record source. An unrecognised format is [`DecodeError::UnknownFormat`].
pub fn open(path: &Path) -> Result<RecordSource, DecodeError> {
    match read_file(path)? {
        Some((format, data)) => RecordSource::new(Arc::from(path), format, data),
        None => Err(DecodeError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// A file read in pieces, whatever its format, for a reader that decodes each piece as
/// records ([`RecordSource::piece`]).
pub enum FilePieces {
    Lines(LinesFile),
    Evtx(EvtxFile),
    Documents(DocumentsFile),
    Text(TextLogFile),
}

/// One piece of a [`FilePieces`].
pub enum FilePiece {
    Lines(LinesPiece),
    Evtx(EvtxPiece),
    Documents(DocumentsPiece),
    Text(TextLogPiece),
}

impl FilePieces {
    /// Bytes of the file read from disk so far, for a progress bar.
    pub fn disk_bytes_read(&self) -> u64 {
        match self {
            FilePieces::Lines(lines) => lines.disk_bytes_read(),
            FilePieces::Evtx(evtx) => evtx.disk_bytes_read(),
            FilePieces::Documents(documents) => documents.disk_bytes_read(),
            FilePieces::Text(text) => text.disk_bytes_read(),
        }
    }
}

impl Iterator for FilePieces {
    type Item = Result<FilePiece, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self {
            FilePieces::Lines(lines) => lines.next()?.map(FilePiece::Lines),
            FilePieces::Evtx(evtx) => evtx.next()?.map(FilePiece::Evtx),
            FilePieces::Documents(documents) => documents.next()?.map(FilePiece::Documents),
            FilePieces::Text(text) => text.next()?.map(FilePiece::Text),
        })
    }
}

impl FilePiece {
    /// The bytes of the (decompressed) file the piece holds.
    pub fn bytes(&self) -> u64 {
        match self {
            FilePiece::Lines(lines) => lines.data.len() as u64,
            FilePiece::Evtx(evtx) => evtx.bytes(),
            FilePiece::Documents(documents) => documents.data.len() as u64,
            FilePiece::Text(text) => text.lines.data.len() as u64,
        }
    }
}

/// The pieces of a JSON array or of concatenated JSON documents, a read error named with the
/// file (as a gzip error when the file is compressed).
pub struct DocumentsFile {
    pieces: DocumentPieces<Box<dyn Read + Send>>,
    path: PathBuf,
    gzip: bool,
    disk_read: Arc<AtomicU64>,
}

impl DocumentsFile {
    /// Bytes of the file read from disk so far (see [`LinesFile::disk_bytes_read`]).
    pub fn disk_bytes_read(&self) -> u64 {
        self.disk_read.load(Ordering::Relaxed)
    }
}

impl Iterator for DocumentsFile {
    type Item = Result<DocumentsPiece, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.pieces
                .next()?
                .map_err(|e| pieces_error(&self.path, self.gzip, e)),
        )
    }
}

/// Why the elements of `path` ended early, as a decoding error.
fn pieces_error(path: &Path, gzip: bool, error: PiecesError) -> DecodeError {
    match error {
        PiecesError::Read(error) => read_error(path, gzip, error),
        PiecesError::Structure(reason) => DecodeError::JsonArray {
            path: path.to_path_buf(),
            reason,
        },
        PiecesError::TooLong { element, limit } => DecodeError::TooLong {
            path: path.to_path_buf(),
            element,
            limit: size_label(limit),
        },
    }
}

/// What the EVTX parser reads: the file itself, or a decompressed copy in a temporary file.
trait EvtxData: Read + io::Seek + Send {}

impl<T: Read + io::Seek + Send> EvtxData for T {}

/// An EVTX file read in pieces of whole chunks (a chunk is 64 KiB and decodes on its own, with
/// its own string and template tables): a multi-gigabyte log never sits whole in memory, and
/// its pieces can be decoded on every core, then put back in order.
pub struct EvtxFile {
    /// Boxed: a chunk read ahead (to know the last piece) is held inline.
    chunks: Box<std::iter::Peekable<IntoIterChunks<Box<dyn EvtxData>>>>,
    path: PathBuf,
    chunks_per_piece: usize,
    chunks_before: u64,
    /// The size of what the parser reads (the file, or its decompressed copy).
    size: u64,
    /// Of those bytes, the ones the pieces given out stand for.
    given: u64,
    /// For a compressed file, its size on disk, all read before the first piece.
    compressed: Option<u64>,
    /// Why the copy of a compressed file ends early, given out after its last piece.
    failed: Option<DecodeError>,
    unchecked: Unchecked,
    /// The file header fails its checksum: said with the first piece.
    header_damaged: bool,
}

/// Whole chunks of an EVTX file, in record order, with how many came before them.
pub struct EvtxPiece {
    chunks: Vec<Result<EvtxChunkData, EvtxError>>,
    chunks_before: u64,
    bytes: u64,
    unchecked: Unchecked,
    /// The first piece of a file whose header fails its checksum.
    header_damaged: bool,
}

/// The chunks (by number in the file) whose checksums are not checked: one filled out after a
/// cut (its records' checksum covers bytes the file lost), and the last chunk of a log Windows
/// still had open (the file header's dirty flag: that chunk's checksums may not be written
/// yet).
type Unchecked = [Option<u64>; 2];

/// What is said before an EVTX file's first records: that its header fails its checksum, when
/// it does.
fn header_warning(file: &Path, damaged: bool) -> VecDeque<Result<Record, DecodeError>> {
    let mut pending = VecDeque::new();
    if damaged {
        pending.push_back(Err(DecodeError::HeaderChecksum {
            path: file.to_path_buf(),
        }));
    }
    pending
}

/// [`Unchecked`] for a file with this header, cut short there.
fn unchecked(header: &evtx::EvtxFileHeader, cut: Option<Cut>) -> Unchecked {
    let open = header
        .flags
        .contains(evtx::HeaderFlags::DIRTY)
        .then_some(header.last_chunk_number);
    let filled_out = cut
        .filter(|cut| cut.bytes as usize >= EVTX_CHUNK_HEADER_BYTES)
        .map(|cut| cut.chunk);
    [open, filled_out]
}

impl EvtxPiece {
    /// The bytes of the file it stands for: its chunks, the file's header for the first, and
    /// what follows the chunks (empty ones, slack) for the last; all of a file's pieces add up
    /// to its size.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// The size of an EVTX chunk.
const EVTX_CHUNK_BYTES: usize = 64 * 1024;

/// The size of an EVTX file's header, before its first chunk.
const EVTX_HEADER_BYTES: u64 = 4096;

/// All zeros, to tell an empty chunk by one comparison.
static EMPTY_CHUNK: [u8; EVTX_CHUNK_BYTES] = [0; EVTX_CHUNK_BYTES];

/// Where the chunks of an EVTX file end, as the parser is to read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkEnd {
    /// The size the parser sees: the file without the empty chunks at its end, or, when its
    /// last chunk is cut short, with that chunk filled out.
    end: u64,
    /// Where the file's own bytes stop being given: zeros from there to `end`.
    data_end: u64,
    /// The last chunk is cut short.
    cut: Option<Cut>,
}

/// An EVTX file's last chunk, cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    /// Its number, from 0.
    chunk: u64,
    /// The bytes of it the file holds.
    bytes: u64,
    /// The chunks in use, by the file's header.
    in_use: u64,
    /// Whether records were after the cut, by the file's and the chunk's headers (the chunks
    /// in use, where the chunk's free space starts).
    records_lost: bool,
}

/// The size of an EVTX chunk's header, before its first record.
const EVTX_CHUNK_HEADER_BYTES: usize = 512;

/// Where the file header holds the number of chunks in use (16 bits, MS-EVEN6 2.2.1).
const FILE_HEADER_CHUNK_COUNT: u64 = 42;

/// Where a chunk's header holds the offset of its free space (32 bits, MS-EVEN6 2.2.3).
const CHUNK_HEADER_FREE_SPACE: usize = 48;

/// Where the chunks of an EVTX file of `size` bytes end (see [`ChunkEnd`]); `read(at, buffer)`
/// reads `buffer.len()` bytes from offset `at`.
///
/// A log is made at its full size and filled a chunk at a time: the empty chunks at its end
/// are left out, as the parser would read each of them to find it empty, a byte at a time. A
/// file that ends part-way through a chunk was cut short (an interrupted copy), and the parser
/// would drop that chunk without a word: it is filled out with zeros from the end of its last
/// whole record, so that the parser reads the records before the cut and stops where the
/// zeros start (a record cut in two would be read as a record with part of its values), and
/// the cut is reported — unless the part the file holds is empty too, a cut in unused space.
fn end_of_chunks(
    size: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> io::Result<()>,
) -> io::Result<ChunkEnd> {
    let chunk_bytes = EVTX_CHUNK_BYTES as u64;
    let Some(body) = size.checked_sub(EVTX_HEADER_BYTES) else {
        let end = size;
        return Ok(ChunkEnd {
            end,
            data_end: end,
            cut: None,
        });
    };
    let chunk_start = |i: u64| EVTX_HEADER_BYTES + i * chunk_bytes;
    let mut buffer = vec![0; EVTX_CHUNK_BYTES];
    let mut chunks = body / chunk_bytes;
    let part = (body % chunk_bytes) as usize;
    let mut in_use = [0; 2];
    read(FILE_HEADER_CHUNK_COUNT, &mut in_use)?;
    let in_use = u64::from(u16::from_le_bytes(in_use));
    if part > 0 {
        let start = chunk_start(chunks);
        read(start, &mut buffer[..part])?;
        if buffer[..part] != EMPTY_CHUNK[..part] {
            let records_end = whole_records_end(&buffer[..part]);
            // Past the chunks the file's header counts (a 16-bit count: a file of more chunks
            // cannot tell), or before the chunk's free space: records are lost.
            let free_space = buffer[..part]
                .get(CHUNK_HEADER_FREE_SPACE..CHUNK_HEADER_FREE_SPACE + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            let records_lost = chunks + 1 >= u64::from(u16::MAX)
                || in_use > chunks + 1
                || free_space.is_none_or(|free| records_end < free);
            let cut = Some(Cut {
                chunk: chunks,
                bytes: part as u64,
                in_use,
                records_lost,
            });
            // Cut in its header: no record to read in it.
            if part < EVTX_CHUNK_HEADER_BYTES {
                return Ok(ChunkEnd {
                    end: start,
                    data_end: start,
                    cut,
                });
            }
            return Ok(ChunkEnd {
                end: start + chunk_bytes,
                data_end: start + records_end as u64,
                cut,
            });
        }
    }
    // Fewer chunks than the file's header counts in use: cut at the end of a chunk.
    let cut = (in_use > chunks).then_some(Cut {
        chunk: chunks,
        bytes: part as u64,
        in_use,
        records_lost: true,
    });
    while chunks > 0 {
        read(chunk_start(chunks - 1), &mut buffer)?;
        if buffer[..] != EMPTY_CHUNK[..] {
            break;
        }
        chunks -= 1;
    }
    let end = EVTX_HEADER_BYTES + chunks * chunk_bytes;
    Ok(ChunkEnd {
        end,
        data_end: end,
        cut,
    })
}

/// Where the whole records of the start of a chunk end: each record opens with its magic and
/// its size (MS-EVEN6: `**\0\0`, then the size as a 32-bit little-endian number).
fn whole_records_end(part: &[u8]) -> usize {
    const RECORD_MAGIC: &[u8] = b"\x2a\x2a\x00\x00";
    const RECORD_HEADER_BYTES: usize = 24;
    let mut at = EVTX_CHUNK_HEADER_BYTES;
    while let Some(header) = part.get(at..at + 8)
        && header.starts_with(RECORD_MAGIC)
    {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if size < RECORD_HEADER_BYTES || at + size > part.len() {
            break;
        }
        at += size;
    }
    at
}

/// `data` as the parser is to read it (see [`end_of_chunks`]), and where it was cut short.
fn whole_chunks(mut data: Vec<u8>) -> (Vec<u8>, Option<Cut>) {
    let found = end_of_chunks(data.len() as u64, |at, buffer| {
        let at = at as usize;
        buffer.copy_from_slice(&data[at..at + buffer.len()]);
        Ok(())
    });
    match found {
        Ok(ChunkEnd { end, data_end, cut }) => {
            data.truncate(data_end as usize);
            data.resize(end as usize, 0);
            (data, cut)
        }
        Err(_) => (data, None),
    }
}

/// A seekable reader seen as the parser is to read it (see [`end_of_chunks`]): ending before
/// the empty chunks at its end, or with a chunk cut short filled out with zeros.
struct Bounded<R> {
    inner: R,
    /// Where the reader is seen to end.
    end: u64,
    /// Where `inner`'s bytes stop being given: zeros from there to `end`.
    data_end: u64,
    position: u64,
}

impl<R: Read + io::Seek> Bounded<R> {
    /// The reader, and where `inner` (of `size` bytes) was cut short.
    fn new(mut inner: R, size: u64) -> io::Result<(Self, Option<Cut>)> {
        let ChunkEnd { end, data_end, cut } = end_of_chunks(size, |at, buffer| {
            inner.seek(io::SeekFrom::Start(at))?;
            inner.read_exact(buffer)
        })?;
        inner.rewind()?;
        let bounded = Bounded {
            inner,
            end,
            data_end,
            position: 0,
        };
        Ok((bounded, cut))
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left =
            |to: u64| usize::try_from(to.saturating_sub(self.position)).unwrap_or(usize::MAX);
        let n = if self.position < self.data_end {
            let len = buf.len().min(left(self.data_end));
            self.inner.read(&mut buf[..len])?
        } else {
            let len = buf.len().min(left(self.end));
            buf[..len].fill(0);
            len
        };
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for Bounded<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(d) => self.end.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.position.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.inner
            .seek(io::SeekFrom::Start(target.min(self.data_end)))?;
        self.position = target;
        Ok(self.position)
    }
}

impl EvtxFile {
    fn new(
        path: &Path,
        data: Box<dyn EvtxData>,
        piece_bytes: usize,
        compressed: Option<u64>,
    ) -> Result<Self, DecodeError> {
        let mut data = data;
        let io_error = |error| DecodeError::Io {
            path: path.to_path_buf(),
            error,
        };
        let size = data
            .seek(io::SeekFrom::End(0))
            .and_then(|size| data.rewind().map(|()| size))
            .map_err(io_error)?;
        let mut start = vec![0u8; EVTX_HEADER_BYTES as usize + EVTX_CHUNK_MAGIC.len()];
        let read = data.read_exact(&mut start);
        let lost = read.is_ok() && header_lost(&start);
        data.rewind().map_err(io_error)?;
        if lost {
            data = Box::new(HeadReplaced {
                head: made_header(size),
                inner: data,
                position: 0,
            });
        }
        let (bounded, cut) = Bounded::new(data, size).map_err(io_error)?;
        let data: Box<dyn EvtxData> = Box::new(bounded);
        let parser = EvtxParser::from_read_seek(data).map_err(|e| unopened_evtx(path, size, &e))?;
        Ok(EvtxFile {
            unchecked: unchecked(parser.header(), cut),
            header_damaged: lost || !parser.header().validate_checksum(),
            failed: cut.map(|cut| cut_short(path, cut)),
            chunks: Box::new(parser.into_chunks().peekable()),
            path: path.to_path_buf(),
            chunks_per_piece: (piece_bytes / EVTX_CHUNK_BYTES).max(1),
            chunks_before: 0,
            size,
            given: 0,
            compressed,
        })
    }

    /// Bytes of the file read from disk so far (those the pieces given out stand for), for a
    /// progress bar.
    pub fn disk_bytes_read(&self) -> u64 {
        self.compressed.unwrap_or(self.given)
    }

    /// The file, for errors.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for EvtxFile {
    type Item = Result<EvtxPiece, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunks: Vec<_> = (&mut self.chunks).take(self.chunks_per_piece).collect();
        if chunks.is_empty() {
            return self.failed.take().map(Err);
        }
        let header = if self.chunks_before == 0 {
            EVTX_HEADER_BYTES
        } else {
            0
        };
        let rest = self.size.saturating_sub(self.given);
        let bytes = if self.chunks.peek().is_none() {
            rest
        } else {
            (header + (chunks.len() * EVTX_CHUNK_BYTES) as u64).min(rest)
        };
        let piece = EvtxPiece {
            chunks_before: self.chunks_before,
            chunks,
            bytes,
            unchecked: self.unchecked,
            header_damaged: self.header_damaged && self.chunks_before == 0,
        };
        self.given += bytes;
        self.chunks_before += piece.chunks.len() as u64;
        Some(Ok(piece))
    }
}

/// The records of one file, in file order, each a [`Record`] or the [`DecodeError`] that
/// stopped it; decoding goes on after an error.
pub struct RecordSource {
    file: Arc<Path>,
    inner: Inner,
}

enum Inner {
    Evtx {
        chunks: Box<dyn Iterator<Item = Result<EvtxChunkData, EvtxError>> + Send>,
        settings: Arc<ParserSettings>,
        chunk: u64,
        pending: VecDeque<Result<Record, DecodeError>>,
        /// The error that ended the file, after its records (a chunk cut short).
        then: Option<DecodeError>,
        unchecked: Unchecked,
    },
    Lines {
        data: Vec<u8>,
        pos: usize,
        line: u64,
    },
    Documents {
        data: Vec<u8>,
        elements: std::vec::IntoIter<Range<usize>>,
        index: u64,
        /// The error that ended the file, after its elements.
        then: Option<DecodeError>,
    },
    Text {
        data: Vec<u8>,
        pos: usize,
        line: u64,
        format: LineFormat,
    },
}

impl std::fmt::Debug for RecordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSource")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl RecordSource {
    /// Decodes content already in memory (decompressed) in the given format; `file` names it in
    /// records and errors.
    pub fn new(file: Arc<Path>, format: Format, data: Vec<u8>) -> Result<Self, DecodeError> {
        let inner = match format {
            Format::Evtx => {
                let lost = header_lost(&data);
                let mut data = data;
                if lost {
                    let head = made_header(data.len() as u64);
                    data[..head.len()].copy_from_slice(&head);
                }
                let size = data.len() as u64;
                let (data, cut) = whole_chunks(data);
                let parser =
                    EvtxParser::from_buffer(data).map_err(|e| unopened_evtx(&file, size, &e))?;
                Inner::Evtx {
                    unchecked: unchecked(parser.header(), cut),
                    pending: header_warning(&file, lost || !parser.header().validate_checksum()),
                    chunks: Box::new(parser.into_chunks()),
                    settings: Arc::new(ParserSettings::default()),
                    chunk: 0,
                    then: cut.map(|cut| cut_short(&file, cut)),
                }
            }
            Format::JsonLines => Inner::Lines {
                pos: bom_len(&data),
                data,
                line: 0,
            },
            Format::JsonDocuments | Format::JsonArray | Format::JsonRecords => {
                // In memory already: one piece of every element, then what ended them.
                let mut pieces =
                    DocumentPieces::new(io::empty(), data, format.layout(), usize::MAX);
                let error = |e| pieces_error(&file, false, e);
                let (piece, then) = match pieces.next() {
                    None => (DocumentsPiece::default(), None),
                    Some(Ok(piece)) => (piece, pieces.next().and_then(Result::err).map(error)),
                    Some(Err(e)) => return Err(error(e)),
                };
                Inner::Documents {
                    data: piece.data,
                    elements: piece.elements.into_iter(),
                    index: 0,
                    then,
                }
            }
        };
        Ok(RecordSource { file, inner })
    }

    /// Decodes one piece of a JSON-lines file ([`open_file`]), its lines numbered as in the
    /// whole file.
    pub fn lines(file: Arc<Path>, piece: LinesPiece) -> Self {
        RecordSource {
            file,
            inner: Inner::Lines {
                pos: piece.start(),
                data: piece.data,
                line: piece.lines_before,
            },
        }
    }

    /// Decodes one piece of a file read in pieces, its records numbered as in the whole file.
    pub fn piece(file: Arc<Path>, piece: FilePiece) -> Self {
        match piece {
            FilePiece::Lines(lines) => RecordSource::lines(file, lines),
            FilePiece::Evtx(evtx) => RecordSource::evtx(file, evtx),
            FilePiece::Documents(documents) => RecordSource::documents(file, documents),
            FilePiece::Text(text) => RecordSource::text_log(file, text),
        }
    }

    /// Decodes one piece of a plain-text log ([`LinesFile::into_text_log`]): each line a record
    /// numbered by its line, the event as JSON (syslog: `message`, `app_name`, `hostname` …;
    /// access log: `c-ip`, `cs-uri-stem` …, as ingest stores them), its timestamp the line's.
    pub fn text_log(file: Arc<Path>, piece: TextLogPiece) -> Self {
        let TextLogPiece { lines, format } = piece;
        RecordSource {
            file,
            inner: Inner::Text {
                pos: lines.start(),
                data: lines.data,
                line: lines.lines_before,
                format,
            },
        }
    }

    /// Whether the records are lines of a plain-text log, which say what logs they are
    /// ([`crate::implied_logsources`]): syslog by the program that wrote each, access logs
    /// `webserver`.
    pub fn is_text_log(&self) -> bool {
        matches!(self.inner, Inner::Text { .. })
    }

    /// Decodes one piece of a JSON array or of JSON documents ([`open_file`]), its elements
    /// numbered as in the whole file.
    pub fn documents(file: Arc<Path>, piece: DocumentsPiece) -> Self {
        RecordSource {
            file,
            inner: Inner::Documents {
                data: piece.data,
                elements: piece.elements.into_iter(),
                index: piece.elements_before,
                then: None,
            },
        }
    }

    /// Decodes one piece of an EVTX file ([`open_file`]).
    pub fn evtx(file: Arc<Path>, piece: EvtxPiece) -> Self {
        RecordSource {
            inner: Inner::Evtx {
                chunks: Box::new(piece.chunks.into_iter()),
                settings: Arc::new(ParserSettings::default()),
                chunk: piece.chunks_before,
                pending: header_warning(&file, piece.header_damaged),
                then: None,
                unchecked: piece.unchecked,
            },
            file,
        }
    }

    /// The file being decoded.
    pub fn file(&self) -> &Arc<Path> {
        &self.file
    }
}

impl Iterator for RecordSource {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let file = &self.file;
        match &mut self.inner {
            Inner::Evtx {
                chunks,
                settings,
                chunk,
                pending,
                then,
                unchecked,
            } => loop {
                if let Some(r) = pending.pop_front() {
                    return Some(r);
                }
                let Some(data) = chunks.next() else {
                    return then.take().map(Err);
                };
                let number = *chunk;
                *chunk += 1;
                match data {
                    Ok(mut data) => {
                        // Checked before decoding: the warning comes before the chunk's records.
                        if !unchecked.contains(&data.number) && !data.validate_checksum() {
                            pending.push_back(Err(DecodeError::Checksum {
                                path: file.to_path_buf(),
                                chunk: number,
                            }));
                        }
                        decode_chunk(file, number, &mut data, settings, pending)
                    }
                    Err(e) => pending.push_back(Err(chunk_error(file, number, e))),
                }
            },
            Inner::Lines { data, pos, line } => loop {
                if *pos >= data.len() {
                    return None;
                }
                let rest = &data[*pos..];
                let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                let text = &rest[..end];
                *pos += end + 1;
                *line += 1;
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let record_id = *line;
                let fail = |reason: String| DecodeError::Record {
                    path: file.to_path_buf(),
                    record: record_id,
                    reason,
                };
                return Some(match JsonEvent::parse_bytes(text) {
                    Ok(event) => Ok(Record {
                        file: file.clone(),
                        record_id,
                        timestamp: event.timestamp(),
                        event,
                    }),
                    Err(JsonError::NotAnObject) => {
                        Err(fail("the line is JSON but not an object".into()))
                    }
                    Err(e) => Err(fail(e.to_string())),
                });
            },
            Inner::Text {
                data,
                pos,
                line,
                format,
            } => loop {
                let mut lines = Lines::resume(data, *pos, *line);
                let next = lines.next();
                (*pos, *line) = (lines.pos, lines.line);
                let (number, span) = next?;
                let fail = |reason: String| DecodeError::Record {
                    path: file.to_path_buf(),
                    record: number,
                    reason,
                };
                // A W3C directive is read, and no record.
                let Some(decoded) = text_log_line(data, number, span, format, MAX_SYSLOG_LINE)
                else {
                    continue;
                };
                return Some(match decoded {
                    Ok(accepted) => {
                        let event = accepted.event;
                        let timestamp = event.timestamp_ms();
                        event
                            .into_json_event()
                            .map(|event| Record {
                                file: file.clone(),
                                record_id: number,
                                timestamp,
                                event,
                            })
                            .map_err(|e| fail(e.to_string()))
                    }
                    Err(rejection) => Err(fail(rejection.reason.to_string())),
                });
            },
            Inner::Documents {
                data,
                elements,
                index,
                then,
            } => {
                let Some(element) = elements.next() else {
                    return then.take().map(Err);
                };
                *index += 1;
                let fail = |reason: String| DecodeError::Record {
                    path: file.to_path_buf(),
                    record: *index,
                    reason,
                };
                Some(match JsonEvent::parse_bytes(&data[element]) {
                    Ok(event) => Ok(Record {
                        file: file.clone(),
                        record_id: *index,
                        timestamp: event.timestamp(),
                        event,
                    }),
                    Err(JsonError::NotAnObject) => {
                        Err(fail("the element is JSON but not an object".into()))
                    }
                    Err(e) => Err(fail(e.to_string())),
                })
            }
        }
    }
}

/// An EVTX parser error with its causes ("failed to parse chunk 3: …: invalid token at …"):
/// the outer message alone rarely says what is damaged.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// The error of an EVTX file whose last chunk is cut short (see [`end_of_chunks`]).
fn cut_short(file: &Path, cut: Cut) -> DecodeError {
    DecodeError::CutShort {
        path: file.to_path_buf(),
        chunk: cut.chunk,
        bytes: cut.bytes,
        in_use: cut.in_use,
        records_lost: cut.records_lost,
    }
}

/// A chunk that cannot be read, under the chunk number the parser gives when it gives one
/// (it skips chunks it finds empty, so counting them here can differ).
/// Why an EVTX file could not be opened: a file shorter than its header was cut short (an
/// interrupted copy), which the parser reports only as a read that could not be filled.
fn unopened_evtx(path: &Path, size: u64, error: &EvtxError) -> DecodeError {
    let reason = if size < EVTX_HEADER_BYTES {
        format!(
            "the file is {size} bytes, less than the {EVTX_HEADER_BYTES} of an EVTX file header: it was cut short, as by an interrupted copy, and holds no record; copy the log again from its source"
        )
    } else {
        with_causes(error)
    };
    DecodeError::Evtx {
        path: path.to_path_buf(),
        reason,
    }
}

fn chunk_error(file: &Path, counted: u64, error: EvtxError) -> DecodeError {
    let (chunk, reason) = match error {
        EvtxError::FailedToParseChunk { chunk_id, source } => (chunk_id, with_causes(&source)),
        other => (counted, with_causes(&other)),
    };
    DecodeError::Chunk {
        path: file.to_path_buf(),
        chunk,
        reason,
    }
}

fn decode_chunk(
    file: &Arc<Path>,
    number: u64,
    data: &mut evtx::EvtxChunkData,
    settings: &Arc<ParserSettings>,
    out: &mut VecDeque<Result<Record, DecodeError>>,
) {
    let mut chunk = match data.parse(settings.clone()) {
        Ok(c) => c,
        Err(e) => {
            out.push_back(Err(DecodeError::Chunk {
                path: file.to_path_buf(),
                chunk: number,
                reason: with_causes(&e),
            }));
            return;
        }
    };
    for record in chunk.iter() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                // The parser names the record whose body is damaged ("failed to parse record
                // number N"): report it under its number with the underlying cause.
                let (record, reason) = match e {
                    evtx::err::EvtxError::FailedToParseRecord { record_id, source } => {
                        (record_id, with_causes(&*source))
                    }
                    other => (0, with_causes(&other)),
                };
                out.push_back(Err(DecodeError::Record {
                    path: file.to_path_buf(),
                    record,
                    reason,
                }));
                continue;
            }
        };
        let id = record.event_record_id;
        let timestamp = record.timestamp.as_millisecond();
        // The crate writes the record as JSON text; sonic-rs parses it several times faster
        // than the `serde_json::Value` the crate's own `into_json_value` would build.
        let parsed = record
            .into_json_bytes()
            .map_err(|e| with_causes(&e))
            .and_then(|r| {
                JsonEvent::parse_owned(r.data).map_err(|e| match e {
                    // The crate wrote bytes JSON does not allow: the record's content is damaged.
                    JsonError::FastSyntax(e) => format!(
                        "the record's content is damaged (its JSON form is invalid: {})",
                        first_line(&e)
                    ),
                    other => other.to_string(),
                })
            });
        out.push_back(match parsed {
            Ok(event) => Ok(Record {
                file: file.clone(),
                // The EventRecordID in the XML, as Windows and the reference tools show it;
                // the record header's id can differ (after a log was cleared, or in exported
                // files, where the XML may also hold it as text).
                record_id: event.event_record_id().unwrap_or(id),
                // `TimeCreated` (when the event happened) rather than the header's write time.
                timestamp: event.timestamp().or(Some(timestamp)),
                event,
            }),
            Err(reason) => Err(DecodeError::Record {
                path: file.to_path_buf(),
                record: id,
                reason,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn data_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
    }

    fn source(data: &[u8]) -> RecordSource {
        let format = detect(data).expect("known format");
        RecordSource::new(Arc::from(Path::new("mem")), format, data.to_vec()).unwrap()
    }

    #[test]
    fn json_lines_number_records_by_line_and_skip_bad_lines() {
        let text = b"{\"a\":1,\"@timestamp\":\"2020-01-01T00:00:00Z\"}\n\n[1]\n{bad\n{\"a\":4}";
        let out: Vec<_> = source(text).collect();
        assert_eq!(out.len(), 4);
        let r = out[0].as_ref().unwrap();
        assert_eq!((r.record_id, r.timestamp), (1, Some(1_577_836_800_000)));
        assert!(matches!(out[1], Err(DecodeError::Record { record: 3, .. })));
        assert!(matches!(out[2], Err(DecodeError::Record { record: 4, .. })));
        assert_eq!(out[3].as_ref().unwrap().record_id, 5);
        assert_eq!(out[3].as_ref().unwrap().event.value()["a"], 4);
    }

    #[test]
    fn json_arrays_number_records_from_one() {
        let out: Vec<_> = source(b"  [{\"a\":1}, 2, {\"a\":3}]").collect();
        assert_eq!(out[0].as_ref().unwrap().record_id, 1);
        assert!(out[1].is_err());
        assert_eq!(out[2].as_ref().unwrap().record_id, 3);
        let bad = RecordSource::new(Arc::from(Path::new("x")), Format::JsonArray, b"[{".to_vec());
        assert!(matches!(bad, Err(DecodeError::JsonArray { .. })));
    }

    #[test]
    fn a_byte_order_mark_is_no_part_of_the_first_event() {
        let lines: Vec<_> = source(b"\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n").collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(Result::is_ok), "{lines:?}");
        let file: Arc<Path> = Arc::from(Path::new("x"));
        let array = RecordSource::new(
            file.clone(),
            Format::JsonArray,
            b"\xef\xbb\xbf[{\"a\":1}]".to_vec(),
        );
        assert_eq!(array.unwrap().filter(Result::is_ok).count(), 1);
        let docs = RecordSource::new(
            file.clone(),
            Format::JsonDocuments,
            b"\xef\xbb\xbf{\n\"a\":1\n}".to_vec(),
        );
        assert_eq!(docs.unwrap().filter(Result::is_ok).count(), 1);
        let piece = LinesPiece {
            data: b"\xef\xbb\xbf{\"a\":1}\n".to_vec(),
            lines_before: 0,
        };
        assert!(RecordSource::lines(file, piece).all(|r| r.is_ok()));
    }

    #[test]
    fn detects_formats_by_content() {
        assert_eq!(detect(b"ElfFile\0rest"), Some(Format::Evtx));
        assert_eq!(detect(b"\n {\"a\":1}"), Some(Format::JsonLines));
        assert_eq!(
            detect(b"{\n \"a\": 1\n}\n{\"b\":2}"),
            Some(Format::JsonDocuments)
        );
        let out: Vec<_> = source(b"{\n \"a\": 1\n}\n{\"b\":2}").collect();
        assert_eq!(out[1].as_ref().unwrap().record_id, 2);
        assert_eq!(detect(b"\xef\xbb\xbf[{}]"), Some(Format::JsonArray));
        assert_eq!(detect(b"[\n  {\"a\": 1}\n]"), Some(Format::JsonArray));
        assert_eq!(detect(b" [ ]"), Some(Format::JsonArray));
        // An object whose only key holds the events: CloudTrail's, Azure Monitor's.
        let cloudtrail = br#"{"Records":[{"eventVersion":"1.08","eventName":"ListBuckets"}]}"#;
        assert_eq!(detect(cloudtrail), Some(Format::JsonRecords));
        assert_eq!(
            detect(b"\xef\xbb\xbf{\n  \"records\": [\n    {\n      \"operationName\": \"x\""),
            Some(Format::JsonRecords)
        );
        assert_eq!(detect(b"{\"Records\":[]}"), Some(Format::JsonRecords));
        // Delivery files concatenated (`zcat *.json.gz`), one a line.
        let both = [&cloudtrail[..], b"\n", cloudtrail].concat();
        assert_eq!(detect(&both), Some(Format::JsonRecords));
        let records: Vec<_> = source(&both).map(|r| r.unwrap().record_id).collect();
        assert_eq!(records, [1, 2]);
        // With another key, or records that are no objects, it is an event as any other.
        assert_eq!(
            detect(b"{\"Records\":[{\"a\":1}],\"next\":\"x\"}\n"),
            Some(Format::JsonLines)
        );
        assert_eq!(detect(b"{\"records\":[1,2]}"), Some(Format::JsonLines));
        assert_eq!(detect(b"{\"recordsTotal\":[{}]}"), Some(Format::JsonLines));
        assert_eq!(
            detect(b"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok"),
            None
        );
        assert_eq!(detect(b"# README"), None);
        assert_eq!(detect(b""), None);
        // JSON lines whose first line is damaged: cut mid-event, a stray scalar, a bad line.
        let good = "{\"a\":1}\n{\"a\":2}\n";
        for first in ["ta\":\"x\"}", "1", "{\"a\":", "[[[[[", "{broken"] {
            let text = format!("{first}\n{good}");
            assert_eq!(detect(text.as_bytes()), Some(Format::JsonLines), "{first}");
            let out: Vec<_> = source(text.as_bytes()).collect();
            assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 2, "{first}");
        }
        // Pretty-printed JSON, a single object over lines or several, stays documents, even
        // holding one-line objects inside.
        let pretty = "{\n  \"a\": 1,\n  \"items\": [\n    {\"b\": 2}\n  ]\n}\n{\n  \"a\": 2\n}\n";
        assert_eq!(detect(pretty.as_bytes()), Some(Format::JsonDocuments));
        // Text logs are no JSON, whatever their first line.
        assert_eq!(
            detect(b"Jan 10 10:05:06 h sshd[1]: x\nJan 10 10:05:07 h sshd[1]: y\n"),
            None
        );
    }

    #[test]
    fn gzip_is_decompressed_then_detected_and_corrupt_gzip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        fs::write(&path, gz.finish().unwrap()).unwrap();
        let recs: Vec<_> = open(&path).unwrap().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(&*recs[1].file, path.as_path());

        let bad = dir.path().join("bad.gz");
        fs::write(&bad, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        assert!(matches!(open(&bad), Err(DecodeError::Gzip { .. })));
        let text = dir.path().join("notes.txt");
        fs::write(&text, "hello").unwrap();
        assert!(matches!(
            open(&text),
            Err(DecodeError::UnknownFormat { .. })
        ));
    }

    /// A file named `.gz` that is not gzip and in no format read as it is says so, rather than
    /// that its (never decompressed) content is no log; read as it is, it is a log all the
    /// same when it is one.
    #[test]
    fn a_file_named_gz_that_is_not_gzip_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let unknown = |name: &str, content: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, content).unwrap();
            match open_file(&path, LINES_PIECE_BYTES).unwrap() {
                Opened::Unknown(lines) => Some(lines.unknown_format()),
                _ => None,
            }
        };
        let error = unknown("notes.log.GZ", b"just some notes\n").unwrap();
        assert!(matches!(error, DecodeError::NotGzip { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("named .gz but not gzip-compressed"),
            "{error}"
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"just some notes\n").unwrap();
        let error = unknown("notes.gz", &gz.finish().unwrap()).unwrap();
        assert!(
            matches!(error, DecodeError::UnknownFormat { .. }),
            "{error}"
        );
        let error = unknown("notes.txt", b"just some notes\n").unwrap();
        assert!(
            matches!(error, DecodeError::UnknownFormat { .. }),
            "{error}"
        );
        assert!(
            unknown("events.json.gz", b"{\"a\": 1}\n").is_none(),
            "JSON lines are read as they are"
        );
    }

    #[test]
    fn json_lines_come_in_pieces_of_whole_lines_numbered_as_in_the_file() {
        let text = b"{\"a\":1}\n{\"a\":22}\n\n{\"a\":333333333333}\n{\"a\":4}";
        let pieces: Vec<LinesPiece> = LinesPieces::new(&text[..], 10)
            .map(Result::unwrap)
            .collect();
        assert!(pieces.len() > 1);
        let joined: Vec<u8> = pieces.iter().flat_map(|p| p.data.clone()).collect();
        assert_eq!(joined, text);
        for p in &pieces[..pieces.len() - 1] {
            assert_eq!(
                p.data.last(),
                Some(&b'\n'),
                "a piece ends with a whole line"
            );
        }
        // Records numbered piece by piece are those of the whole file.
        let file: Arc<Path> = Arc::from(Path::new("x.jsonl"));
        let by_piece: Vec<u64> = pieces
            .into_iter()
            .flat_map(|p| RecordSource::lines(file.clone(), p))
            .map(|r| r.unwrap().record_id)
            .collect();
        let whole: Vec<u64> = source(text).map(|r| r.unwrap().record_id).collect();
        assert_eq!(by_piece, whole);
        assert_eq!(whole, [1, 2, 4, 5]);
    }

    /// A progress bar over a gzip file moves piece by piece, not only at its end.
    #[test]
    fn a_lines_file_says_how_far_through_the_disk_file_it_has_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl.gz");
        // Numbers that compress badly, so that the compressed file is several pieces long.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let lines: String = (0..100_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{{\"n\":{i},\"r\":\"{x:x}\"}}\n")
            })
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(lines.as_bytes()).unwrap();
        fs::write(&path, gz.finish().unwrap()).unwrap();
        let size = fs::metadata(&path).unwrap().len();

        let Opened::Lines(mut pieces) = open_file(&path, 256 * 1024).unwrap() else {
            panic!("not read as JSON lines");
        };
        let mut read = Vec::new();
        let mut text = Vec::new();
        while let Some(piece) = pieces.next() {
            text.extend(piece.unwrap().data);
            read.push(pieces.disk_bytes_read());
        }
        assert_eq!(text, lines.as_bytes());
        assert!(read.len() > 4, "{read:?}");
        assert!(read.windows(2).all(|w| w[0] <= w[1]), "{read:?}");
        assert!(read[0] < size / 2, "{read:?} of {size}");
        assert_eq!(read.last(), Some(&size));
    }

    #[test]
    fn a_read_error_comes_after_the_whole_lines_before_it() {
        /// Gives `ok` bytes, then fails (a gzip stream damaged mid-way).
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "corrupt deflate stream",
                    ));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let items: Vec<_> =
            LinesPieces::new(Failing(b"{\"a\":1}\n{\"a\":2}\n{\"a\""), 1 << 20).collect();
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().data, b"{\"a\":1}\n{\"a\":2}\n");
        assert!(items[1].is_err());
    }

    #[test]
    fn utf16_text_with_a_byte_order_mark_is_read_as_the_utf8_it_spells() {
        let dir = tempfile::tempdir().unwrap();
        let utf16 = |text: &str, big_endian: bool| -> Vec<u8> {
            let units = std::iter::once(0xfeff).chain(text.encode_utf16());
            units
                .flat_map(|u| match big_endian {
                    true => u.to_be_bytes(),
                    false => u.to_le_bytes(),
                })
                .collect()
        };
        let lines = "{\"user\":\"José\",\"n\":1}\r\n{\"note\":\"🦀\",\"n\":2}\r\n";
        let le = dir.path().join("events.json");
        fs::write(&le, utf16(lines, false)).unwrap();
        let recs: Vec<_> = open(&le).unwrap().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].event.lookup_text("user").unwrap(), "José");
        assert_eq!(recs[1].event.lookup_text("note").unwrap(), "🦀");
        assert!(matches!(open_file(&le, 1000).unwrap(), Opened::Lines(_)));
        // PowerShell's ConvertTo-Json writes an array over lines; big-endian, gzip'd.
        let array = dir.path().join("events.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&utf16("[\r\n  {\"n\": 1},\r\n  {\"n\": 2}\r\n]", true))
            .unwrap();
        fs::write(&array, gz.finish().unwrap()).unwrap();
        assert_eq!(open(&array).unwrap().filter(Result::is_ok).count(), 2);
        assert!(matches!(
            open_file(&array, 1000).unwrap(),
            Opened::Documents(_)
        ));
        // Text of no JSON format is text all the same (a syslog file).
        let text = dir.path().join("auth.log");
        fs::write(
            &text,
            utf16(
                "Jan  1 00:00:01 host sshd[1]: Failed password for root\n",
                false,
            ),
        )
        .unwrap();
        let Opened::Unknown(mut lines) = open_file(&text, 1000).unwrap() else {
            panic!("text");
        };
        let piece = lines.next().unwrap().unwrap();
        assert!(piece.data.starts_with(b"Jan  1 00:00:01 host sshd[1]"));
        // A lone byte of a would-be mark, and UTF-8, pass as they are.
        let short = dir.path().join("short.json");
        fs::write(&short, b"{\"a\":1}").unwrap();
        assert_eq!(open(&short).unwrap().count(), 1);
    }

    #[test]
    fn open_file_streams_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (1..=1000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(lines.as_bytes()).unwrap();
        let compressed = gz.finish().unwrap();
        let path = dir.path().join("big.jsonl.gz");
        fs::write(&path, &compressed).unwrap();
        let Opened::Lines(pieces) = open_file(&path, 1000).unwrap() else {
            panic!("JSON lines are streamed");
        };
        let pieces: Vec<LinesPiece> = pieces.map(Result::unwrap).collect();
        assert!(pieces.len() >= 10);
        let ids: Vec<u64> = pieces
            .into_iter()
            .flat_map(|p| RecordSource::lines(Arc::from(path.as_path()), p))
            .map(|r| r.unwrap().record_id)
            .collect();
        assert_eq!(ids, (1..=1000).collect::<Vec<u64>>());
        // Cut short: the lines before the damage, then the gzip error naming the file.
        let cut = dir.path().join("cut.jsonl.gz");
        fs::write(&cut, &compressed[..compressed.len() / 2]).unwrap();
        let Opened::Lines(pieces) = open_file(&cut, 1000).unwrap() else {
            panic!("JSON lines are streamed");
        };
        let items: Vec<_> = pieces.collect();
        assert!(matches!(items.last(), Some(Err(DecodeError::Gzip { .. }))));
        assert!(items.iter().filter(|i| i.is_ok()).count() > 1);

        let text = dir.path().join("notes.txt");
        fs::write(&text, "hello\nworld\n").unwrap();
        let Opened::Unknown(lines) = open_file(&text, 1000).unwrap() else {
            panic!("text is no format Vigil decodes");
        };
        // Its lines are there from the start, for a caller reading other text (syslog).
        let pieces: Vec<LinesPiece> = lines.map(Result::unwrap).collect();
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].data, b"hello\nworld\n");
        assert_eq!(pieces[0].lines_before, 0);

        // An empty file, blank lines or an empty gzip: no events, and no unknown format.
        let empty_gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
            .finish()
            .unwrap();
        for (name, content) in [
            ("empty.log", &b""[..]),
            ("blank.jsonl", b"\n  \n\r\n"),
            ("empty.log.gz", &empty_gzip),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, content).unwrap();
            let Opened::Lines(pieces) = open_file(&path, 1000).unwrap() else {
                panic!("{name} is read as holding no events");
            };
            let records = pieces
                .map(Result::unwrap)
                .flat_map(|p| RecordSource::lines(Arc::from(path.as_path()), p))
                .count();
            assert_eq!(records, 0, "{name}");
        }
        // Named as EVTX, the same is a failed copy: Windows never writes one so.
        for (name, content, held) in [
            ("Security.evtx", &b""[..], "the file is empty (0 bytes)"),
            ("System.EVTX", b"\n\n", "the file holds only 2 blank bytes"),
            ("Sysmon.evtx.gz", &empty_gzip, "the file is empty (0 bytes)"),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, content).unwrap();
            let Err(e) = open_file(&path, 1000) else {
                panic!("{name} was read as holding no events");
            };
            let said = e.to_string();
            assert!(matches!(e, DecodeError::Evtx { .. }), "{said}");
            assert!(said.contains(held), "{said}");
            assert!(said.contains("copy the log again"), "{said}");
        }
    }

    /// Content made as it is read: `head`, then `fill` bytes of `byte`, then `tail`; a file of
    /// gigabytes without the gigabytes.
    struct Generated {
        parts: Vec<(Vec<u8>, u64)>,
    }

    impl Generated {
        fn new(head: &[u8], byte: u8, fill: u64, tail: &[u8]) -> Generated {
            Generated {
                parts: vec![
                    (tail.to_vec(), 1),
                    (vec![byte; 64 * 1024], fill),
                    (head.to_vec(), 1),
                ],
            }
        }
    }

    impl Read for Generated {
        /// Reads `fill` bytes from the repeated block, counting bytes down.
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            while let Some((bytes, left)) = self.parts.last_mut() {
                let repeated = bytes.len() == 64 * 1024;
                let n = if repeated {
                    (*left).min(buf.len() as u64).min(bytes.len() as u64) as usize
                } else {
                    buf.len().min(bytes.len())
                };
                if n == 0 {
                    self.parts.pop();
                    continue;
                }
                buf[..n].copy_from_slice(&bytes[..n]);
                if repeated {
                    *left -= n as u64;
                } else {
                    bytes.drain(..n);
                }
                return Ok(n);
            }
            Ok(0)
        }
    }

    /// A line longer than the cap is skipped a block at a time (its bytes never held), said
    /// with its number, and the lines after it read and numbered as in the file.
    #[test]
    fn a_line_longer_than_the_cap_is_skipped_and_the_next_ones_read() {
        let limit = 64 * 1024;
        let reader = Generated::new(
            b"{\"a\":1}\n{\"x\":\"",
            b' ',
            64 * 1024 * 1024,
            b"\"}\n{\"b\":2}\n",
        );
        let items: Vec<_> = LinesPieces::new(reader, 4096).max_line(limit).collect();
        let mut lines = Vec::new();
        let mut too_long = Vec::new();
        for item in items {
            match item {
                Ok(piece) => {
                    assert!(
                        piece.data.len() <= 4096 + limit + 64 * 1024,
                        "pieces stay small"
                    );
                    lines.extend(
                        RecordSource::lines(Arc::from(Path::new("t.jsonl")), piece)
                            .map(|r| r.unwrap().record_id),
                    );
                }
                Err(LinesError::TooLong { line, limit }) => too_long.push((line, limit)),
                Err(LinesError::Read(e)) => panic!("{e}"),
            }
        }
        assert_eq!(lines, [1, 3]);
        assert_eq!(too_long, [(2, limit)]);

        // The last line, with no newline after it, and a first line: the same.
        let reader = Generated::new(b"", b'x', 200_000, b"");
        let items: Vec<_> = LinesPieces::new(reader, 4096).max_line(limit).collect();
        assert!(matches!(
            items[..],
            [Err(LinesError::TooLong { line: 1, .. })]
        ));
        let reader = Generated::new(b"{}\n", b'x', 200_000, b"");
        let items: Vec<_> = LinesPieces::new(reader, 4096).max_line(limit).collect();
        assert!(matches!(
            items[..],
            [Ok(_), Err(LinesError::TooLong { line: 2, .. })]
        ));
    }

    /// Opened from a gzip file, a line too long is a record error naming the line and the
    /// limit; an element too long ends a JSON array or documents after the elements before.
    #[test]
    fn open_file_reports_a_record_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let gzip = |name: &str, content: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(content).unwrap();
            let path = dir.path().join(name);
            fs::write(&path, gz.finish().unwrap()).unwrap();
            path
        };
        let long = " ".repeat(3 * 1024 * 1024);
        let lines = gzip(
            "long.jsonl.gz",
            format!("{{\"a\":1}}\n{{\"x\":\"{long}\"}}\n{{\"b\":2}}\n").as_bytes(),
        );
        let Opened::Lines(pieces) = open_file_capped(&lines, 4096, 1024 * 1024).unwrap() else {
            panic!("JSON lines are streamed");
        };
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        for piece in pieces {
            match piece {
                Ok(p) => ids.extend(
                    RecordSource::lines(Arc::from(lines.as_path()), p)
                        .map(|r| r.unwrap().record_id),
                ),
                Err(e) => errors.push(e.to_string()),
            }
        }
        assert_eq!(ids, [1, 3]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].ends_with("record 2: the line is longer than 1 MiB, the most Vigil reads as one event; check that the file is a log (no log writes a line this long); the record was skipped"),
            "{}",
            errors[0]
        );

        // One line longer than what is read to tell the format: documents, one too long.
        for (name, content, before) in [
            ("one.json.gz", format!("{{\"x\":\"{long}\"}}"), 0),
            (
                "array.json.gz",
                format!("[{{\"a\":1}},\n{{\"x\":\"{long}\"}}]"),
                1,
            ),
            (
                "blanks.json.gz",
                format!("[{{\"a\":1}}{long},{long}{{}}]"),
                2,
            ),
        ] {
            let path = gzip(name, content.as_bytes());
            let Opened::Documents(pieces) = open_file_capped(&path, 4096, 1024 * 1024).unwrap()
            else {
                panic!("{name} is read as JSON documents");
            };
            let mut records = 0;
            let mut errors = Vec::new();
            for piece in pieces {
                match piece {
                    Ok(p) => {
                        records += RecordSource::documents(Arc::from(path.as_path()), p)
                            .map(Result::unwrap)
                            .count()
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            assert_eq!(records, before, "{name}");
            if name == "blanks.json.gz" {
                // Blanks between elements are no element: dropped as they are read.
                assert!(errors.is_empty(), "{name}: {errors:?}");
                continue;
            }
            assert_eq!(errors.len(), 1, "{name}");
            assert!(
                errors[0].contains(&format!(
                    "element {} is longer than 1 MiB, the most Vigil reads as one event; the rest of the file was skipped",
                    before + 1
                )),
                "{name}: {}",
                errors[0]
            );
        }
    }

    /// A JSON array or pretty-printed documents, gzip or not, read a few elements at a time,
    /// gives the records of the file decoded whole; damage ends it after the elements before.
    #[test]
    fn json_arrays_and_documents_come_in_pieces_of_whole_elements() {
        let dir = tempfile::tempdir().unwrap();
        let elements: Vec<String> = (1..=500)
            .map(|i| format!("{{\n  \"n\": {i},\n  \"s\": \"a ] b }} c \\\" d\"\n}}"))
            .collect();
        let array = format!("\u{feff}[\n{}\n]\n", elements.join(",\n"));
        let documents = elements.join("\n");
        let gzip = |text: &str| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap()
        };
        // CloudTrail's delivery file: one line, gzip'd; Azure Monitor's export, over lines.
        let one_line: Vec<String> = elements.iter().map(|e| e.replace('\n', "")).collect();
        let cloudtrail = format!("{{\"Records\":[{}]}}", one_line.join(","));
        let azure = format!("{{\n  \"records\": [\n{}\n  ]\n}}\n", elements.join(",\n"));
        let files = [
            ("a.json", array.as_bytes().to_vec(), Format::JsonArray),
            ("a.json.gz", gzip(&array), Format::JsonArray),
            (
                "d.json",
                documents.as_bytes().to_vec(),
                Format::JsonDocuments,
            ),
            ("ct.json.gz", gzip(&cloudtrail), Format::JsonRecords),
            ("azure.json", azure.into_bytes(), Format::JsonRecords),
        ];
        let outcome = |r: Result<Record, DecodeError>| match r {
            Ok(r) => Ok((r.record_id, r.event.value().clone())),
            Err(e) => Err(e.to_string()),
        };
        for (name, content, format) in files {
            let path = dir.path().join(name);
            fs::write(&path, &content).unwrap();
            assert_eq!(read_file(&path).unwrap().unwrap().0, format, "{name}");
            let file: Arc<Path> = Arc::from(path.as_path());
            let whole: Vec<_> =
                RecordSource::new(file.clone(), format, read_decompressed(&path).unwrap())
                    .unwrap()
                    .map(outcome)
                    .collect();
            assert_eq!(whole.len(), 500, "{name}");
            assert!(whole.iter().all(Result::is_ok), "{name}: {:?}", whole[0]);
            assert_eq!(whole[499].as_ref().unwrap().1["n"], 500);
            let Opened::Documents(pieces) = open_file(&path, 1000).unwrap() else {
                panic!("{name} is not read in pieces");
            };
            let pieces: Vec<DocumentsPiece> = pieces.map(Result::unwrap).collect();
            assert!(pieces.len() > 10, "{name}");
            let by_piece: Vec<_> = pieces
                .into_iter()
                .flat_map(|p| RecordSource::documents(file.clone(), p))
                .map(outcome)
                .collect();
            assert_eq!(by_piece, whole, "{name}");
        }
        // Damaged after the 100th element: those come first, then the error.
        let damaged = dir.path().join("damaged.json");
        let text = format!("[{}, {{\"x\": 1}} {{\"y\": 2}}]", elements[..100].join(","));
        fs::write(&damaged, &text).unwrap();
        let Opened::Documents(pieces) = open_file(&damaged, 1000).unwrap() else {
            panic!("not read in pieces");
        };
        let items: Vec<_> = pieces.collect();
        let records: usize = items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|p| p.elements.len())
            .sum();
        assert_eq!(records, 101);
        let Some(Err(e @ DecodeError::JsonArray { .. })) = items.last() else {
            panic!("{:?}", items.last().map(Result::is_ok));
        };
        assert!(e.to_string().contains("expected `,` or `]`"), "{e}");
        let whole = RecordSource::new(
            Arc::from(damaged.as_path()),
            Format::JsonArray,
            text.into_bytes(),
        )
        .unwrap();
        let results: Vec<_> = whole.collect();
        assert_eq!(results.len(), 102);
        assert!(results[..101].iter().all(Result::is_ok));
        // A bad element is its own error; the rest of the array still counts.
        let source = RecordSource::new(
            Arc::from(Path::new("b.json")),
            Format::JsonArray,
            b"[{\"a\": tru}, 7, {\"b\": 2}]".to_vec(),
        )
        .unwrap();
        let results: Vec<_> = source.map(outcome).collect();
        assert!(results[0].is_err() && results[1].is_err());
        assert_eq!(results[2].as_ref().unwrap().0, 3);
    }

    #[test]
    fn an_error_gives_its_reason_without_its_place() {
        let path = PathBuf::from("logs/a b.json");
        let record = DecodeError::Record {
            path: path.clone(),
            record: 7,
            reason: "bad".into(),
        };
        assert_eq!(record.reason(), "bad; the record was skipped");
        let array = DecodeError::JsonArray {
            path: path.clone(),
            reason: "not a JSON array at byte 9".into(),
        };
        assert_eq!(
            array.reason(),
            "invalid JSON: not a JSON array at byte 9; the rest of the file was skipped"
        );
        assert_eq!(array.path(), path);
    }

    /// `text` written to `auth.log` and gzip-compressed to `auth.log.gz` in `dir`, each opened
    /// in pieces of 40 bytes: no format the decoders read, so its lines.
    fn unknown_plain_and_gzip(dir: &Path, text: &str) -> Vec<(&'static str, LinesFile)> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        [
            ("auth.log", text.as_bytes().to_vec()),
            ("auth.log.gz", gz.finish().unwrap()),
        ]
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            fs::write(&path, bytes).unwrap();
            let Opened::Unknown(lines) = open_file(&path, 40).unwrap() else {
                panic!("{name}: syslog is no format the decoders read");
            };
            (name, lines)
        })
        .collect()
    }

    #[test]
    fn text_of_no_known_format_opens_as_lines_gzip_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let text = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed\nOct 11 22:14:16 host sshd[1]: ok\n";
        for (name, lines) in unknown_plain_and_gzip(dir.path(), text) {
            let pieces: Vec<LinesPiece> = lines.map(Result::unwrap).collect();
            assert_eq!(pieces.len(), 2, "{name}");
            assert_eq!(pieces[1].lines_before, 1, "{name}");
            let joined: Vec<u8> = pieces.into_iter().flat_map(|p| p.data).collect();
            assert_eq!(joined, text.as_bytes(), "{name}");
        }
        assert!(matches!(
            open_file(&dir.path().join("missing.log"), 40),
            Err(DecodeError::Io { .. })
        ));
    }

    #[test]
    fn a_small_gzip_text_log_cut_short_gives_its_lines_before_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..3000)
            .map(|i| format!("Jan 10 10:05:06 bastion sshd[{i}]: Failed password for root\n"))
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let whole = gz.finish().unwrap();
        let path = dir.path().join("auth.log.gz");
        fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let Opened::Unknown(lines) = open_file(&path, 1 << 20).unwrap() else {
            panic!("text lines");
        };
        let read: Vec<_> = lines.collect();
        let (ok, errors): (Vec<_>, Vec<_>) = read.into_iter().partition(Result::is_ok);
        let kept: usize = ok
            .iter()
            .map(|p| {
                p.as_ref()
                    .unwrap()
                    .data
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count()
            })
            .sum();
        assert!(kept > 500, "{kept} lines before the cut");
        assert!(matches!(errors.as_slice(), [Err(DecodeError::Gzip { .. })]));
        // Damage before any whole line of text is the damage alone.
        let bad = dir.path().join("bad.gz");
        fs::write(&bad, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        assert!(matches!(open_file(&bad, 40), Err(DecodeError::Gzip { .. })));
    }

    /// A syslog file, gzip or not, read in small pieces: one record per line numbered as in the
    /// file, the message as JSON with its timestamp, a line that is no message an error in its
    /// place; text that is no syslog is not taken for it.
    #[test]
    fn syslog_files_are_read_in_pieces_as_records_numbered_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "\u{feff}<34>1 2026-01-10T10:05:04Z bastion sshd 42 - - Failed password for root\n\
                    \n\
                    Jan 10 10:05:06 bastion CRON[7]: (root) CMD (run-parts /etc/cron.hourly)\n\
                    <999>not a message\n\
                    Jan 10 10:05:08 bastion sudo:    alice : TTY=pts/0 ; COMMAND=/bin/sh\n";
        for (name, lines) in unknown_plain_and_gzip(dir.path(), text) {
            let path = dir.path().join(name);
            let pieces: Vec<TextLogPiece> = lines
                .into_text_log(&LocalZone::UTC)
                .ok()
                .expect("recognised as syslog")
                .map(Result::unwrap)
                .collect();
            assert!(pieces.len() > 2, "{name}: read in pieces");
            let file: Arc<Path> = Arc::from(path.as_path());
            let records: Vec<Result<Record, DecodeError>> = pieces
                .into_iter()
                .flat_map(|piece| RecordSource::text_log(file.clone(), piece))
                .collect();
            assert_eq!(records.len(), 4, "{name}");
            let ok: Vec<&Record> = records.iter().filter_map(|r| r.as_ref().ok()).collect();
            let ids: Vec<u64> = ok.iter().map(|r| r.record_id).collect();
            assert_eq!(
                ids,
                [1, 3, 5],
                "{name}: numbered by line, blank lines counted"
            );
            assert_eq!(ok[0].event.lookup_text("app_name").unwrap(), "sshd");
            assert_eq!(
                ok[0].event.lookup_text("message").unwrap(),
                "Failed password for root"
            );
            assert_eq!(
                ok[0].timestamp,
                crate::time::parse_timestamp("2026-01-10T10:05:04Z")
            );
            assert_eq!(ok[1].event.lookup_text("app_name").unwrap(), "CRON");
            assert!(ok[2].timestamp.is_some(), "{name}: RFC 3164 gets a year");
            let Err(DecodeError::Record { record: 4, .. }) = &records[2] else {
                panic!(
                    "{name}: the bad line is an error in its place: {:?}",
                    records[2]
                );
            };
        }
        let notes = dir.path().join("notes.txt");
        fs::write(&notes, "shopping list\nmilk\n").unwrap();
        let Opened::Unknown(lines) = open_file(&notes, 40).unwrap() else {
            panic!("text is no format Vigil decodes");
        };
        assert!(lines.into_text_log(&LocalZone::UTC).is_err());
    }

    /// An IIS (W3C extended) log read in small pieces: each piece knows the field names of
    /// the last `#Fields:` directive before it, a new header mid-file (IIS restarted with other
    /// fields) applies from there on, and directives are no records.
    #[test]
    fn w3c_logs_are_read_by_their_latest_fields_directive() {
        let dir = tempfile::tempdir().unwrap();
        let text = "#Software: Microsoft Internet Information Services 10.0\n\
                    #Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status\n\
                    2026-12-03 22:15:10 203.0.113.9 GET /a.aspx x=1 200\n\
                    2026-12-03 22:15:11 203.0.113.9 GET /b.aspx - 404\n\
                    #Fields: date time c-ip cs-method cs-uri-stem sc-status\n\
                    2026-12-03 22:15:12 203.0.113.9 POST /c.aspx 500\n\
                    2026-12-03 22:15:13 too few\n";
        let path = dir.path().join("u_ex261203.log");
        fs::write(&path, text).unwrap();
        let Opened::Unknown(lines) = open_file(&path, 40).unwrap() else {
            panic!("W3C is no format the JSON decoders read");
        };
        let file: Arc<Path> = Arc::from(path.as_path());
        let pieces: Vec<TextLogPiece> = lines
            .into_text_log(&LocalZone::UTC)
            .ok()
            .expect("recognised as W3C")
            .map(Result::unwrap)
            .collect();
        assert!(pieces.len() > 2, "read in pieces");
        let records: Vec<Result<Record, DecodeError>> = pieces
            .into_iter()
            .flat_map(|piece| RecordSource::text_log(file.clone(), piece))
            .collect();
        assert_eq!(records.len(), 4, "directives are no records: {records:?}");
        let ok: Vec<&Record> = records.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(
            ok.iter().map(|r| r.record_id).collect::<Vec<_>>(),
            [3, 4, 6]
        );
        assert_eq!(ok[0].event.lookup_text("cs-uri-query").unwrap(), "x=1");
        assert!(ok[1].event.lookup_text("cs-uri-query").is_none());
        assert_eq!(ok[2].event.lookup_text("cs-method").unwrap(), "POST");
        assert_eq!(ok[2].event.lookup_text("sc-status").unwrap(), "500");
        assert_eq!(
            ok[2].timestamp,
            crate::time::parse_timestamp("2026-12-03T22:15:12Z")
        );
        assert!(matches!(
            records[3],
            Err(DecodeError::Record { record: 7, .. })
        ));
    }

    /// A web access log, gzip or not, read like a syslog file: a record per line with the
    /// webserver fields and the request's time; a line in another format an error in its place.
    #[test]
    fn access_logs_are_read_as_records_numbered_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] \"GET /a?x=1 HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n\
                    garbage\n\
                    203.0.113.9 - - [10/Oct/2026:13:55:37 -0700] \"GET /.git/config HTTP/1.1\" 404 0 \"-\" \"curl/8\"\n";
        for (name, lines) in unknown_plain_and_gzip(dir.path(), text) {
            let file: Arc<Path> = Arc::from(dir.path().join(name).as_path());
            let records: Vec<Result<Record, DecodeError>> = lines
                .into_text_log(&LocalZone::UTC)
                .ok()
                .expect("recognised as an access log")
                .map(Result::unwrap)
                .flat_map(|piece| RecordSource::text_log(file.clone(), piece))
                .collect();
            assert_eq!(records.len(), 3, "{name}");
            let first = records[0].as_ref().unwrap();
            assert_eq!(first.event.lookup_text("cs-uri-query").unwrap(), "x=1");
            assert_eq!(
                first.timestamp,
                crate::time::parse_timestamp("2026-10-10T20:55:36Z")
            );
            assert!(matches!(
                records[1],
                Err(DecodeError::Record { record: 2, .. })
            ));
            let third = records[2].as_ref().unwrap();
            assert_eq!(
                (
                    third.record_id,
                    third.event.lookup_text("cs-uri-stem").unwrap()
                ),
                (3, "/.git/config".into())
            );
        }
    }

    #[test]
    fn walks_folders_sorted_and_fails_on_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("b")).unwrap();
        fs::write(dir.path().join("b/2.json"), "[]").unwrap();
        fs::write(dir.path().join("a.json"), "[]").unwrap();
        fs::write(dir.path().join("c.json"), "[]").unwrap();
        let collected = collect_files(&[dir.path().to_path_buf()]).unwrap();
        assert!(collected.skipped.is_empty(), "{:?}", collected.skipped);
        let files = collected.files;
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                Path::new("a.json"),
                Path::new("b/2.json"),
                Path::new("c.json")
            ]
        );
        assert!(files.iter().all(|f| !f.explicit));
        // Found in a folder, a file named like a log must decode; a README need not.
        let found = |name: &str| InputFile {
            path: dir.path().join(name),
            explicit: false,
        };
        assert!(found("Security.evtx").must_decode() && found("x.JSONL.GZ").must_decode());
        assert!(!found("README.md").must_decode() && !found("collect.ps1").must_decode());
        // A text log in no format Vigil reads is skipped, but named.
        assert!(
            found("CBS.log").named_like_text_log() && found("app.LOG.1.gz").named_like_text_log()
        );
        assert!(
            !found("README.md").named_like_text_log()
                && !found("catalog.txt").named_like_text_log()
        );
        // --text reads a folder's logs as plain lines, not its documents and scripts.
        for log in [
            "app.log",
            "catalog.txt",
            "messages",
            "app.out.1",
            "dmesg.0.gz",
        ] {
            assert!(found(log).may_be_plain_text(), "{log}");
        }
        for document in [
            "README",
            "LICENSE.txt",
            "readme.md",
            "collect.ps1",
            "notes.MD",
        ] {
            assert!(!found(document).may_be_plain_text(), "{document}");
        }
        let named = InputFile {
            path: dir.path().join("README"),
            explicit: true,
        };
        assert!(
            named.may_be_plain_text(),
            "a file named on the command line is read"
        );
        assert!(matches!(
            collect_files(&[dir.path().join("missing")]),
            Err(DecodeError::Io { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_named_that_cannot_be_read_fails_the_collection_as_a_missing_one_does() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A socket cannot be opened, by root either.
        let socket = dir.path().join("collector.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        fs::write(dir.path().join("a.jsonl"), "{}\n").unwrap();
        let error = collect_files(&[dir.path().join("a.jsonl"), socket.clone()]);
        let Err(error @ DecodeError::Io { .. }) = error else {
            panic!("{error:?}");
        };
        assert_eq!(error.path(), socket);
        assert!(
            error
                .to_string()
                .contains("collector.sock: a socket, not a file"),
            "{error}"
        );
        // No permission: what a user meets (root reads the file all the same).
        let locked = dir.path().join("locked.jsonl");
        fs::write(&locked, "{}\n").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::File::open(&locked).is_err() {
            let error = collect_files(std::slice::from_ref(&locked)).unwrap_err();
            assert!(error.to_string().contains("ermission denied"), "{error}");
        }
        // A FIFO (`<(zcat …)`) is not opened to check it: that would wait for a writer, and
        // what was read would be lost; it is read when its turn comes.
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let (sent, collected) = std::sync::mpsc::channel();
        let named = fifo.clone();
        std::thread::spawn(move || sent.send(collect_files(&[named]).map(|c| c.files.len())));
        match collected.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(files) => assert_eq!(files.unwrap(), 1),
            Err(_) => {
                // Let the blocked open go before failing.
                let _ = fs::OpenOptions::new().write(true).open(&fifo);
                panic!("collecting a FIFO opened it and waited for a writer");
            }
        }
    }

    /// A file found twice — in overlapping paths, named twice, or through a link — is read
    /// once, under the name it was first found by, and counted.
    #[cfg(unix)]
    #[test]
    fn a_file_found_twice_is_collected_once() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("HOST-A");
        let logs = host.join("Logs");
        fs::create_dir_all(&logs).unwrap();
        fs::write(host.join("a.jsonl"), "{}\n").unwrap();
        fs::write(logs.join("b.jsonl"), "{}\n").unwrap();
        std::os::unix::fs::symlink(logs.join("b.jsonl"), host.join("b-link.jsonl")).unwrap();
        let collected = collect_files(&[host.clone(), logs.clone(), logs.join("b.jsonl")]).unwrap();
        let files: Vec<_> = collected
            .files
            .iter()
            .map(|f| (f.path.clone(), f.explicit))
            .collect();
        // `Logs` sorts before `b-link.jsonl` (capitals first): its name is kept, named on the
        // command line as the third path names it.
        assert_eq!(
            files,
            [(logs.join("b.jsonl"), true), (host.join("a.jsonl"), false)]
        );
        assert_eq!(collected.given_twice, 3);
        // Files of the same content that are not the same file are both read.
        fs::write(host.join("c.jsonl"), "{}\n").unwrap();
        let collected = collect_files(&[host.join("a.jsonl"), host.join("c.jsonl")]).unwrap();
        assert_eq!(collected.files.len(), 2);
        assert_eq!(collected.given_twice, 0);
        // A link to no file, reached by two paths, is skipped once: it is reported once.
        std::os::unix::fs::symlink("/nonexistent/Security.evtx", logs.join("gone.evtx")).unwrap();
        let collected = collect_files(&[host.clone(), logs.clone()]).unwrap();
        assert_eq!(collected.skipped.len(), 1, "{:?}", collected.skipped);
    }

    /// A link in a folder to a file that is not there is reported, not passed over; links to
    /// a file are read, links to a folder left out.
    #[cfg(unix)]
    #[test]
    fn a_dangling_link_inside_a_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path().join("case");
        fs::create_dir(&case).unwrap();
        fs::write(dir.path().join("real.jsonl"), "{}\n").unwrap();
        std::os::unix::fs::symlink("/nonexistent/Security.evtx", case.join("Security.evtx"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.jsonl"), case.join("linked.jsonl"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path(), case.join("up")).unwrap();
        let collected = collect_files(std::slice::from_ref(&case)).unwrap();
        let files: Vec<_> = collected.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(files, [case.join("linked.jsonl")]);
        assert_eq!(collected.skipped.len(), 1, "{:?}", collected.skipped);
        let said = collected.skipped[0].to_string();
        assert_eq!(collected.skipped[0].path(), case.join("Security.evtx"));
        assert!(
            said.contains(
                "a symbolic link to /nonexistent/Security.evtx, which does not exist (a link copied without its file)"
            ),
            "{said}"
        );
    }

    #[test]
    fn an_unreadable_folder_inside_is_skipped_and_the_walk_goes_on() {
        // Listing `np/sub` fails as it does for a user without read access (chmod 000, an ACL);
        // injected, because a test run as root would read it all the same.
        let root = Path::new("np");
        let listing = |entries: &[(&str, EntryKind)]| -> Listing {
            entries
                .iter()
                .map(|(name, kind)| (root.join(name), Ok(*kind)))
                .collect()
        };
        let top = listing(&[
            ("a.jsonl", EntryKind::File),
            ("locked", EntryKind::Folder),
            ("open", EntryKind::Folder),
            ("z.jsonl", EntryKind::File),
        ]);
        let mut out = Collected::default();
        walk(top, &mut out, &mut |dir: &Path| {
            if dir == root.join("locked") {
                Err(io::Error::from(io::ErrorKind::PermissionDenied))
            } else {
                Ok(vec![(dir.join("b.jsonl"), Ok(EntryKind::File))])
            }
        });
        let names: Vec<_> = out.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            names,
            [
                root.join("a.jsonl"),
                root.join("open/b.jsonl"),
                root.join("z.jsonl")
            ]
        );
        assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
        let DecodeError::FolderSkipped { path, .. } = &out.skipped[0] else {
            panic!("{:?}", out.skipped[0]);
        };
        assert_eq!(path, &root.join("locked"));
        let message = out.skipped[0].to_string();
        assert!(
            message.starts_with(
                "cannot read the folder np/locked: permission denied; its files were skipped"
            ),
            "{message}"
        );
    }

    #[test]
    fn evtx_decodes_like_evtx_dump() {
        let path =
            data_dir().join("evtx/EVTX-ATTACK-SAMPLES/Command and Control/DE_RDP_Tunnel_5156.evtx");
        let path = if path.exists() {
            path
        } else {
            collect_files(&[data_dir().join("evtx")])
                .unwrap()
                .files
                .into_iter()
                .find(|f| f.path.extension().is_some_and(|e| e == "evtx"))
                .unwrap()
                .path
        };
        let recs: Vec<_> = open(&path).unwrap().collect::<Result<_, _>>().unwrap();
        assert!(!recs.is_empty());
        for r in &recs {
            let system = &r.event.value()["Event"]["System"];
            assert_eq!(system["EventRecordID"].as_u64(), Some(r.record_id));
            let created = system["TimeCreated"]["#attributes"]["SystemTime"]
                .as_str()
                .unwrap();
            assert_eq!(crate::time::parse_timestamp(created), r.timestamp);
            assert!(system["Channel"].is_string());
            assert!(system["Provider"]["#attributes"]["Name"].is_string());
        }
    }

    #[test]
    fn evtx_matches_the_shared_jsonl_conversion() {
        // The shared JSON lines are `evtx_dump -o jsonl` over the same files: the first
        // record decoded here must appear there verbatim.
        let jsonl = data_dir().join("events/attack-samples.jsonl.gz");
        let first: Record = open(&jsonl).unwrap().next().unwrap().unwrap();
        let system = &first.event.value()["Event"]["System"];
        let (computer, id) = (system["Computer"].clone(), system["EventRecordID"].clone());
        // Find the EVTX file holding the same record by computer and record id.
        let files = collect_files(&[data_dir().join("evtx")]).unwrap().files;
        let found = files
            .iter()
            .filter(|f| f.path.extension().is_some_and(|e| e == "evtx"))
            .filter_map(|f| open(&f.path).ok())
            .flat_map(|s| s.filter_map(Result::ok))
            .any(|r| {
                r.event.value()["Event"]["System"]["Computer"] == computer
                    && r.event.value()["Event"]["System"]["EventRecordID"] == id
                    && r.event.value() == first.event.value()
            });
        assert!(found, "no EVTX record decodes to the first JSON line");
    }

    /// The shared EVTX sample with the most chunks.
    fn largest_evtx_sample() -> PathBuf {
        collect_files(&[data_dir().join("evtx")])
            .unwrap()
            .files
            .into_iter()
            .filter(|f| f.path.extension().is_some_and(|e| e == "evtx"))
            .max_by_key(|f| fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0))
            .unwrap()
            .path
    }

    /// The empty chunks a log was made with are left out before the parser reads them, from
    /// memory, from disk and from gzip alike; nothing else is.
    #[test]
    fn empty_chunks_at_the_end_are_left_out() {
        let chunk = EVTX_CHUNK_BYTES as u64;
        // Chunks of 7s, but for the empty ones; a file header counting no chunk in use.
        let empty = |empties: &[u64]| {
            let empties = empties.to_vec();
            move |at: u64, buffer: &mut [u8]| {
                let i = at.checked_sub(EVTX_HEADER_BYTES).map(|body| body / chunk);
                let empty = i.is_none_or(|i| empties.contains(&i));
                buffer.fill(if empty { 0 } else { 7 });
                Ok::<_, io::Error>(())
            }
        };
        let size = |chunks: u64| EVTX_HEADER_BYTES + chunks * chunk;
        let end = |end| ChunkEnd {
            end,
            data_end: end,
            cut: None,
        };
        assert_eq!(
            end_of_chunks(size(4), empty(&[2, 3])).unwrap(),
            end(size(2))
        );
        assert_eq!(
            end_of_chunks(size(4), empty(&[1, 3])).unwrap(),
            end(size(3))
        );
        assert_eq!(
            end_of_chunks(size(2), empty(&[0, 1])).unwrap(),
            end(size(0))
        );
        // A chunk cut short is filled out, from where its whole records end (none here: 7s are
        // no record), unless the part there is is empty too; cut in its header, it is left out.
        assert_eq!(
            end_of_chunks(size(4) + 1000, empty(&[3])).unwrap(),
            ChunkEnd {
                end: size(5),
                data_end: size(4) + EVTX_CHUNK_HEADER_BYTES as u64,
                cut: Some(Cut {
                    chunk: 4,
                    bytes: 1000,
                    in_use: 0,
                    records_lost: true
                })
            }
        );
        assert_eq!(
            end_of_chunks(size(4) + 10, empty(&[3])).unwrap(),
            ChunkEnd {
                end: size(4),
                data_end: size(4),
                cut: Some(Cut {
                    chunk: 4,
                    bytes: 10,
                    in_use: 0,
                    records_lost: true
                })
            }
        );
        assert_eq!(
            end_of_chunks(size(4) + 10, empty(&[2, 3, 4])).unwrap(),
            end(size(2))
        );
        // Cut before the chunk's header says where its free space starts: records may be
        // lost, whatever the file's header counts (here no chunk in use).
        let no_count = |at: u64, buffer: &mut [u8]| {
            buffer.fill(if at < EVTX_HEADER_BYTES { 0 } else { 7 });
            Ok::<_, io::Error>(())
        };
        let cut = |part: u64| {
            end_of_chunks(size(1) + part, no_count)
                .unwrap()
                .cut
                .unwrap()
        };
        assert!(cut(40).records_lost);
        // 7s: its free space starts at 0x07070707, past the end.
        assert!(cut(1000).records_lost);
        // Cut where a chunk ends, before the chunks the file's header counts in use.
        let counting = |in_use: u16| {
            move |at: u64, buffer: &mut [u8]| {
                buffer.fill(7);
                if at == FILE_HEADER_CHUNK_COUNT {
                    buffer.copy_from_slice(&in_use.to_le_bytes());
                }
                Ok::<_, io::Error>(())
            }
        };
        assert_eq!(
            end_of_chunks(size(2), counting(5)).unwrap(),
            ChunkEnd {
                end: size(2),
                data_end: size(2),
                cut: Some(Cut {
                    chunk: 2,
                    bytes: 0,
                    in_use: 5,
                    records_lost: true
                })
            }
        );
        assert_eq!(end_of_chunks(size(2), counting(2)).unwrap(), end(size(2)));
        // Records: each its magic and its size; the one the cut goes through is left out.
        let mut part = vec![7u8; EVTX_CHUNK_HEADER_BYTES];
        for size in [100u32, 60, 200] {
            part.extend_from_slice(b"\x2a\x2a\x00\x00");
            part.extend_from_slice(&size.to_le_bytes());
            part.resize(part.len() + size as usize - 8, 1);
        }
        let whole = EVTX_CHUNK_HEADER_BYTES + 160;
        assert_eq!(whole_records_end(&part), part.len());
        assert_eq!(whole_records_end(&part[..part.len() - 1]), whole);
        assert_eq!(whole_records_end(&part[..whole + 4]), whole);
        assert_eq!(end_of_chunks(100, empty(&[0])).unwrap(), end(100));

        let mut bounded = Bounded::new(io::Cursor::new(vec![7u8; size(1) as usize]), size(1))
            .unwrap()
            .0;
        assert_eq!(bounded.seek(io::SeekFrom::End(0)).unwrap(), size(1));
        let mut zeros = vec![7u8; size(1) as usize];
        zeros.extend(std::iter::repeat_n(0, 2 * EVTX_CHUNK_BYTES));
        let mut bounded = Bounded::new(io::Cursor::new(zeros), size(3)).unwrap().0;
        assert_eq!(bounded.seek(io::SeekFrom::End(0)).unwrap(), size(1));
        bounded.seek(io::SeekFrom::End(-10)).unwrap();
        let mut tail = Vec::new();
        bounded.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, [7; 10]);

        let dir = tempfile::tempdir().unwrap();
        let sample = largest_evtx_sample();
        let outcome = |r: Result<Record, DecodeError>| match r {
            Ok(r) => Ok((r.record_id, r.timestamp, r.event.to_json())),
            Err(e) => Err(e.to_string()),
        };
        let whole: Vec<_> = open(&sample).unwrap().map(outcome).collect();
        assert!(whole.iter().filter(|r| r.is_ok()).count() > 100);
        let mut data = fs::read(&sample).unwrap();
        data.extend(std::iter::repeat_n(0, 3 * EVTX_CHUNK_BYTES));
        let padded = dir.path().join("padded.evtx");
        fs::write(&padded, &data).unwrap();
        let gzipped = dir.path().join("padded.evtx.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        fs::write(&gzipped, gz.finish().unwrap()).unwrap();
        let in_memory: Vec<_> = open(&padded).unwrap().map(outcome).collect();
        assert_eq!(in_memory, whole);
        for path in [&padded, &gzipped] {
            let Opened::Evtx(mut pieces) = open_file(path, 2 * 65536).unwrap() else {
                panic!("{} not read as EVTX", path.display());
            };
            let mut decoded = Vec::new();
            for piece in pieces.by_ref() {
                let source = RecordSource::evtx(Arc::from(sample.as_path()), piece.unwrap());
                decoded.extend(source.map(outcome));
            }
            assert_eq!(decoded, whole, "{}", path.display());
            // The pieces still stand for the whole file, empty chunks included.
            assert_eq!(pieces.disk_bytes_read(), fs::metadata(path).unwrap().len());
        }
    }

    /// A decoded record as its id and JSON, or its error as text: what two decodings of one
    /// file are compared by.
    fn id_and_json(r: Result<Record, DecodeError>) -> Result<(u64, String), String> {
        match r {
            Ok(r) => Ok((r.record_id, r.event.to_json())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// An EVTX file read a chunk at a time ([`open_file`]), decoded piece by piece as the hunt
    /// and ingest do, as [`id_and_json`] (a piece's own error among them).
    fn evtx_in_pieces(path: &Path) -> Vec<Result<(u64, String), String>> {
        let Opened::Evtx(pieces) = open_file(path, EVTX_CHUNK_BYTES).unwrap() else {
            panic!("{} not read as EVTX", path.display());
        };
        let mut decoded = Vec::new();
        for piece in pieces {
            match piece {
                Ok(piece) => {
                    decoded.extend(RecordSource::evtx(Arc::from(path), piece).map(id_and_json))
                }
                Err(e) => decoded.push(Err(e.to_string())),
            }
        }
        decoded
    }

    /// An EVTX file cut short part-way through a chunk (an interrupted copy) gives the records
    /// before the cut, that chunk's too, then says it was cut, read whole, in pieces or from
    /// gzip; a cut in the empty chunks at its end is no damage.
    #[test]
    fn a_file_cut_part_way_through_a_chunk_gives_what_it_holds_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let sample = largest_evtx_sample();
        let data = fs::read(&sample).unwrap();
        let outcome = id_and_json;
        let whole: Vec<_> = open(&sample).unwrap().map(outcome).collect();
        let kept = 2 * EVTX_CHUNK_BYTES + 30_000;
        let at_chunks = dir.path().join("two-chunks.evtx");
        fs::write(
            &at_chunks,
            &data[..EVTX_HEADER_BYTES as usize + 2 * EVTX_CHUNK_BYTES],
        )
        .unwrap();
        let (two_chunks, at_chunks_errors): (Vec<_>, Vec<_>) =
            open(&at_chunks).unwrap().partition(Result::is_ok);
        let two_chunks = two_chunks.len();
        // Cut where a chunk ends: told by the chunks the file's header counts in use.
        let said = at_chunks_errors
            .iter()
            .map(|e| e.as_ref().unwrap_err().to_string())
            .collect::<Vec<_>>();
        assert!(
            said.len() == 1 && said[0].contains("ends after 2 EVTX chunks, but its header counts"),
            "{said:?}"
        );
        let cut = dir.path().join("cut.evtx");
        fs::write(&cut, &data[..EVTX_HEADER_BYTES as usize + kept]).unwrap();
        let gzipped = dir.path().join("cut.evtx.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data[..EVTX_HEADER_BYTES as usize + kept])
            .unwrap();
        fs::write(&gzipped, gz.finish().unwrap()).unwrap();

        let check = |decoded: Vec<Result<(u64, String), String>>, name: &str| {
            let (records, errors): (Vec<_>, Vec<_>) = decoded.into_iter().partition(Result::is_ok);
            assert!(
                records.len() > two_chunks,
                "{name}: {} records",
                records.len()
            );
            // A record the cut goes through is no record: not one with part of its values.
            assert_eq!(records[..], whole[..records.len()], "{name}");
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            let last = errors[0].as_ref().unwrap_err();
            assert!(
                last.contains("ends after 30000 of the 65536 bytes of EVTX chunk 2 (chunks counted from 0; its header counts ")
                    && !last.contains("(of 65536)")
                    && last.contains("the records after the cut are missing"),
                "{name}: {last}"
            );
        };
        check(open(&cut).unwrap().map(outcome).collect(), "in memory");
        for path in [&cut, &gzipped] {
            check(evtx_in_pieces(path), &path.display().to_string());
        }

        // Cut in the empty chunks a log was made with: every record, no error.
        let mut padded = data.clone();
        padded.extend(std::iter::repeat_n(0, 3 * EVTX_CHUNK_BYTES));
        padded.truncate(data.len() + EVTX_CHUNK_BYTES + 100);
        let cut_in_empty = dir.path().join("cut-in-empty.evtx");
        fs::write(&cut_in_empty, &padded).unwrap();
        let decoded: Vec<_> = open(&cut_in_empty).unwrap().map(outcome).collect();
        assert_eq!(decoded, whole);

        // Cut in the free space of the last chunk in use: every record, and the cut said to
        // have lost none.
        let chunk_of = |data: &[u8], i: usize| {
            let start = EVTX_HEADER_BYTES as usize + i * EVTX_CHUNK_BYTES;
            data.get(start..start + EVTX_CHUNK_BYTES)
                .map(<[u8]>::to_vec)
        };
        let (sample, data, free) = collect_files(&[data_dir().join("evtx")])
            .unwrap()
            .files
            .into_iter()
            .filter(|f| f.path.extension().is_some_and(|e| e == "evtx"))
            .find_map(|f| {
                let data = fs::read(&f.path).ok()?;
                let in_use = u16::from_le_bytes([data[42], data[43]]) as usize;
                let last = chunk_of(&data, in_use.checked_sub(1)?)?;
                let free = u32::from_le_bytes(last[48..52].try_into().unwrap()) as usize;
                let next_empty = chunk_of(&data, in_use).is_some_and(|c| c == EMPTY_CHUNK);
                (next_empty && free + 1000 < EVTX_CHUNK_BYTES).then_some((f.path, data, free))
            })
            .expect("a sample whose last chunk in use has free space");
        let whole: Vec<_> = open(&sample).unwrap().map(outcome).collect();
        let in_use = u16::from_le_bytes([data[42], data[43]]) as usize;
        let keep = EVTX_HEADER_BYTES as usize + (in_use - 1) * EVTX_CHUNK_BYTES + free + 500;
        let cut_in_free = dir.path().join("cut-in-free-space.evtx");
        fs::write(&cut_in_free, &data[..keep]).unwrap();
        let (records, errors): (Vec<_>, Vec<_>) = open(&cut_in_free)
            .unwrap()
            .map(outcome)
            .partition(Result::is_ok);
        assert_eq!(records, whole, "{}", sample.display());
        assert_eq!(errors.len(), 1);
        let said = errors[0].as_ref().unwrap_err();
        assert!(said.contains("none is missing"), "{said}");
    }

    /// A chunk changed after Windows wrote it (its checksum no longer matches) is read and
    /// named, before its records, read whole or in pieces; the last chunk of a log Windows
    /// still had open (dirty) is not checked.
    #[test]
    fn a_chunk_that_fails_its_checksum_is_read_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let sample = largest_evtx_sample();
        let data = fs::read(&sample).unwrap();
        let outcome = id_and_json;
        let whole: Vec<_> = open(&sample).unwrap().map(outcome).collect();
        // A field of chunk 1's header the parser does not read (its first record's number).
        let mut edited = data.clone();
        edited[EVTX_HEADER_BYTES as usize + EVTX_CHUNK_BYTES + 8] ^= 1;
        let path = dir.path().join("edited.evtx");
        fs::write(&path, &edited).unwrap();
        let check = |decoded: Vec<Result<(u64, String), String>>| {
            let at = decoded.iter().position(Result::is_err).expect("an error");
            let said = decoded[at].as_ref().unwrap_err();
            assert!(
                said.contains("EVTX chunk 1 does not match its checksum"),
                "{said}"
            );
            let mut records = decoded.clone();
            assert!(records.remove(at).is_err());
            assert_eq!(records, whole, "every record, as it was");
            // Named before the chunk's records: after chunk 0's.
            let first_chunk = open_file(&sample, EVTX_CHUNK_BYTES).unwrap();
            let Opened::Evtx(mut pieces) = first_chunk else {
                panic!("EVTX")
            };
            let in_chunk_0 =
                RecordSource::evtx(Arc::from(sample.as_path()), pieces.next().unwrap().unwrap())
                    .count();
            assert_eq!(at, in_chunk_0);
        };
        check(open(&path).unwrap().map(outcome).collect());
        check(evtx_in_pieces(&path));

        // The same chunk as the last of a log Windows still had open: not checked.
        edited[120] |= 1;
        edited[16..24].copy_from_slice(&1u64.to_le_bytes());
        let header_checksum = evtx::checksum_ieee(&edited[..120]);
        edited[124..128].copy_from_slice(&header_checksum.to_le_bytes());
        let open_log = dir.path().join("open.evtx");
        fs::write(&open_log, &edited).unwrap();
        let decoded: Vec<_> = open(&open_log).unwrap().map(outcome).collect();
        assert_eq!(decoded, whole);

        // A file header edited without its checksum: named first, once, whole and in pieces;
        // every record as it was.
        let mut edited = data.clone();
        edited[24] ^= 1; // the next record number
        let path = dir.path().join("header.evtx");
        fs::write(&path, &edited).unwrap();
        for decoded in [
            open(&path).unwrap().map(outcome).collect::<Vec<_>>(),
            evtx_in_pieces(&path),
        ] {
            let said = decoded[0].as_ref().unwrap_err();
            assert!(
                said.contains("the EVTX file header does not match its checksum"),
                "{said}"
            );
            assert_eq!(decoded[1..], whole[..], "every record, as it was");
        }

        // A file header whose signature is damaged, or zeroed whole: found by its first chunk,
        // named, and every record read all the same, whole and in pieces.
        for damaged in [0..1, 0..EVTX_HEADER_BYTES as usize] {
            let mut edited = data.clone();
            edited[damaged].fill(b'X');
            let path = dir.path().join("lost.evtx");
            fs::write(&path, &edited).unwrap();
            assert_eq!(detect(&edited[..1 << 20]), Some(Format::Evtx));
            for decoded in [
                open(&path).unwrap().map(outcome).collect::<Vec<_>>(),
                evtx_in_pieces(&path),
            ] {
                let said = decoded[0].as_ref().unwrap_err();
                assert!(said.contains("its signature is gone"), "{said}");
                assert_eq!(decoded[1..], whole[..], "every record, as it was");
            }
        }
    }

    /// An EVTX file read a chunk or a few at a time, from disk or gzip, damaged or not, gives
    /// the records and errors of the file decoded whole, in the same order.
    #[test]
    fn evtx_read_in_pieces_decodes_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let sample = largest_evtx_sample();
        let mut data = fs::read(&sample).unwrap();
        assert!(data.len() > 4096 + 8 * 65536, "{}", sample.display());
        let plain = dir.path().join("big.evtx");
        fs::write(&plain, &data).unwrap();
        // Overwrite the records of the third chunk: a damaged chunk amid good ones.
        for b in &mut data[4096 + 2 * 65536 + 512..4096 + 2 * 65536 + 9000] {
            *b = 0xAB;
        }
        let damaged = dir.path().join("damaged.evtx");
        fs::write(&damaged, &data).unwrap();
        let gzipped = dir.path().join("big.evtx.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&fs::read(&plain).unwrap()).unwrap();
        fs::write(&gzipped, gz.finish().unwrap()).unwrap();

        let outcome = |r: Result<Record, DecodeError>| match r {
            Ok(r) => Ok((r.record_id, r.timestamp, r.event.value().clone())),
            Err(e) => Err(e.to_string()),
        };
        for (path, whole_from) in [(&plain, &plain), (&damaged, &damaged), (&gzipped, &plain)] {
            let whole: Vec<_> = open(whole_from).unwrap().map(outcome).collect();
            assert!(whole.iter().filter(|r| r.is_ok()).count() > 100);
            for chunks in [1, 3] {
                let Opened::Evtx(mut pieces) = open_file(path, chunks * 65536).unwrap() else {
                    panic!("{} not read as EVTX", path.display());
                };
                let mut decoded = Vec::new();
                let mut read = Vec::new();
                while let Some(piece) = pieces.next() {
                    let source =
                        RecordSource::evtx(Arc::from(whole_from.as_path()), piece.unwrap());
                    decoded.extend(source.map(outcome));
                    read.push(pieces.disk_bytes_read());
                }
                assert_eq!(decoded, whole, "{} in pieces of {chunks}", path.display());
                assert!(read.len() > 2 && read.windows(2).all(|w| w[0] <= w[1]));
                // The pieces stand for the whole file, for progress bars and rates.
                assert_eq!(read.last(), Some(&fs::metadata(path).unwrap().len()));
            }
        }
        let damaged_errors = open(&damaged).unwrap().filter(Result::is_err).count();
        assert!(damaged_errors > 0);

        // A gzip stream cut short: the records of the whole chunks before the cut, then the
        // gzip error — a cut within the first bytes read to tell the format too; cut inside
        // the file header, only the error.
        let compressed = fs::read(&gzipped).unwrap();
        let whole: Vec<_> = open(&plain).unwrap().map(outcome).collect();
        let decompressed = |keep: usize| {
            let mut out = Vec::new();
            let _ = flate2::read::MultiGzDecoder::new(&compressed[..keep]).read_to_end(&mut out);
            out.len()
        };
        let within_sniff = (1..100)
            .rev()
            .map(|i| compressed.len() * i / 100)
            .find(|&keep| (4096 + 4 * 65536..SNIFF_BYTES).contains(&decompressed(keep)))
            .expect("a cut that leaves a few chunks and less than the bytes sniffed");
        for (keep, some_records) in [
            (compressed.len() * 6 / 10, true),
            (within_sniff, true),
            (40, false),
        ] {
            let cut = dir.path().join("cut.evtx.gz");
            fs::write(&cut, &compressed[..keep]).unwrap();
            let opened = open_file(&cut, 65536);
            if !some_records {
                assert!(
                    matches!(opened, Err(DecodeError::Gzip { .. })),
                    "cut at {keep}"
                );
                continue;
            }
            let Ok(Opened::Evtx(pieces)) = opened else {
                panic!("a cut gzip EVTX still opens");
            };
            let items: Vec<_> = pieces.collect();
            let Some(Err(DecodeError::Gzip { .. })) = items.last() else {
                panic!("the cut is reported last");
            };
            let decoded: Vec<_> = items
                .into_iter()
                .filter_map(Result::ok)
                .flat_map(|piece| RecordSource::evtx(Arc::from(plain.as_path()), piece))
                .map(outcome)
                .collect();
            assert!(decoded.len() > 100 && decoded.len() < whole.len());
            assert_eq!(decoded, whole[..decoded.len()]);
        }
    }

    #[test]
    fn truncated_evtx_is_reported_not_a_panic() {
        let files = collect_files(&[data_dir().join("evtx")]).unwrap().files;
        let evtx = files
            .iter()
            .find(|f| f.path.extension().is_some_and(|e| e == "evtx"))
            .unwrap();
        let mut data = fs::read(&evtx.path).unwrap();
        // Keep the file and chunk headers and overwrite the first chunk's records.
        for b in &mut data[4096 + 512..4096 + 9000] {
            *b = 0xAB;
        }
        let src = RecordSource::new(Arc::from(Path::new("t.evtx")), Format::Evtx, data);
        if let Ok(src) = src {
            let out: Vec<_> = src.collect();
            assert!(out.iter().any(Result::is_err));
        }
        let garbage = RecordSource::new(
            Arc::from(Path::new("g.evtx")),
            Format::Evtx,
            b"ElfFile\0garbage".to_vec(),
        );
        assert!(matches!(garbage, Err(DecodeError::Evtx { .. })));
        // A file cut inside its header says so, not "failed to fill whole buffer".
        let mut header = b"ElfFile\0".to_vec();
        header.resize(3000, 0);
        let cut = RecordSource::new(Arc::from(Path::new("c.evtx")), Format::Evtx, header);
        let Err(e) = cut else {
            panic!("a cut header was read")
        };
        assert!(
            e.to_string().contains(
                "the file is 3000 bytes, less than the 4096 of an EVTX file header: it was cut short"
            ),
            "{e}"
        );
    }
}
