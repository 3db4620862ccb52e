//! Scanning log files for rule matches on every core, with what each file found handed on in
//! file order as soon as it can be: output starts while the hunt goes on, and what waits to be
//! written is bounded by a few pieces of work, not by the size of the hunt.
//!
//! The work is cut into units taken in file order: a file's first piece (of JSON lines, EVTX
//! chunks or JSON array elements), with which the file is opened, or its next piece (pieces of
//! the earliest file being read go first). Each thread takes a unit, scans it with its own matcher and sends the
//! result to the calling thread, which puts the results back in order. A thread takes a unit
//! only while fewer than a few are waiting to be written, unless the unit belongs to the file
//! being written: that file can always finish, so the hunt never stalls.

use crate::output::errln;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use vigil_detect::{CompiledRuleSet, FieldMapping, Logsource, MappedEvent, Matcher, RuleId};
use vigil_events::RecordSource;
use vigil_events::json::JsonEvent;
use vigil_events::source::{
    DecodeError, FilePiece, FilePieces, InputFile, Opened, TextOptions, open_file,
};
use vigil_events::{implied_logsources, web_server_logsources};

use super::census::Census;
use super::report::{Match, Rendered, Renderer};

/// Time bounds, what the logs are and what to keep while scanning.
#[derive(Clone, Copy)]
pub struct ScanOptions<'a> {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The logsources the logs are declared to be (empty: unknown).
    pub logsources: &'a [Logsource],
    /// Where the JSON and EVTX logs hold the fields rules name (`None`: under the rules'
    /// names); text logs are named by Vigil's decoders, not by whoever wrote the JSON.
    pub fields: Option<&'a FieldMapping>,
    /// Where a web server's lines (access, IIS and error logs) hold the fields rules name,
    /// for rules that read a field otherwise than Vigil names it (`cs-uri-query=cs-uri`).
    pub web_fields: Option<&'a FieldMapping>,
    pub keep_for_correlation: bool,
    /// Whether each rule's matches are reported, by rule index ([`super::select::Selection`]);
    /// `None`: those of every rule that reports on its own. Correlations count them all.
    pub reported: Option<&'a [bool]>,
    /// Size of the largest pieces files are read in
    /// ([`vigil_events::source::LINES_PIECE_BYTES`]); a file is cut smaller when that gives
    /// every thread a share of it.
    pub piece_bytes: usize,
    /// `--text`, `--timezone`: how text files are read.
    pub text: &'a TextOptions,
    /// How matches are rendered as they are found (`None`: only counted).
    pub render: Option<Renderer<'a>>,
    /// Whether to count what the logs hold ([`Census`], `vigil metrics`).
    pub census: bool,
    /// `--search` terms that are IP addresses, whose reported matches must hold the address
    /// alone ([`super::terms::Addresses`]).
    pub addresses: Option<&'a super::terms::Addresses>,
    /// Told how many events each file, or each piece of a large one, held: the progress bar
    /// moves while one large file is read.
    pub on_events: &'a (dyn Fn(u64) + Sync),
    /// Set when the user asked the run to stop (Ctrl-C, [`crate::interrupt`]): no thread takes
    /// another unit, and what was scanned is handed on up to the first part found after it.
    pub stop_requested: Option<&'a AtomicBool>,
}

impl<'a> ScanOptions<'a> {
    /// Every event, logsource unknown, fields under the rules' names, nothing kept for
    /// correlations, matches counted but not rendered, pieces of the usual size.
    pub fn new(on_events: &'a (dyn Fn(u64) + Sync)) -> Self {
        ScanOptions {
            from: None,
            to: None,
            logsources: &[],
            fields: None,
            web_fields: None,
            keep_for_correlation: false,
            reported: None,
            piece_bytes: vigil_events::source::LINES_PIECE_BYTES,
            text: &TextOptions::DEFAULT,
            render: None,
            census: false,
            addresses: None,
            on_events,
            stop_requested: None,
        }
    }
}

