//! The append-only journal: what makes an acknowledged event durable before the index has seen
//! it. Segment files (`<number>.journal`) hold frames `[len: u32 LE][crc32: u32 LE][payload]`,
//! each an event ([`Record`]) or a batch's [`Mark`]; the index commit records the journal
//! position it covers, so opening replays only what follows and segments wholly before it are
//! deleted.
//!
//! Each write (a group commit) starts with a group header saying how many bytes of frames
//! follow it. A write that fails is cut off the file at once; should that fail too (or the
//! process die first), replay still takes a group only once all of its bytes are there, so a
//! refused batch is never stored in part.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

/// By default a segment is closed and a new one started once it grows past this many bytes.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Largest frame accepted on replay; a longer length field can only be a torn or corrupt frame.
const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// A place in the journal: everything before it has been read (or indexed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// One event as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub seq: u64,
    pub time_micros: i64,
    pub service: String,
    pub host: String,
    pub tenant: String,
    pub json: String,
}

impl Record {
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.time_micros.to_le_bytes());
        for s in [&self.service, &self.host, &self.tenant, &self.json] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        let payload_len = (out.len() - start - 8) as u32;
        let crc = crc32fast::hash(&out[start + 8..]);
        out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(payload: &[u8]) -> Option<Record> {
        let mut at = 0;
        let mut take = |n: usize| {
            let slice = payload.get(at..at + n)?;
            at += n;
            Some(slice)
        };
        let seq = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let time_micros = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let mut strings = Vec::with_capacity(4);
        for _ in 0..4 {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            strings.push(String::from_utf8(take(len)?.to_vec()).ok()?);
        }
        let json = strings.pop()?;
        let tenant = strings.pop()?;
        let host = strings.pop()?;
        let service = strings.pop()?;
        Some(Record {
            seq,
            time_micros,
            service,
            host,
            tenant,
            json,
        })
    }
}

/// What an appender asked to keep beside its batch, written after the batch's events in the
/// same write (so durable with them): see [`crate::EventStore::append_marked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    /// The sequences the batch's events were given.
    pub seqs: std::ops::Range<u64>,
    /// The appender's own bytes.
    pub tag: Vec<u8>,
}

/// The sequence field of a mark's payload: no event is ever given it, so it tells a mark
/// from an event (journals written before marks existed hold events only).
const MARK_SEQ: u64 = u64::MAX;

impl Mark {
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&MARK_SEQ.to_le_bytes());
        out.extend_from_slice(&self.seqs.start.to_le_bytes());
        out.extend_from_slice(&self.seqs.end.to_le_bytes());
        out.extend_from_slice(&self.tag);
        let payload_len = (out.len() - start - 8) as u32;
        let crc = crc32fast::hash(&out[start + 8..]);
        out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(payload: &[u8]) -> Option<Mark> {
        let word = |at: usize| {
            payload
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        Some(Mark {
            seqs: word(8)?..word(16)?,
            tag: payload.get(24..)?.to_vec(),
        })
    }
}

/// The sequences a group header's mark claims: no batch has them, so a version that reads
/// marks but not group headers passes over them.
const GROUP_SEQS: std::ops::Range<u64> = u64::MAX..u64::MAX;

/// The header of a group: written as a [`Mark`] of [`GROUP_SEQS`] whose tag is the byte length
/// of the frames that follow it in the same write.
fn encode_group_header(bytes: u64, out: &mut Vec<u8>) {
    Mark {
        seqs: GROUP_SEQS,
        tag: bytes.to_le_bytes().to_vec(),
    }
    .encode_into(out);
}

/// One frame of the journal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    Event(Record),
    Mark(Mark),
    /// The start of a group: `bytes` of frames follow, written together.
    Group {
        bytes: u64,
    },
}

