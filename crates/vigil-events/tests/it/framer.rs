//! The RFC 6587 framer: every split of a mixed stream gives the same frames; random streams
//! cut at random give back what was framed; oversized frames are skipped with bounded memory.

use vigil_events::syslog::{FrameError, Framer, Framing};

use vigil_testkit::Rng;

/// What the framer yielded: (frame bytes, framing, stream offset) or the error.
type Outcome = Result<(Vec<u8>, Framing, u64), FrameError>;

/// Everything a framer yields for `chunks`, then `finish`.
fn run(max: usize, chunks: &[&[u8]]) -> Vec<Outcome> {
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        framer.extend(chunk);
        while let Some(f) = framer.next_frame() {
            out.push(f.map(|f| (f.data.to_vec(), f.framing, f.offset)));
        }
        assert!(
            framer.buffered() <= max + 11,
            "holds {} bytes, limit {max}",
            framer.buffered()
        );
    }
    if let Some(f) = framer.finish() {
        out.push(f.map(|f| (f.data.to_vec(), f.framing, f.offset)));
    }
    out
}

const MIXED: &[u8] = b"29 <34>1 - host app - - - hello\n<13>Oct 11 22:14:15 h su: line\r\n\
<13>nul-terminated\x002026-11-22T10:00:00Z h x: digits first\n\n\n11 <13>counted";

fn expected_mixed() -> Vec<Outcome> {
    use Framing::*;
    vec![
        Ok((b"<34>1 - host app - - - hello\n".to_vec(), OctetCounting, 0)),
        Ok((
            b"<13>Oct 11 22:14:15 h su: line".to_vec(),
            NonTransparent,
            32,
        )),
        Ok((b"<13>nul-terminated".to_vec(), NonTransparent, 64)),
        Ok((
            b"2026-11-22T10:00:00Z h x: digits first".to_vec(),
            NonTransparent,
            83,
        )),
        Ok((b"<13>counted".to_vec(), OctetCounting, 124)),
    ]
}

#[test]
fn mixed_framing_whole() {
    assert_eq!(run(1024, &[MIXED]), expected_mixed());
}

#[test]
fn mixed_framing_every_split_and_byte_by_byte() {
    let expected = expected_mixed();
    for i in 0..=MIXED.len() {
        for j in i..=MIXED.len() {
            let got = run(1024, &[&MIXED[..i], &MIXED[i..j], &MIXED[j..]]);
            assert_eq!(got, expected, "split at {i} and {j}");
        }
    }
    let bytes: Vec<&[u8]> = MIXED.chunks(1).collect();
    assert_eq!(run(1024, &bytes), expected);
}

#[test]
fn random_streams_random_splits() {
    let mut rng = Rng::new(6587);
    for round in 0..300 {
        let max = 16 + rng.below(200);
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..rng.below(30) {
            let len = 1 + rng.below(max);
            let offset = stream.len() as u64;
            let counted = rng.below(2) == 0;
            let msg: Vec<u8> = (0..len)
                .map(|k| {
                    if counted {
                        // Octet-counted frames may hold any byte, newlines and NULs too.
                        rng.below(256) as u8
                    } else if k == 0 {
                        b'<'
                    } else {
                        b' ' + rng.below(95) as u8
                    }
                })
                .collect();
            if counted {
                stream.extend_from_slice(format!("{len} ").as_bytes());
                stream.extend_from_slice(&msg);
                expected.push(Ok((msg, Framing::OctetCounting, offset)));
            } else {
                stream.extend_from_slice(&msg);
                stream.push(if rng.below(4) == 0 { 0 } else { b'\n' });
                expected.push(Ok((msg, Framing::NonTransparent, offset)));
            }
        }
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = 1 + rng.below(64);
            chunks.push(&stream[at..(at + n).min(stream.len())]);
            at += n;
        }
        assert_eq!(run(max, &chunks), expected, "round {round}");
    }
}

#[test]
fn oversized_counted_frame_is_skipped_without_buffering_it() {
    let mut stream = b"1000000 ".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 1_000_000));
    stream.extend_from_slice(b"5 <13>a<13>after\n");
    let chunks: Vec<&[u8]> = stream.chunks(4096).collect();
    let got = run(100, &chunks);
    assert_eq!(
        got,
        vec![
            Err(FrameError::DeclaredTooLarge {
                offset: 0,
                declared: 1_000_000,
                max: 100
            }),
            Ok((b"<13>a".to_vec(), Framing::OctetCounting, 1_000_008)),
            Ok((b"<13>after".to_vec(), Framing::NonTransparent, 1_000_015)),
        ]
    );
}

#[test]
fn oversized_line_is_skipped_to_the_next_line_end() {
    let mut stream = vec![b'<'; 5000];
    stream.extend_from_slice(b"\n<13>next\n");
    let chunks: Vec<&[u8]> = stream.chunks(7).collect();
    let got = run(64, &chunks);
    assert_eq!(
        got,
        vec![
            Err(FrameError::LineTooLong { offset: 0, max: 64 }),
            Ok((b"<13>next".to_vec(), Framing::NonTransparent, 5001)),
        ]
    );
    // Arriving in one read, the long line is still reported and skipped.
    assert_eq!(run(64, &[&stream]), got);
}

#[test]
fn end_of_stream_delivers_the_last_line_or_reports_truncation() {
    assert_eq!(
        run(64, &[b"<13>no newline"]),
        vec![Ok((b"<13>no newline".to_vec(), Framing::NonTransparent, 0))]
    );
    assert_eq!(
        run(64, &[b"20 <13>short"]),
        vec![Err(FrameError::Truncated {
            offset: 0,
            declared: 20,
            received: 9
        })]
    );
    // Digits alone at the end are a line, not a length prefix.
    assert_eq!(
        run(64, &[b"123"]),
        vec![Ok((b"123".to_vec(), Framing::NonTransparent, 0))]
    );
    assert_eq!(run(64, &[b"\n\r\n\0"]), vec![]);
    let err = FrameError::Truncated {
        offset: 0,
        declared: 20,
        received: 9,
    };
    assert!(err.to_string().contains("closed the connection"));
}