/// What scanning one file, or one piece of a large one, produced.
#[derive(Default)]
pub struct FileScan {
    /// Rule matches reported (of the rules `reported` names).
    pub hits: u64,
    /// Those matches, rendered.
    pub rendered: Rendered,
    pub events: u64,
    /// Events left out by `--from`/`--to`: dated outside the window, and without a time of
    /// their own (which no window can place), counted apart so the summary can say why.
    pub outside_window: u64,
    pub undated_left_out: u64,
    pub bytes: u64,
    /// Bytes of the file on disk read for this part (compressed ones for gzip), for the
    /// progress bar; 0 for a file read whole, whose size the bar takes at its end.
    pub disk_bytes: u64,
    pub errors: Vec<DecodeError>,
    /// Matched events with their rules, for correlation.
    pub matched: Vec<MatchedEvent>,
    /// The file, found in a folder, is of no log format: left out without a word.
    pub skipped: bool,
    /// What the events held, when [`ScanOptions::census`] asks.
    pub census: Census,
}

fn window_line(outside: u64, undated: u64) -> Option<String> {
    use crate::output::plural;
    let parts: Vec<String> = [
        (outside > 0)
            .then(|| format!("{} outside --from/--to", plural(outside, "event", "events"))),
        (undated > 0).then(|| {
            format!(
                "{} without a time of its own, which no window can place",
                plural(undated, "event", "events")
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("left out: {}", parts.join("; ")))
}

/// A matched event kept for the correlation rules.
pub struct MatchedEvent {
    pub timestamp: i64,
    pub event: Arc<JsonEvent>,
    /// Which field map reads the event, as it was matched.
    pub mapping: Mapping,
    pub rules: Vec<RuleId>,
    pub file: Arc<Path>,
    pub record_id: u64,
}

/// Which of the field maps of [`ScanOptions`] an event is read through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// `fields`: a JSON or EVTX log's.
    Logs,
    /// `web_fields`: a web server's line.
    Web,
    /// None: another text log (syslog, `--text`), named by Vigil's decoders.
    Unmapped,
}

impl Mapping {
    /// The map of this kind among `fields` and `web_fields`, when one was given.
    pub fn of<'m>(
        self,
        fields: Option<&'m FieldMapping>,
        web_fields: Option<&'m FieldMapping>,
    ) -> Option<&'m FieldMapping> {
        match self {
            Mapping::Logs => fields,
            Mapping::Web => web_fields,
            Mapping::Unmapped => None,
        }
    }
}

/// What [`scan_files`] hands on, for each file in turn.
pub enum Scanned {
    /// The next part of the file (a whole file is one part; a large JSON-lines file one part
    /// per piece).
    Part(Box<FileScan>),
    /// The file is done: every part was handed on.
    FileEnd,
}

/// The threads to scan with: `requested` (`--jobs`), or every core for none or 0.
pub fn jobs(requested: Option<usize>) -> usize {
    match requested {
        Some(0) | None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n) => n,
    }
}

/// The progress bar of a scan, on a terminal: by bytes on disk, so that one large file moves
/// it too and the time left means something; logs piped in have no size to go by, and the
/// bar then counts what was read.
pub fn progress_bar(files: &[InputFile], sizes: &[Option<u64>]) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    let total = (!files.iter().any(InputFile::is_stdin)).then(|| sizes.iter().flatten().sum());
    std::io::stderr()
        .is_terminal()
        .then(|| crate::output::bytes_progress(total, true))
}

/// The message of a hunt's progress bar: `FILES_DONE/FILES files, EVENTS events`, told of
/// events by the scanning threads and of files by the calling one. The message is made and set
/// under a lock, so that one made from older counts never replaces a newer one (the counts
/// went back, 1/481 files then 0/481), and set again as each file ends, so that the last
/// frame counts every file (it said 480/481 when the last file's end came after its events).
pub struct FilesAndEvents {
    bar: Option<indicatif::ProgressBar>,
    files: usize,
    /// The counts, and the lock under which the message is made from them and set.
    counts: Mutex<(u64, u64)>,
}