impl Frame {
    fn decode(payload: &[u8]) -> Option<Frame> {
        let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
        if seq != MARK_SEQ {
            return Record::decode(payload).map(Frame::Event);
        }
        let mark = Mark::decode(payload)?;
        if mark.seqs == GROUP_SEQS {
            let bytes = u64::from_le_bytes(mark.tag.as_slice().try_into().ok()?);
            Some(Frame::Group { bytes })
        } else {
            Some(Frame::Mark(mark))
        }
    }
}

/// The writing end: only the journal thread holds it.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    /// The end of the last group written whole and fsynced.
    position: Position,
    /// Past this size the segment is closed and the next one started.
    segment_bytes: u64,
    /// A failed write left bytes past `position` that cutting them off failed to remove: the
    /// next append cuts them first, and writes nothing while it cannot.
    uncut: bool,
    /// Failures a test makes happen.
    #[cfg(test)]
    faults: Faults,
}

/// Failures of the file that a test asks for, to see the journal through them.
#[cfg(test)]
#[derive(Debug, Default)]
struct Faults {
    /// The next write stops after this many bytes and fails as on a full disk.
    write_stops_after: Option<usize>,
    /// Cutting the file back fails.
    cut_fails: bool,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.journal"))
}

/// The segment numbers present in the directory, in order.
pub(crate) fn segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LogError::io(dir, e))? {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        let name = entry.file_name();
        let Some(number) = name.to_str().and_then(|n| n.strip_suffix(".journal")) else {
            continue;
        };
        if let Ok(n) = number.parse() {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(dir, e))
}

impl Journal {
    /// Opens the journal for appending at `end` (where replay stopped).
    /// Refuses a segment shorter than `end`: appending there would leave a hole before the
    /// new groups, at which a later replay would stop and cut them off.
    pub fn open_at(dir: &Path, end: Position, segment_bytes: u64) -> Result<Journal, LogError> {
        let path = segment_path(dir, end.segment);
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        // Created the owner's only, as the rest of the data directory.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(|e| LogError::io(&path, e))?;
        let length = file
            .seek(SeekFrom::End(0))
            .map_err(|e| LogError::io(&path, e))?;
        if length < end.offset {
            return Err(LogError::CorruptJournal {
                path,
                offset: length,
            });
        }
        sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_owned(),
            file,
            position: end,
            segment_bytes,
            uncut: false,
            #[cfg(test)]
            faults: Faults::default(),
        })
    }

    /// Appends the records, each mark `(n, mark)` after the first `n` of them (marks in
    /// order of `n`), and fsyncs once for all of them; returns the position after them. This
    /// single fsync per call is the group commit: the caller batches every request that
    /// arrived while the previous fsync ran.
    ///
    /// On an error nothing of the group stays in the journal (it is cut off the file, or, if
    /// that fails too, cut before the next write and never taken by replay, being incomplete)
    /// and the journal takes the next append as if the failed one had not been asked.
    pub fn append(
        &mut self,
        records: &[Record],
        marks: &[(usize, Mark)],
        buf: &mut Vec<u8>,
    ) -> Result<Position, LogError> {
        let path = segment_path(&self.dir, self.position.segment);
        if self.uncut {
            self.cut_back().map_err(|e| LogError::io(&path, e))?;
        }
        if self.position.offset >= self.segment_bytes {
            let next = Position {
                segment: self.position.segment + 1,
                offset: 0,
            };
            *self = Journal::open_at(&self.dir, next, self.segment_bytes)?;
        }
        let path = segment_path(&self.dir, self.position.segment);
        buf.clear();
        encode_group_header(0, buf);
        let header = buf.len();
        let mut marks = marks.iter().peekable();
        for (i, record) in records.iter().enumerate() {
            while let Some((_, mark)) = marks.next_if(|(n, _)| *n <= i) {
                mark.encode_into(buf);
            }
            record.encode_into(buf);
        }
        for (_, mark) in marks {
            mark.encode_into(buf);
        }
        let mut header_bytes = Vec::with_capacity(header);
        encode_group_header((buf.len() - header) as u64, &mut header_bytes);
        buf[..header].copy_from_slice(&header_bytes);
        if let Err(e) = self.write_synced(buf) {
            if let Err(cut) = self.cut_back() {
                self.uncut = true;
                tracing::error!(
                    path = %path.display(),
                    error = %cut,
                    "cannot cut a failed write off the journal; it is cut before the next write, and replay never takes it"
                );
            }
            return Err(LogError::io(&path, e));
        }
        self.position.offset += buf.len() as u64;
        Ok(self.position)
    }

    fn write_synced(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(stop) = self.faults.write_stops_after.take() {
            self.file.write_all(&buf[..stop.min(buf.len())])?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.file.write_all(buf)?;
        self.file.sync_data()
    }

    /// Cuts the segment back to the end of the last whole group (the file is in append mode:
    /// the next write lands there).
    fn cut_back(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if self.faults.cut_fails {
            return Err(io::Error::other("cutting fails in this test"));
        }
        self.file.set_len(self.position.offset)?;
        self.file.sync_all()?;
        self.uncut = false;
        Ok(())
    }
}

