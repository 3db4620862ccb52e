//! The append-only journal: what makes an acknowledged event durable before the index has seen
//! it. Segment files (`<number>.journal`) hold frames `[len: u32 LE][crc32: u32 LE][payload]`,
//! each an event ([`Record`]) or a batch's [`Mark`]; the index commit records the journal
//! position it covers, so opening replays only what follows and segments wholly before it are
//! deleted.

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

/// One frame of the journal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    Event(Record),
    Mark(Mark),
}

impl Frame {
    fn decode(payload: &[u8]) -> Option<Frame> {
        let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
        if seq == MARK_SEQ {
            Mark::decode(payload).map(Frame::Mark)
        } else {
            Record::decode(payload).map(Frame::Event)
        }
    }
}

/// The writing end: only the journal thread holds it.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    position: Position,
    /// Past this size the segment is closed and the next one started.
    segment_bytes: u64,
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
    pub fn open_at(dir: &Path, end: Position, segment_bytes: u64) -> Result<Journal, LogError> {
        let path = segment_path(dir, end.segment);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| LogError::io(&path, e))?;
        sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_owned(),
            file,
            position: end,
            segment_bytes,
        })
    }

    /// Appends the records, each mark `(n, mark)` after the first `n` of them (marks in
    /// order of `n`), and fsyncs once for all of them; returns the position after them. This
    /// single fsync per call is the group commit: the caller batches every request that
    /// arrived while the previous fsync ran.
    pub fn append(
        &mut self,
        records: &[Record],
        marks: &[(usize, Mark)],
        buf: &mut Vec<u8>,
    ) -> Result<Position, LogError> {
        buf.clear();
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
        let path = segment_path(&self.dir, self.position.segment);
        self.file
            .write_all(buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| LogError::io(&path, e))?;
        self.position.offset += buf.len() as u64;
        let end = self.position;
        if self.position.offset >= self.segment_bytes {
            let next = Position {
                segment: self.position.segment + 1,
                offset: 0,
            };
            *self = Journal::open_at(&self.dir, next, self.segment_bytes)?;
        }
        Ok(end)
    }
}

/// Reads every record from `from` on, calling `each` with it and the position after it. A torn
/// or corrupt frame at the end of the last segment (a write cut short by a crash) is truncated
/// away; one in an earlier segment is corruption and an error. Returns where appending resumes.
pub(crate) fn replay(
    dir: &Path,
    from: Position,
    mut each: impl FnMut(Record, Position) -> Result<(), LogError>,
) -> Result<Position, LogError> {
    let all = segments(dir)?;
    let wanted: Vec<u64> = all.into_iter().filter(|s| *s >= from.segment).collect();
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
        loop {
            if offset == length {
                break;
            }
            match read_frame(&mut reader, &mut payload) {
                Ok(Some(frame)) => {
                    offset += 8 + payload.len() as u64;
                    end = Position { segment, offset };
                    if let Frame::Event(record) = frame {
                        each(record, end)?;
                    }
                }
                Ok(None) | Err(_) if segment == last => {
                    tracing::warn!(
                        path = %path.display(),
                        offset,
                        discarded = length - offset,
                        "journal ends in a torn frame; truncating it"
                    );
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| LogError::io(&path, e))?;
                    file.set_len(offset)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| LogError::io(&path, e))?;
                    break;
                }
                Ok(None) | Err(_) => {
                    return Err(LogError::CorruptJournal { path, offset });
                }
            }
        }
        end = Position { segment, offset };
    }
    Ok(end)
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
            Some(Frame::Mark(_)) => continue,
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
    })?;
    Ok(out)
}

/// Calls `each` with every frame from the segment holding sequence `from` on, oldest first,
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