impl FilesAndEvents {
    /// For a hunt of `files` files, with its progress bar if any.
    pub fn new(bar: Option<indicatif::ProgressBar>, files: usize) -> Self {
        FilesAndEvents {
            bar,
            files,
            counts: Mutex::new((0, 0)),
        }
    }

    /// `events` more were read.
    pub fn events(&self, events: u64) {
        self.count(0, events);
    }

    /// One more file was read to its end (or skipped, or failed).
    pub fn file_done(&self) {
        self.count(1, 0);
    }

    fn count(&self, files: u64, events: u64) {
        let Some(bar) = &self.bar else {
            return;
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.0 += files;
        counts.1 += events;
        bar.set_message(format!(
            "{}/{} files, {} events",
            counts.0, self.files, counts.1
        ));
    }
}

/// What the calling thread of a scan keeps of its parts, whatever it does with their matches:
/// the progress bar moved by the bytes each read on disk, the files read and skipped, and the
/// errors, each warned about as it comes (above the bar).
pub struct ScanTally<'f> {
    files: &'f [InputFile],
    sizes: &'f [Option<u64>],
    bar: Option<indicatif::ProgressBar>,
    /// Files that gave events, or nothing without an error or a skip (an empty log).
    pub files_read: u64,
    pub errors: u64,
    /// Events `--from`/`--to` left out (see [`FileScan::outside_window`]).
    pub outside_window: u64,
    pub undated_left_out: u64,
    /// Folders inside the paths given that could not be listed, skipped with their files.
    pub folders_skipped: Vec<std::path::PathBuf>,
    /// Files found in folders in no format Vigil reads, by index.
    pub skipped: Vec<usize>,
    /// Files the paths given named more than once, read once.
    pub given_twice: u64,
    /// Of the file being read: bytes of events, whether a part failed or was skipped, and
    /// the bytes the bar moved by.
    file_bytes: u64,
    file_unread: bool,
    shown: u64,
}

impl<'f> ScanTally<'f> {
    /// `bar`: the scan's progress bar ([`progress_bar`]), if any.
    pub fn new(
        files: &'f [InputFile],
        sizes: &'f [Option<u64>],
        bar: Option<indicatif::ProgressBar>,
    ) -> Self {
        ScanTally {
            files,
            sizes,
            bar,
            files_read: 0,
            errors: 0,
            outside_window: 0,
            undated_left_out: 0,
            folders_skipped: Vec::new(),
            skipped: Vec::new(),
            given_twice: 0,
            file_bytes: 0,
            file_unread: false,
            shown: 0,
        }
    }