/// Reads every record from `from` on, calling `each` with it and the position after it. A group
/// is taken only once all of its bytes read: a torn or corrupt frame, or a group cut short, at
/// the end of the last segment (a write cut short by a crash or a failed write) is truncated
/// away from the start of its group; one in an earlier segment is corruption and an error.
/// Returns where appending resumes.
pub(crate) fn replay(
    dir: &Path,
    from: Position,
    mut each: impl FnMut(Record, Position) -> Result<(), LogError>,
) -> Result<Position, LogError> {
    let all = segments(dir)?;
    let wanted: Vec<u64> = all.into_iter().filter(|s| *s >= from.segment).collect();
    if let Some(length) = short_of(dir, from)? {
        // Cutting there would extend the file with zeros: the caller reports the damage and
        // replays from the next segment instead.
        return Err(LogError::CorruptJournal {
            path: segment_path(dir, from.segment),
            offset: length,
        });
    }
    let Some(&last) = wanted.last() else {
        return Ok(from);
    };
    let mut end = from;
    for segment in wanted {
        let path = segment_path(dir, segment);
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let length = file.metadata().map_err(|e| LogError::io(&path, e))?.len();
        let mut offset = if segment == from.segment {
            from.offset
        } else {
            0
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| LogError::io(&path, e))?;
        let mut payload = Vec::new();
        // The group being read (where its header starts, where its frames end) and its records
        // so far, handed to `each` once the group is whole. Replay from a checkpoint inside a
        // group reads the rest of it frame by frame: an index commit covers durable groups only.
        let mut group: Option<(u64, u64)> = None;
        let mut held: Vec<(Record, Position)> = Vec::new();
        let torn_at = loop {
            if let Some((start, group_end)) = group
                && offset >= group_end
            {
                if offset > group_end {
                    break Some(start);
                }
                for (record, after) in held.drain(..) {
                    each(record, after)?;
                }
                group = None;
            }
            if offset == length {
                break group.map(|(start, _)| start);
            }
            let at = offset;
            match read_frame(&mut reader, &mut payload) {
                Ok(Some(frame)) => {
                    offset += 8 + payload.len() as u64;
                    let after = Position { segment, offset };
                    match (frame, group) {
                        (Frame::Group { .. }, Some((start, _))) => break Some(start),
                        (Frame::Group { bytes }, None) => {
                            group = Some((at, offset.saturating_add(bytes)));
                        }
                        (Frame::Event(record), Some(_)) => held.push((record, after)),
                        (Frame::Event(record), None) => each(record, after)?,
                        (Frame::Mark(_), _) => {}
                    }
                }
                Ok(None) | Err(_) => break Some(group.map_or(at, |(start, _)| start)),
            }
        };
        let Some(cut) = torn_at else {
            end = Position { segment, offset };
            continue;
        };
        if segment != last {
            return Err(LogError::CorruptJournal { path, offset: cut });
        }
        tracing::warn!(
            path = %path.display(),
            offset = cut,
            discarded = length.saturating_sub(cut),
            "journal ends in a torn write; truncating it"
        );
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        file.set_len(cut)
            .and_then(|()| file.sync_all())
            .map_err(|e| LogError::io(&path, e))?;
        end = Position {
            segment,
            offset: cut,
        };
    }
    Ok(end)
}

