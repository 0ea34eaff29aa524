//! WebM (Matroska) audio, as browsers' MediaRecorder writes it: the first audio track's codec,
//! its codec data and its packets, as slices of the file. symphonia 0.5's Matroska reader
//! allocates whatever size a lace header claims before it reads a byte (tens of gigabytes from a
//! few bytes of a hostile file, found by fuzzing), so this reader checks every size against the
//! bytes that are there and allocates nothing but the list of packets.
//!
//! Master elements are descended into rather than skipped, so the unknown sizes of a recording
//! written as a stream (Segment and Cluster) need no special case.

use super::AudioError;

/// The first bytes of every Matroska (and WebM) file: the EBML header's id.
pub const MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

const SEGMENT: u32 = 0x1853_8067;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const AUDIO: u32 = 0xE1;
const CLUSTER: u32 = 0x1F43_B675;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const SIMPLE_BLOCK: u32 = 0xA3;

/// Matroska's track type for audio.
const AUDIO_TRACK: u64 = 2;

/// The audio of a WebM file: borrowed from its bytes.
#[derive(Debug, PartialEq)]
pub struct WebmAudio<'a> {
    /// Matroska's codec id, e.g. `A_OPUS`.
    pub codec: String,
    pub codec_private: Option<&'a [u8]>,
    pub packets: Vec<&'a [u8]>,
}

#[derive(Default)]
struct Track<'a> {
    number: Option<u64>,
    kind: Option<u64>,
    codec: Option<&'a [u8]>,
    codec_private: Option<&'a [u8]>,
}

/// More tracks than this is not a recording.
const MAX_TRACKS: usize = 64;

/// Reads the first audio track of a Matroska file, keeping at most `max_packets` packets (the
/// caller's limit on length; the list is all this allocates). Blocks are taken once the tracks
/// are known, which every muxer writes first. A file cut short gives the packets before the
/// cut, as a recording stopped mid-write would.
pub fn read(bytes: &[u8], max_packets: usize) -> Result<WebmAudio<'_>, AudioError> {
    let corrupt = |what: &str| AudioError::Corrupt(format!("the WebM file {what}"));
    let mut tracks: Vec<Track<'_>> = Vec::new();
    let mut packets = Vec::new();
    let mut at = 0;
    while at < bytes.len() && packets.len() < max_packets {
        let Some((id, id_len)) = element_id(&bytes[at..]) else {
            return Err(corrupt("has a broken element id"));
        };
        let Some((size, size_len)) = vint(&bytes[at + id_len..]) else {
            break;
        };
        let data = at + id_len + size_len;
        let descend = matches!(
            id,
            SEGMENT | TRACKS | TRACK_ENTRY | AUDIO | CLUSTER | BLOCK_GROUP
        );
        if id == TRACK_ENTRY {
            if tracks.len() == MAX_TRACKS {
                return Err(corrupt("has more than 64 tracks"));
            }
            tracks.push(Track::default());
        }
        if descend {
            at = data;
            continue;
        }
        // A leaf of unknown size, or one running past the end: the file was cut here.
        let Some(end) = size.and_then(|size| data.checked_add(usize::try_from(size).ok()?)) else {
            break;
        };
        if end > bytes.len() {
            break;
        }
        let body = &bytes[data..end];
        let track = tracks.last_mut();
        match (id, track) {
            (TRACK_NUMBER, Some(track)) => track.number = Some(unsigned(body)),
            (TRACK_TYPE, Some(track)) => track.kind = Some(unsigned(body)),
            (CODEC_ID, Some(track)) => track.codec = Some(body),
            (CODEC_PRIVATE, Some(track)) => track.codec_private = Some(body),
            (SIMPLE_BLOCK | BLOCK, _) => {
                let (number, number_len) =
                    vint(body).ok_or_else(|| corrupt("has a block without a track"))?;
                if number.is_some() && number == audio_track(&tracks).and_then(|t| t.number) {
                    laced_frames(&body[number_len..], &mut packets).map_err(corrupt)?;
                }
            }
            _ => {}
        }
        at = end;
    }
    let track = audio_track(&tracks)
        .ok_or_else(|| AudioError::Unsupported("a WebM file with no audio track".into()))?;
    if track.number.is_none() {
        return Err(corrupt("has an audio track without a number"));
    }
    packets.truncate(max_packets);
    Ok(WebmAudio {
        codec: String::from_utf8_lossy(track.codec.unwrap_or_default()).into_owned(),
        codec_private: track.codec_private,
        packets,
    })
}