    /// Prints a warning, above the bar when there is one (it would be drawn over).
    pub fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| errln!("warning: {message}")),
            None => errln!("warning: {message}"),
        }
    }

    /// Counts a part of file `file`.
    pub fn part(&mut self, file: usize, part: &FileScan) {
        if let Some(bar) = &self.bar {
            // A file's size caps what its parts say they read; standard input has none.
            let step = if self.files[file].is_stdin() {
                part.disk_bytes
            } else {
                part.disk_bytes
                    .min(self.size(file).saturating_sub(self.shown))
            };
            bar.inc(step);
            self.shown += step;
        }
        self.file_bytes += part.bytes;
        self.outside_window += part.outside_window;
        self.undated_left_out += part.undated_left_out;
        self.file_unread |= part.skipped || !part.errors.is_empty();
        if part.skipped {
            self.skipped.push(file);
        }
        for e in &part.errors {
            self.error(e);
        }
    }

    /// Counts and warns about what walking the folders given left out
    /// ([`vigil_events::Collected::skipped`]): the scan reads the rest; and counts the files
    /// found twice ([`vigil_events::Collected::given_twice`]), for the summary.
    pub fn walked(&mut self, skipped: &[DecodeError], given_twice: u64) {
        self.given_twice = given_twice;
        for e in skipped {
            if let DecodeError::FolderSkipped { path, .. } = e {
                self.folders_skipped.push(path.clone());
            }
            self.error(e);
        }
    }

    /// Counts an error and warns about it: a file, record or folder skipped, the run going on.
    fn error(&mut self, e: &DecodeError) {
        self.errors += 1;
        self.warn(&e.to_string());
    }

    /// Counts the end of file `file`.
    pub fn file_end(&mut self, file: usize) {
        if self.file_bytes > 0 || !self.file_unread {
            self.files_read += 1;
        }
        if let Some(bar) = &self.bar {
            bar.inc(self.size(file).saturating_sub(self.shown));
        }
        (self.file_bytes, self.file_unread, self.shown) = (0, false, 0);
    }

    /// The scan is over: a file it stopped in the middle of (the output was closed) was read
    /// in part; the bar goes.
    pub fn finish(&mut self) {
        if self.file_bytes > 0 {
            self.files_read += 1;
            self.file_bytes = 0;
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// The summary's lines on what the run left out: events outside the window, files
    /// skipped, folders that could not be read, files found twice (each only when there is
    /// any).
    pub fn left_out_lines(&self) -> impl Iterator<Item = String> {
        [
            self.window_line(),
            self.skipped_line(),
            self.folders_line(),
            crate::output::given_twice(self.given_twice),
        ]
        .into_iter()
        .flatten()
    }

    /// The line on the events `--from`/`--to` left out, `None` for none: an event without a
    /// time of its own is left out by any window, which a user would not guess.
    fn window_line(&self) -> Option<String> {
        window_line(self.outside_window, self.undated_left_out)
    }

    /// The line on the folders that could not be read, naming the first few; `None` for none.
    fn folders_line(&self) -> Option<String> {
        const NAMED: usize = 5;
        let n = self.folders_skipped.len();
        (n > 0).then(|| {
            let mut names: Vec<String> = self
                .folders_skipped
                .iter()
                .take(NAMED)
                .map(|p| p.display().to_string())
                .collect();
            if n > NAMED {
                names.push(format!("and {} more", n - NAMED));
            }
            format!(
                "{} could not be read and {} skipped with {}: {}",
                crate::output::plural(n as u64, "folder", "folders"),
                if n == 1 { "was" } else { "were" },
                if n == 1 { "its files" } else { "their files" },
                names.join(", ")
            )
        })
    }

    /// The line on the files skipped, naming those named like text logs; `None` for none.
    fn skipped_line(&self) -> Option<String> {
        let text_logs =
            crate::output::skipped_text_logs(self.skipped.iter().map(|&i| &self.files[i]));
        crate::output::skipped_files(self.skipped.len() as u64, &text_logs)
    }

    fn size(&self, file: usize) -> u64 {
        self.sizes[file].unwrap_or(0)
    }
}

/// The size on disk of each of `files` (`None` for standard input, or a file that cannot be
/// read, which its opening reports): for the progress bar and for cutting files into pieces.
pub fn file_sizes(files: &[InputFile]) -> Vec<Option<u64>> {
    files
        .iter()
        .map(|f| {
            (!f.is_stdin())
                .then(|| std::fs::metadata(&f.path).ok())
                .flatten()
                .map(|m| m.len())
        })
        .collect()
}

/// Scans `files` (of [`file_sizes`] `sizes`) on `jobs` threads, calling `each(file_index, …)`
/// on this thread with each file's parts in order, then its end, file after file. `each`
/// returns `false` to stop the hunt (the output was closed): the threads finish the unit they
/// hold and take no other. So does [`ScanOptions::stop_requested`], once set: the scan then
/// ends after the next part handed on, or when the threads have finished what they held.
pub fn scan_files(
    set: &CompiledRuleSet,
    files: &[InputFile],
    sizes: &[Option<u64>],
    opts: ScanOptions<'_>,
    jobs: usize,
    mut each: impl FnMut(usize, Scanned) -> bool,
) {
    let jobs = jobs.max(1);
    let queue = WorkQueue {
        state: Mutex::new(QueueState {
            files,
            next_file: 0,
            reading: BTreeMap::new(),
            opening: 0,
            waiting: 0,
            writing_file: 0,
            stopped: false,
        }),
        changed: Condvar::new(),
        most_waiting: 2 * jobs,
        stop_requested: opts.stop_requested,
    };
    let piece_bytes: Vec<usize> = sizes
        .iter()
        .map(|&size| piece_size(size, jobs, opts.piece_bytes))
        .collect();
    let (sender, results) = mpsc::channel::<Found>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let queue = &queue;
            let piece_bytes = &piece_bytes;
            scope.spawn(move || work(set, files, piece_bytes, queue, opts, &sender));
        }
        drop(sender);
        let mut order = Reorder::default();
        'received: for found in results {
            for (file, scanned) in order.accept(found) {
                let part = matches!(scanned, Scanned::Part(_));
                let go_on = each(file, scanned);
                queue.written(file, part);
                if !go_on || queue.stop_requested() {
                    queue.stop();
                    break 'received;
                }
            }
        }
    });
}