/// The length of the segment `position` is in when it is shorter than `position` (0 when the
/// file is missing): bytes that were durable, and that the caller has taken, are gone (the
/// file was cut short or deleted), which is damage, never a torn write. `None` when the segment
/// reaches `position`.
pub(crate) fn short_of(dir: &Path, position: Position) -> Result<Option<u64>, LogError> {
    if position.offset == 0 {
        return Ok(None);
    }
    let path = segment_path(dir, position.segment);
    let length = match fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(LogError::io(&path, e)),
    };
    Ok((length < position.offset).then_some(length))
}

/// The sequence of the last event of `segment` that still reads (`None`: none does, or the
/// file is missing), reading its frames until they stop; nothing is cut.
pub(crate) fn last_seq(dir: &Path, segment: u64) -> Result<Option<u64>, LogError> {
    let path = segment_path(dir, segment);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path, e)),
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut payload = Vec::new();
    let mut last = None;
    while let Some(record) =
        next_record(&mut reader, &mut payload).map_err(|e| LogError::io(&path, e))?
    {
        last = Some(record.seq);
    }
    Ok(last)
}

/// The first run of sequences, from 0 on, that the journal does not hold (`None`: it holds
/// every event from the first one to its end). Sequences follow one another through the
/// segments without a gap (a refused group's go to the next one), so a run missing is events
/// gone from the journal: segments deleted once the index covered them, or a segment cut short
/// or deleted. Reads every segment, without cutting anything: for the rare moment a damaged
/// index must be judged, since the index can be rebuilt from the journal only when this is
/// `None`.
pub(crate) fn missing(dir: &Path) -> Result<Option<std::ops::Range<u64>>, LogError> {
    let mut expected = 0u64;
    let mut payload = Vec::new();
    for segment in segments(dir)? {
        let path = segment_path(dir, segment);
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        while let Some(record) =
            next_record(&mut reader, &mut payload).map_err(|e| LogError::io(&path, e))?
        {
            if record.seq > expected {
                return Ok(Some(expected..record.seq));
            }
            expected = expected.max(record.seq + 1);
        }
    }
    Ok(None)
}

/// Reads the frames in `[from, until)` while the journal may still be appending beyond
/// `until`: the indexer's catch-up after it fell behind. Every frame in the range was fsynced
/// before `until` was handed out, so a frame that does not read is corruption, never a torn
/// tail, and nothing is truncated. `each` gets every record with the position after it.
pub(crate) fn read_range(
    dir: &Path,
    from: Position,
    until: Position,
    mut each: impl FnMut(Record, Position) -> Result<(), LogError>,
) -> Result<(), LogError> {
    for segment in segments(dir)?
        .into_iter()
        .filter(|s| *s >= from.segment && *s <= until.segment)
    {
        let path = segment_path(dir, segment);
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let mut offset = if segment == from.segment {
            from.offset
        } else {
            0
        };
        let stop = if segment == until.segment {
            until.offset
        } else {
            file.metadata().map_err(|e| LogError::io(&path, e))?.len()
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| LogError::io(&path, e))?;
        let mut payload = Vec::new();
        while offset < stop {
            match read_frame(&mut reader, &mut payload) {
                Ok(Some(frame)) => {
                    offset += 8 + payload.len() as u64;
                    if let Frame::Event(record) = frame {
                        each(record, Position { segment, offset })?;
                    }
                }
                Ok(None) | Err(_) => return Err(LogError::CorruptJournal { path, offset }),
            }
        }
    }
    Ok(())
}