fn audio_track<'t, 'a>(tracks: &'t [Track<'a>]) -> Option<&'t Track<'a>> {
    tracks.iter().find(|track| track.kind == Some(AUDIO_TRACK))
}

/// The frames of a block after its track number: a 2-byte timecode, a flags byte, then one
/// frame or several laced together (Xiph, fixed-size or EBML lacing).
fn laced_frames<'a>(block: &'a [u8], frames: &mut Vec<&'a [u8]>) -> Result<(), &'static str> {
    let too_short = "has a block shorter than its header";
    let flags = *block.get(2).ok_or(too_short)?;
    let mut rest = &block[3..];
    let lacing = (flags >> 1) & 0b11;
    if lacing == 0 {
        frames.push(rest);
        return Ok(());
    }
    let count = usize::from(*rest.first().ok_or(too_short)?) + 1;
    rest = &rest[1..];
    let mut sizes = Vec::with_capacity(count);
    match lacing {
        // Xiph: each size but the last as a run of 255s and a final byte.
        1 => {
            for _ in 1..count {
                let mut size = 0usize;
                loop {
                    let (&byte, after) = rest.split_first().ok_or("has a cut lace size")?;
                    rest = after;
                    size += usize::from(byte);
                    if byte != 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        // EBML: the first size as a number, the others as signed differences from the one before.
        3 => {
            let (first, len) = vint(rest).ok_or("has a cut lace size")?;
            rest = &rest[len..];
            let mut size = first.ok_or("has a lace of unknown size")?;
            sizes.push(usize::try_from(size).map_err(|_| "has a lace too large")?);
            for _ in 2..count {
                let (raw, len) = vint(rest).ok_or("has a cut lace size")?;
                let raw = raw.ok_or("has a lace of unknown size")?;
                rest = &rest[len..];
                // A signed difference is stored offset by half its range.
                let bias = (1u64 << (7 * len - 1)) - 1;
                size = (size as i128 + raw as i128 - bias as i128)
                    .try_into()
                    .map_err(|_| "has a negative lace size")?;
                sizes.push(usize::try_from(size).map_err(|_| "has a lace too large")?);
            }
        }
        // Fixed: equal frames.
        _ => {
            if !rest.len().is_multiple_of(count) {
                return Err("has fixed-size laces that do not divide the block");
            }
            sizes.resize(count - 1, rest.len() / count);
        }
    }
    for size in sizes {
        if size > rest.len() {
            return Err("has laces larger than their block");
        }
        let (frame, after) = rest.split_at(size);
        frames.push(frame);
        rest = after;
    }
    frames.push(rest);
    Ok(())
}

/// An element id with its marker bits kept (ids are up to 4 bytes), and its length.
fn element_id(bytes: &[u8]) -> Option<(u32, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let id = bytes
        .get(..len)?
        .iter()
        .fold(0u32, |id, &byte| (id << 8) | u32::from(byte));
    Some((id, len))
}

/// A variable-length number with its marker bit removed, and its length; `None` as the
/// number when every value bit is set (Matroska's "unknown size").
fn vint(bytes: &[u8]) -> Option<(Option<u64>, usize)> {
    let first = *bytes.first()?;
    if first == 0 {
        return None;
    }
    let len = first.leading_zeros() as usize + 1;
    let value = bytes
        .get(1..len)?
        .iter()
        .fold(u64::from(first) & (0xFF >> len), |value, &byte| {
            (value << 8) | u64::from(byte)
        });
    let unknown = value == (1u64 << (7 * len)) - 1;
    Some(((!unknown).then_some(value), len))
}

/// A big-endian unsigned integer element (up to 8 bytes; longer ones are not valid Matroska
/// and read as their last 8 bytes).
fn unsigned(body: &[u8]) -> u64 {
    body.iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An element with a one-byte size (bodies under 127 bytes).
    fn element(id: &[u8], body: &[u8]) -> Vec<u8> {
        [id, &[0x80 | body.len() as u8], body].concat()
    }

    fn file(blocks: &[Vec<u8>]) -> Vec<u8> {
        let track = [
            element(&[0xD7], &[1]),
            element(&[0x83], &[2]),
            element(&[0x86], b"A_OPUS"),
            element(&[0x63, 0xA2], b"OpusHead"),
        ]
        .concat();
        let tracks = element(&[0x16, 0x54, 0xAE, 0x6B], &element(&[0xAE], &track));
        // Segment and Cluster of unknown size, as a recording written as a stream has them.
        let cluster = [&[0x1F, 0x43, 0xB6, 0x75, 0xFF][..], &blocks.concat()].concat();
        let segment = [&[0x18, 0x53, 0x80, 0x67, 0xFF][..], &tracks, &cluster].concat();
        [element(&MAGIC, &element(&[0x42, 0x82], b"webm")), segment].concat()
    }

    fn simple_block(lacing: u8, data: &[u8]) -> Vec<u8> {
        element(&[0xA3], &[&[0x81, 0, 0, lacing << 1][..], data].concat())
    }

    #[test]
    fn a_streamed_file_gives_its_track_and_every_lacing_its_frames() {
        let blocks = vec![
            simple_block(0, b"one"),
            // Xiph: sizes 2 and 1, then the rest.
            simple_block(1, &[2, 2, 1, b'a', b'b', b'c', b'd', b'e']),
            // Fixed: three frames of two bytes.
            simple_block(2, &[2, b'f', b'f', b'g', b'g', b'h', b'h']),
            // EBML: first size 1, then +1 (0xC0 is a one-byte difference of +1), then the rest.
            simple_block(3, &[2, 0x81, 0xC0, b'i', b'j', b'j', b'k']),
        ];
        let bytes = file(&blocks);
        let audio = read(&bytes, usize::MAX).unwrap();
        assert_eq!(audio.codec, "A_OPUS");
        assert_eq!(audio.codec_private, Some(&b"OpusHead"[..]));
        let expected: [&[u8]; 10] = [
            b"one", b"ab", b"c", b"de", b"ff", b"gg", b"hh", b"i", b"jj", b"k",
        ];
        assert_eq!(audio.packets, expected);
    }

    #[test]
    fn laces_larger_than_their_block_are_refused_without_allocating() {
        // Xiph lacing claiming 255 × 200 bytes in a block of a few.
        let mut lying = vec![1];
        lying.extend([255; 200]);
        lying.push(0);
        let bytes = file(&[simple_block(1, &lying)]);
        let refused = read(&bytes, usize::MAX);
        assert!(
            matches!(refused, Err(AudioError::Corrupt(_))),
            "{refused:?}"
        );
        // EBML lacing with an eight-byte first size near 2^56.
        let huge = [1, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, b'x'];
        assert!(read(&file(&[simple_block(3, &huge)]), usize::MAX).is_err());
    }

    #[test]
    fn every_cut_of_a_file_is_read_without_a_panic() {
        let whole = file(&[
            simple_block(0, b"one"),
            simple_block(1, &[1, 1, b'a', b'b']),
        ]);
        for end in 0..whole.len() {
            let _ = read(&whole[..end], usize::MAX);
        }
        assert_eq!(read(&whole, usize::MAX).unwrap().packets.len(), 3);
        // The list of packets stops at the caller's limit.
        assert_eq!(read(&whole, 2).unwrap().packets.len(), 2);
    }
}