/// The smallest piece a file is cut into for the threads to share.
const MIN_PIECE_BYTES: usize = 1024 * 1024;

/// The pieces a file of `size` bytes on disk is read in: small enough that every thread gets a
/// share of a file alone (a 26 MB log in one 32 MiB piece was read by one thread while the
/// others waited), at least a MiB, at most `largest`. A gzip file's pieces come out larger,
/// by its compression.
fn piece_size(size: Option<u64>, jobs: usize, largest: usize) -> usize {
    match size {
        Some(size) if jobs > 1 => {
            let share = usize::try_from(size / (2 * jobs as u64)).unwrap_or(usize::MAX);
            share.clamp(MIN_PIECE_BYTES.min(largest), largest)
        }
        _ => largest,
    }
}

/// What a thread sends back, in the order it finishes.
enum Found {
    Part {
        file: usize,
        piece: usize,
        scan: Box<FileScan>,
    },
    /// File `file` had `parts` parts.
    End { file: usize, parts: usize },
}

/// Puts results back in file and piece order.
#[derive(Default)]
struct Reorder {
    file: usize,
    piece: usize,
    parts: BTreeMap<(usize, usize), Box<FileScan>>,
    ends: HashMap<usize, usize>,
}

impl Reorder {
    /// Takes one result; returns those now next in order.
    fn accept(&mut self, found: Found) -> Vec<(usize, Scanned)> {
        match found {
            Found::Part { file, piece, scan } => {
                self.parts.insert((file, piece), scan);
            }
            Found::End { file, parts } => {
                self.ends.insert(file, parts);
            }
        }
        let mut ready = Vec::new();
        loop {
            if let Some(scan) = self.parts.remove(&(self.file, self.piece)) {
                ready.push((self.file, Scanned::Part(scan)));
                self.piece += 1;
            } else if self.ends.get(&self.file) == Some(&self.piece) {
                self.ends.remove(&self.file);
                ready.push((self.file, Scanned::FileEnd));
                self.file += 1;
                self.piece = 0;
            } else {
                return ready;
            }
        }
    }
}

/// The units of work, handed out in file order.
struct WorkQueue<'f> {
    state: Mutex<QueueState<'f>>,
    /// Signalled when a unit is written, a file starts being read in pieces, a file is opened
    /// or the hunt stops.
    changed: Condvar,
    /// Units scanned or being scanned whose results are not yet written, beyond which only
    /// units of the file being written are taken.
    most_waiting: usize,
    /// [`ScanOptions::stop_requested`]: when set, no unit is taken.
    stop_requested: Option<&'f AtomicBool>,
}