/// Reads one frame; `None` when it is incomplete or fails its checksum.
fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Option<Frame>> {
    let mut header = [0u8; 8];
    if let Err(e) = reader.read_exact(&mut header) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(None)
        } else {
            Err(e)
        };
    }
    let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
    if len > MAX_FRAME {
        return Ok(None);
    }
    payload.resize(len as usize, 0);
    if let Err(e) = reader.read_exact(payload) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if crc32fast::hash(payload) != crc {
        return Ok(None);
    }
    Ok(Frame::decode(payload))
}

/// The next event of `reader`, passing over marks; `None` at the end (or a frame that does not
/// read).
fn next_record(reader: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Option<Record>> {
    loop {
        match read_frame(reader, payload)? {
            Some(Frame::Event(record)) => return Ok(Some(record)),
            Some(Frame::Mark(_) | Frame::Group { .. }) => continue,
            None => return Ok(None),
        }
    }
}

/// Deletes the segments wholly before `position` (the index commit covers them) that hold
/// no record of sequence `keep_from` or later (records whose detections may not be recorded
/// yet; `None`: no such bound).
pub(crate) fn remove_before(
    dir: &Path,
    position: Position,
    keep_from: Option<u64>,
) -> Result<(), LogError> {
    let all = segments(dir)?;
    for (i, &segment) in all.iter().enumerate() {
        if segment >= position.segment {
            break;
        }
        if let Some(keep_from) = keep_from {
            // Sequences increase through the segments: this one ends before the next begins.
            let next_first = match all.get(i + 1) {
                Some(&next) => first_seq(dir, next)?,
                None => None,
            };
            if next_first.is_none_or(|first| first > keep_from) {
                break;
            }
        }
        let path = segment_path(dir, segment);
        fs::remove_file(&path).map_err(|e| LogError::io(&path, e))?;
    }
    Ok(())
}

/// The sequence of a segment's first record (`None`: it holds none yet).
fn first_seq(dir: &Path, segment: u64) -> Result<Option<u64>, LogError> {
    let path = segment_path(dir, segment);
    let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
    let mut payload = Vec::new();
    let record =
        next_record(&mut BufReader::new(file), &mut payload).map_err(|e| LogError::io(&path, e))?;
    Ok(record.map(|r| r.seq))
}

/// The records with sequences in `seqs`, oldest first, at most `limit`, while the journal may
/// be appending beyond `seqs.end` (every record below it was durable before it was asked
/// for). Segments wholly before `seqs.start` are skipped by their first sequence.
pub(crate) fn read_seqs(
    dir: &Path,
    seqs: std::ops::Range<u64>,
    limit: usize,
) -> Result<Vec<Record>, LogError> {
    let mut out = Vec::new();
    if seqs.is_empty() || limit == 0 {
        return Ok(out);
    }
    for_each_frame_from(dir, seqs.start, |frame| {
        let Frame::Event(record) = frame else {
            return true;
        };
        let seq = record.seq;
        if seq >= seqs.end {
            return false;
        }
        if seq >= seqs.start {
            out.push(record);
            if out.len() == limit || seq + 1 == seqs.end {
                return false;
            }
        }
        true
    })?;
    Ok(out)
}

/// The marks of the batches whose events all have sequences in `seqs`, oldest first, while the
/// journal may be appending beyond `seqs.end` (as [`read_seqs`]).
pub(crate) fn read_marks(dir: &Path, seqs: std::ops::Range<u64>) -> Result<Vec<Mark>, LogError> {
    let mut out = Vec::new();
    if seqs.is_empty() {
        return Ok(out);
    }
    for_each_frame_from(dir, seqs.start, |frame| match frame {
        Frame::Event(record) => record.seq < seqs.end,
        Frame::Mark(mark) => {
            if mark.seqs.start >= seqs.start && mark.seqs.end <= seqs.end {
                out.push(mark);
            }
            true
        }
        Frame::Group { .. } => true,
    })?;
    Ok(out)
}

/// Calls `each` with every event and mark from the segment holding sequence `from` on, oldest first,
/// until it returns false or the frames end (the last segment's end, or a frame still being
/// written). Segments wholly before `from` are skipped by their first sequence.
fn for_each_frame_from(
    dir: &Path,
    from: u64,
    mut each: impl FnMut(Frame) -> bool,
) -> Result<(), LogError> {
    let all = segments(dir)?;
    let mut start = 0;
    for (i, &segment) in all.iter().enumerate().skip(1) {
        match first_seq(dir, segment)? {
            Some(first) if first <= from => start = i,
            _ => break,
        }
    }
    let mut payload = Vec::new();
    for &segment in &all[start..] {
        let path = segment_path(dir, segment);
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        while let Some(frame) =
            read_frame(&mut reader, &mut payload).map_err(|e| LogError::io(&path, e))?
        {
            if matches!(frame, Frame::Group { .. }) {
                continue;
            }
            if !each(frame) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            time_micros: 1_700_000_000_000_000 + seq as i64,
            service: "svc".into(),
            host: "h".into(),
            tenant: "t".into(),
            json: format!("{{\"n\":{seq}}}"),
        }
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let mut buf = Vec::new();
        let end = journal
            .append(&[record(1), record(2)], &[], &mut buf)
            .expect("append");
        drop(journal);
        let path = segment_path(dir.path(), 0);
        let mut file = OpenOptions::new().append(true).open(&path).expect("reopen");
        file.write_all(&[40, 0, 0, 0, 1, 2]).expect("torn write");
        drop(file);

        let mut seen = Vec::new();
        let resumed = replay(dir.path(), Position::default(), |r, _| {
            seen.push(r);
            Ok(())
        })
        .expect("replay");
        assert_eq!(seen, vec![record(1), record(2)]);
        assert_eq!(resumed, end);
        assert_eq!(fs::metadata(&path).expect("segment").len(), end.offset);
    }

    #[test]
    fn marks_sit_after_their_batch_and_are_no_records() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let mark = |seqs: std::ops::Range<u64>, tag: &str| Mark {
            seqs,
            tag: tag.as_bytes().to_vec(),
        };
        let mut buf = Vec::new();
        journal
            .append(
                &[record(0), record(1), record(2)],
                &[(2, mark(0..2, "a")), (3, mark(2..3, ""))],
                &mut buf,
            )
            .expect("append");
        journal
            .append(&[record(3)], &[(1, mark(3..4, "d"))], &mut buf)
            .expect("append");
        drop(journal);

        let mut frames = Vec::new();
        for_each_frame_from(dir.path(), 0, |f| {
            frames.push(f);
            true
        })
        .expect("frames");
        assert_eq!(
            frames,
            vec![
                Frame::Event(record(0)),
                Frame::Event(record(1)),
                Frame::Mark(mark(0..2, "a")),
                Frame::Event(record(2)),
                Frame::Mark(mark(2..3, "")),
                Frame::Event(record(3)),
                Frame::Mark(mark(3..4, "d")),
            ]
        );
        let mut replayed = Vec::new();
        replay(dir.path(), Position::default(), |r, _| {
            replayed.push(r.seq);
            Ok(())
        })
        .expect("replay");
        assert_eq!(replayed, vec![0, 1, 2, 3]);
        let seqs = |range| {
            read_seqs(dir.path(), range, 10)
                .expect("read")
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(1..4), vec![1, 2, 3]);
        assert_eq!(
            read_marks(dir.path(), 1..4).expect("marks"),
            vec![mark(2..3, ""), mark(3..4, "d")],
            "only batches wholly in the range"
        );
        assert_eq!(read_marks(dir.path(), 0..3).expect("marks").len(), 2);
    }

    /// The bytes a group of `records` takes before its last `torn` bytes: a write that
    /// stops there leaves whole frames of the group behind and none cut.
    fn group_bytes(records: &[Record], marks: &[(usize, Mark)]) -> usize {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let end = journal
            .append(records, marks, &mut Vec::new())
            .expect("append");
        end.offset as usize
    }

    fn replayed(dir: &Path) -> Vec<u64> {
        let mut seqs = Vec::new();
        replay(dir, Position::default(), |r, _| {
            seqs.push(r.seq);
            Ok(())
        })
        .expect("replay");
        seqs
    }

    #[test]
    fn a_failed_write_is_cut_off_and_the_next_append_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = segment_path(dir.path(), 0);
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let mut buf = Vec::new();
        let before = journal
            .append(&[record(0), record(1)], &[], &mut buf)
            .expect("append");

        let refused: Vec<Record> = (2..6).map(record).collect();
        let mark = Mark {
            seqs: 2..6,
            tag: b"key".to_vec(),
        };
        // All of the group's events and half of its mark reach the file.
        let whole = group_bytes(&refused, &[(4, mark.clone())]);
        journal.faults.write_stops_after = Some(whole - 10);
        let failed = journal.append(&refused, &[(4, mark)], &mut buf);
        let Err(LogError::Io { source, .. }) = failed else {
            panic!("the write fails: {failed:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            fs::metadata(&path).expect("segment").len(),
            before.offset,
            "nothing of the failed group stays"
        );
        assert_eq!(replayed(dir.path()), vec![0, 1]);

        let after = journal
            .append(&[record(2), record(3)], &[], &mut buf)
            .expect("the next append is written");
        assert_eq!(after.offset, fs::metadata(&path).expect("segment").len());
        drop(journal);
        assert_eq!(replayed(dir.path()), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_failed_write_that_cannot_be_cut_is_never_replayed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = segment_path(dir.path(), 0);
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let mut buf = Vec::new();
        let before = journal
            .append(&[record(0), record(1)], &[], &mut buf)
            .expect("append");

        // The write stops between two frames: three whole events of the group are in the
        // file, and cutting them off fails.
        let refused: Vec<Record> = (2..8).map(record).collect();
        journal.faults.write_stops_after = Some(group_bytes(&refused[..3], &[]));
        journal.faults.cut_fails = true;
        assert!(journal.append(&refused, &[], &mut buf).is_err());
        assert!(fs::metadata(&path).expect("segment").len() > before.offset);
        assert!(
            journal.append(&[record(2)], &[], &mut buf).is_err(),
            "nothing is written after bytes that are not cut off"
        );

        // A process that stops now: replay leaves the group out and cuts it.
        let mut seen = Vec::new();
        let resumed = replay(dir.path(), Position::default(), |r, _| {
            seen.push(r.seq);
            Ok(())
        })
        .expect("replay");
        assert_eq!(seen, vec![0, 1]);
        assert_eq!(resumed, before);
        assert_eq!(fs::metadata(&path).expect("segment").len(), before.offset);
    }

    #[test]
    fn the_journal_cuts_a_failed_write_before_its_next_append() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal =
            Journal::open_at(dir.path(), Position::default(), SEGMENT_BYTES).expect("open");
        let mut buf = Vec::new();
        journal.append(&[record(0)], &[], &mut buf).expect("append");
        journal.faults.write_stops_after = Some(30);
        journal.faults.cut_fails = true;
        assert!(
            journal
                .append(&[record(1), record(2)], &[], &mut buf)
                .is_err()
        );
        journal.faults.cut_fails = false;
        journal
            .append(&[record(1)], &[], &mut buf)
            .expect("cut, then written");
        drop(journal);
        assert_eq!(replayed(dir.path()), vec![0, 1]);
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut buf = Vec::new();
        record(7).encode_into(&mut buf);
        buf[20] ^= 1;
        let mut payload = Vec::new();
        assert_eq!(
            read_frame(&mut buf.as_slice(), &mut payload).expect("reads"),
            None
        );
    }
}