struct QueueState<'f> {
    files: &'f [InputFile],
    /// The next file no thread has taken.
    next_file: usize,
    /// Files being read in pieces, by index: their next pieces go first.
    reading: BTreeMap<usize, Reading>,
    /// Files being opened: one may turn out to be JSON lines with more pieces to share.
    opening: usize,
    /// Units taken whose results are not yet written.
    waiting: usize,
    /// The file whose parts are being written.
    writing_file: usize,
    stopped: bool,
}

struct Reading {
    pieces: FilePieces,
    path: Arc<Path>,
    next_piece: usize,
}

/// A unit of work.
enum Unit {
    /// Open file `.0` and scan it, or its first piece.
    File(usize),
    /// Scan piece `number` of file `file`, for which `disk_bytes` were read.
    Piece {
        file: usize,
        number: usize,
        path: Arc<Path>,
        piece: Result<FilePiece, DecodeError>,
        disk_bytes: u64,
    },
    /// File `file` has no more pieces after `parts`.
    End { file: usize, parts: usize },
}

impl<'f> WorkQueue<'f> {
    fn lock(&self) -> MutexGuard<'_, QueueState<'f>> {
        // A thread that panicked holding the lock ends the hunt with its panic; the state it
        // left is only counters.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next unit of work; `None` when there is none left or the hunt stopped.
    fn take(&self) -> Option<Unit> {
        let mut state = self.lock();
        loop {
            if state.stopped || self.stop_requested() {
                return None;
            }
            let room = state.waiting < self.most_waiting;
            let writing_file = state.writing_file;
            if let Some(mut entry) = state.reading.first_entry() {
                let file = *entry.key();
                if room || file == writing_file {
                    let reading = entry.get_mut();
                    let number = reading.next_piece;
                    let read_before = reading.pieces.disk_bytes_read();
                    let unit = match reading.pieces.next() {
                        Some(piece) => {
                            reading.next_piece += 1;
                            let path = reading.path.clone();
                            let disk_bytes = reading.pieces.disk_bytes_read() - read_before;
                            state.waiting += 1;
                            Unit::Piece {
                                file,
                                number,
                                path,
                                piece,
                                disk_bytes,
                            }
                        }
                        None => {
                            entry.remove();
                            Unit::End {
                                file,
                                parts: number,
                            }
                        }
                    };
                    return Some(unit);
                }
            } else if state.next_file < state.files.len() {
                let file = state.next_file;
                if room || file == writing_file {
                    state.next_file += 1;
                    state.opening += 1;
                    state.waiting += 1;
                    return Some(Unit::File(file));
                }
            } else if state.opening == 0 {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// File `file` was opened; `reading` holds its further pieces when it has more.
    fn opened(&self, file: usize, reading: Option<Reading>) {
        let mut state = self.lock();
        state.opening -= 1;
        if let Some(reading) = reading {
            state.reading.insert(file, reading);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// A part of `file` (or its end) was written.
    fn written(&self, file: usize, part: bool) {
        let mut state = self.lock();
        if part {
            state.waiting -= 1;
            state.writing_file = file;
        } else {
            state.writing_file = file + 1;
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Whether the user asked the run to stop.
    fn stop_requested(&self) -> bool {
        self.stop_requested
            .is_some_and(|stop| stop.load(Ordering::Acquire))
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Stops the hunt when its thread panics: the other threads, which may be waiting for a unit
/// the panicking one held, end instead of waiting for ever, and the panic is raised when they
/// have (a hang would hide the bug).
struct StopOnPanic<'q, 'f>(&'q WorkQueue<'f>);

impl Drop for StopOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// One thread's work: take units, scan them, send the results.
fn work(
    set: &CompiledRuleSet,
    files: &[InputFile],
    piece_bytes: &[usize],
    queue: &WorkQueue<'_>,
    opts: ScanOptions<'_>,
    to: &mpsc::Sender<Found>,
) {
    let _stop_on_panic = StopOnPanic(queue);
    let mut matcher = set.matcher();
    // A send fails only when the hunt stopped: the unit's result is not wanted.
    while let Some(unit) = queue.take() {
        match unit {
            Unit::File(file) => {
                let scan = match open(&files[file], piece_bytes[file], opts.text) {
                    Opening::Done(scan) => {
                        queue.opened(file, None);
                        scan
                    }
                    Opening::Pieces {
                        first,
                        disk_bytes,
                        rest,
                    } => {
                        // The other threads may take the next pieces while this one scans
                        // the first.
                        let path = rest.path.clone();
                        queue.opened(file, Some(rest));
                        let mut scan = scan_piece(&mut matcher, path, first, opts);
                        scan.disk_bytes = disk_bytes;
                        let _ = to.send(Found::Part {
                            file,
                            piece: 0,
                            scan: Box::new(scan),
                        });
                        continue;
                    }
                };
                let _ = to.send(Found::Part {
                    file,
                    piece: 0,
                    scan: Box::new(scan),
                });
                let _ = to.send(Found::End { file, parts: 1 });
            }
            Unit::Piece {
                file,
                number,
                path,
                piece,
                disk_bytes,
            } => {
                let mut scan = scan_piece(&mut matcher, path, piece, opts);
                scan.disk_bytes = disk_bytes;
                let _ = to.send(Found::Part {
                    file,
                    piece: number,
                    scan: Box::new(scan),
                });
            }
            Unit::End { file, parts } => {
                let _ = to.send(Found::End { file, parts });
            }
        }
    }
}

/// A file just opened.
enum Opening {
    /// Nothing left to scan: it could not be read, is in no format Vigil reads, or is empty.
    Done(FileScan),
    /// Read in pieces: the first, how much of the file reading it took, and the rest.
    Pieces {
        first: Result<FilePiece, DecodeError>,
        disk_bytes: u64,
        rest: Reading,
    },
}

/// Opens a file and reads it whole, or its first piece when it is read in pieces (JSON lines,
/// EVTX, JSON arrays): then the rest of its pieces are returned, to share with the other
/// threads while this one scans the first.
fn open(file: &InputFile, piece_bytes: usize, text: &TextOptions) -> Opening {
    let mut scan = FileScan::default();
    let path: Arc<Path> = Arc::from(file.path.as_path());
    let mut pieces = match open_file(&file.path, piece_bytes) {
        Err(e) => {
            scan.errors.push(e);
            return Opening::Done(scan);
        }
        Ok(Opened::Unknown(lines)) => match lines.into_text_log_or_plain(text, file) {
            Ok(text) => FilePieces::Text(text),
            Err(lines) => {
                if file.must_decode() {
                    scan.errors.push(lines.unknown_format());
                } else {
                    scan.skipped = true;
                }
                return Opening::Done(scan);
            }
        },
        Ok(Opened::Lines(lines)) => FilePieces::Lines(lines),
        Ok(Opened::Evtx(evtx)) => FilePieces::Evtx(evtx),
        Ok(Opened::Documents(documents)) => FilePieces::Documents(documents),
    };
    let Some(first) = pieces.next() else {
        // Read, and found empty (an EVTX file with no chunk yet).
        scan.bytes = pieces.disk_bytes_read();
        return Opening::Done(scan);
    };
    Opening::Pieces {
        first,
        disk_bytes: pieces.disk_bytes_read(),
        rest: Reading {
            pieces,
            path,
            next_piece: 1,
        },
    }
}

fn scan_piece(
    matcher: &mut Matcher<'_>,
    path: Arc<Path>,
    piece: Result<FilePiece, DecodeError>,
    opts: ScanOptions<'_>,
) -> FileScan {
    let mut scan = FileScan::default();
    match piece {
        Ok(piece) => {
            scan.bytes = piece.bytes();
            scan_source(matcher, RecordSource::piece(path, piece), opts, &mut scan);
        }
        Err(e) => scan.errors.push(e),
    }
    (opts.on_events)(scan.events);
    scan
}

/// Matches every record of a source, adding to `scan`.
pub fn scan_source(
    matcher: &mut Matcher<'_>,
    source: RecordSource,
    opts: ScanOptions<'_>,
    scan: &mut FileScan,
) {
    let set = matcher.rule_set();
    // Lines of a plain-text log say what logs they are (syslog by the program that wrote them,
    // access logs webserver) unless the user did; a web server's own lines always do.
    let text_log = source.is_text_log();
    for record in source {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                scan.errors.push(e);
                continue;
            }
        };
        scan.events += 1;
        if opts.from.is_some() || opts.to.is_some() {
            let Some(ts) = record.timestamp else {
                scan.undated_left_out += 1;
                continue;
            };
            if opts.from.is_some_and(|f| ts < f) || opts.to.is_some_and(|t| ts >= t) {
                scan.outside_window += 1;
                continue;
            }
        }
        let event = record.event;
        let web = if text_log {
            web_server_logsources(&event)
        } else {
            None
        };
        let implied_here = match (text_log, opts.logsources.is_empty()) {
            (false, _) => None,
            (true, true) => web.or_else(|| implied_logsources(&event)),
            (true, false) => web,
        };
        let mapping = match (text_log, web.is_some()) {
            (false, _) => Mapping::Logs,
            (true, true) => Mapping::Web,
            (true, false) => Mapping::Unmapped,
        };
        if opts.census {
            scan.census
                .add(&record.file, &event, record.timestamp, implied_here);
        }
        let logsources = implied_here.unwrap_or(opts.logsources);
        let matched = match mapping.of(opts.fields, opts.web_fields) {
            Some(fields) => matcher.matches_from(&MappedEvent::new(&event, fields), logsources),
            None => matcher.matches_from(&event, logsources),
        };
        if matched.is_empty() {
            continue;
        }
        for &rule in matched {
            let reported = match opts.reported {
                Some(reported) => reported[rule.0 as usize],
                None => set.rule(rule).report,
            };
            if reported && opts.addresses.is_none_or(|a| a.confirms(rule, &event)) {
                scan.hits += 1;
                if let Some(renderer) = &opts.render {
                    let found = Match {
                        rule,
                        timestamp: record.timestamp,
                        file: &record.file,
                        record_id: record.record_id,
                        event: &event,
                    };
                    renderer.render(set, &found, &mut scan.rendered);
                }
            }
        }
        // Only the matches a correlation counts are kept for it, not every match of the hunt.
        if opts.keep_for_correlation {
            let rules: Vec<RuleId> = matched
                .iter()
                .copied()
                .filter(|&rule| set.feeds_correlation(rule))
                .collect();
            if !rules.is_empty() {
                scan.matched.push(MatchedEvent {
                    timestamp: record.timestamp.unwrap_or(0),
                    event: Arc::new(event),
                    mapping,
                    rules,
                    file: record.file.clone(),
                    record_id: record.record_id,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_cut_so_every_thread_gets_a_share() {
        const MIB: usize = 1024 * 1024;
        let largest = 32 * MIB;
        // 26 MB on two threads: four pieces of 6.5 MB.
        assert_eq!(piece_size(Some(26_000_000), 2, largest), 6_500_000);
        // Small files stay whole; large ones are cut at the largest size.
        assert_eq!(piece_size(Some(300_000), 2, largest), MIB);
        assert_eq!(piece_size(Some(10_000_000_000), 8, largest), largest);
        // One thread, or no size to go by (standard input): the largest pieces.
        assert_eq!(piece_size(Some(26_000_000), 1, largest), largest);
        assert_eq!(piece_size(None, 2, largest), largest);
        // A smaller largest size (tests) is kept.
        assert_eq!(piece_size(Some(26_000_000), 2, 1000), 1000);
    }
}
