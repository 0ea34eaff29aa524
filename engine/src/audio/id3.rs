//! ID3v2 tags (before an MP3's frames), checked before symphonia reads them.

use std::collections::HashMap;
use std::io::Cursor;

use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Instantiate;

/// The bytes a tag starts with.
const MARKER: &[u8; 3] = b"ID3";

/// A tag's header, and a frame's in versions 2.3 and 2.4.
const HEADER: usize = 10;

/// The most kinds of frame (ids) an unsynchronised tag may hold: each costs a probe tag read by
/// symphonia, and the standard defines fewer than a hundred.
const MOST_FRAME_KINDS: usize = 256;

/// The tag header flag of unsynchronisation (a 0x00 written after each 0xFF).
const UNSYNCHRONISED: u8 = 0x80;

/// The tag header flag of an extended header (in 2.2, of compression).
const EXTENDED: u8 = 0x40;

/// Refuses a tag whose frames claim more bytes than the tag has left: symphonia 0.5 reads a
/// frame into a zeroed buffer of the size it claims (up to 4 GiB in version 2.3) before it reads
/// a byte of it. `tag` starts where symphonia's probe found the tag's marker; the frames are
/// walked as symphonia walks them (past the extended header; in an unsynchronised tag of version
/// 2.2 or 2.3, a frame symphonia parses read with the padding bytes taken out, one it skips
/// skipped by its size in the file's bytes). Tags symphonia refuses itself (other versions,
/// compressed 2.2 tags) and bytes without a tag pass.
pub fn check_tag(tag: &[u8]) -> Result<(), String> {
    let Some(header) = tag.get(..HEADER).filter(|h| h.starts_with(MARKER)) else {
        return Ok(());
    };
    let (version, revision, flags) = (header[3], header[4], header[5]);
    if !(2..=4).contains(&version) || revision == 0xff || (version == 2 && flags & EXTENDED != 0) {
        return Ok(());
    }
    // The tag's bytes as the file has them: symphonia fails at the file's end, reserving only
    // what a frame there claims.
    let end = HEADER.saturating_add(syncsafe(&header[6..10]));
    let mut body = Body {
        raw: &tag[HEADER..end.min(tag.len())],
        at: 0,
        last: 0,
        unsynchronised: flags & UNSYNCHRONISED != 0 && version < 4,
    };
    if flags & EXTENDED != 0 && version > 2 {
        let mut ahead = body.clone();
        let start: Vec<u8> = std::iter::from_fn(|| ahead.read_byte()).take(15).collect();
        match extended_header_length(version, &start) {
            Some(length) => body.skip(length),
            // symphonia refuses the tag at its extended header.
            None => return Ok(()),
        }
    }
    check_frames(version, &mut body)
}

/// A tag's body as symphonia reads it: through its unsynchronisation decoder, which drops a
/// 0x00 read after a 0xFF, where the tag says it is unsynchronised.
#[derive(Clone)]
struct Body<'a> {
    raw: &'a [u8],
    /// The next byte of `raw`.
    at: usize,
    /// The byte read last (the decoder's state: a skip leaves it as it was).
    last: u8,
    unsynchronised: bool,
}

impl Body<'_> {
    fn read_byte(&mut self) -> Option<u8> {
        let mut byte = *self.raw.get(self.at)?;
        self.at += 1;
        if self.unsynchronised && self.last == 0xff && byte == 0 {
            byte = *self.raw.get(self.at)?;
            self.at += 1;
        }
        self.last = byte;
        Some(byte)
    }

    /// Reads `count` bytes and forgets them, as a frame symphonia parses is read.
    fn skip(&mut self, count: usize) {
        for _ in 0..count {
            if self.read_byte().is_none() {
                return;
            }
        }
    }

    /// Skips `count` bytes of the file, as symphonia skips a frame it has no parser for.
    fn skip_in_file(&mut self, count: usize) {
        self.at = self.at.saturating_add(count);
    }

    /// The file's bytes left in the tag (never fewer than the bytes a frame can read).
    fn left(&self) -> usize {
        self.raw.len().saturating_sub(self.at)
    }
}

/// How many bytes symphonia reads as the extended header, or `None` where it refuses it.
fn extended_header_length(version: u8, body: &[u8]) -> Option<usize> {
    if version == 3 {
        // Its size (6 or 10), flags and padding size, then a CRC when the size says so.
        let size = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
        let flags = u16::from_be_bytes(body.get(4..6)?.try_into().ok()?);
        return match size {
            6 => Some(10),
            10 if flags & 0x8000 != 0 => Some(14),
            10 => Some(10),
            _ => None,
        };
    }
    // Version 2.4: a size symphonia does not use, one byte of flags' length (always 1), the
    // flags, then each flag's data behind a byte of its length.
    if *body.get(4)? != 1 {
        return None;
    }
    let flags = *body.get(5)?;
    let mut length = 6;
    for (flag, data) in [(0x40, 0), (0x20, 5), (0x10, 1)] {
        if flags & flag != 0 {
            let expected = if flag == 0x40 { 1 } else { data };
            if usize::from(*body.get(length)?) != expected {
                return None;
            }
            length += 1 + data;
        }
    }
    Some(length)
}

/// The frames of one tag's body, until its padding (a frame id of other than capitals and
/// digits) or its end.
fn check_frames(version: u8, body: &mut Body<'_>) -> Result<(), String> {
    let (id_length, header) = if version == 2 { (3, 6) } else { (4, HEADER) };
    let mut parsed: HashMap<Vec<u8>, bool> = HashMap::new();
    while body.left() >= header {
        let frame: Vec<u8> = std::iter::from_fn(|| body.read_byte())
            .take(header)
            .collect();
        if frame.len() < header {
            break;
        }
        let id = &frame[..id_length];
        if !id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            break;
        }
        let size = match version {
            2 => u32::from_be_bytes([0, frame[3], frame[4], frame[5]]) as usize,
            3 => u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]) as usize,
            _ => syncsafe(&frame[4..8]),
        };
        let left = body.left();
        if size > left {
            return Err(format!(
                "an ID3v2.{version} frame ({}) claims {size} bytes where its tag has {left} left",
                String::from_utf8_lossy(id)
            ));
        }
        let parses = match parsed.get(id) {
            _ if !body.unsynchronised => true,
            Some(&parses) => parses,
            None if parsed.len() == MOST_FRAME_KINDS => {
                return Err(format!(
                    "an unsynchronised ID3v2.{version} tag has frames of more than \
                     {MOST_FRAME_KINDS} kinds"
                ));
            }
            None => {
                let parses = symphonia_parses(version, id);
                parsed.insert(id.to_vec(), parses);
                parses
            }
        };
        if parses {
            body.skip(size);
        } else {
            body.skip_in_file(size);
        }
    }
    Ok(())
}

/// Whether symphonia has a parser for frame `id` of an ID3v2.2 or 2.3 tag, asked of symphonia
/// itself: in an unsynchronised tag, a frame of id `id` whose 2 bytes are written as 3 in the
/// file (`FF 00 00`) is followed by a title frame, which symphonia reaches only if it reads the
/// first frame through its decoder; skipped by its size in the file's bytes, the first frame
/// ends a byte early and the rest reads as padding.
fn symphonia_parses(version: u8, id: &[u8]) -> bool {
    let title: &[u8] = if version == 2 { b"TT2" } else { b"TIT2" };
    let mut body = Vec::new();
    for (frame_id, data) in [(id, [0xff, 0, 0].as_slice()), (title, &[0, b'x'])] {
        body.extend(frame_id);
        if version == 2 {
            body.extend([0, 0, 2]);
        } else {
            body.extend([0, 0, 0, 2, 0, 0]);
        }
        body.extend(data);
    }
    body.extend([0; 16]);
    let mut tag = MARKER.to_vec();
    tag.extend([version, 0, UNSYNCHRONISED]);
    tag.extend([21, 14, 7, 0].map(|shift| ((body.len() >> shift) & 0x7f) as u8));
    tag.extend(body);
    let mut stream = MediaSourceStream::new(Box::new(Cursor::new(tag)), Default::default());
    match symphonia::default::get_probe().next(&mut stream) {
        Ok(Instantiate::Metadata(reader)) => {
            match reader(&MetadataOptions::default()).read_all(&mut stream) {
                Ok(revision) => !revision.tags().is_empty() || !revision.visuals().is_empty(),
                // Only a parser fails on the frame: a skipped frame cannot.
                Err(_) => true,
            }
        }
        // Not expected; reading the frame through the decoder is what symphonia does for most.
        _ => true,
    }
}

/// A 28-bit size written 7 bits to a byte.
fn syncsafe(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0, |size, b| (size << 7) | usize::from(b & 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as version `version` writes it: its id, its claimed size, no flags, its data.
    fn frame(version: u8, id: &str, claimed: u32, data: &[u8]) -> Vec<u8> {
        let mut out = id.as_bytes().to_vec();
        match version {
            2 => out.extend(&claimed.to_be_bytes()[1..]),
            3 => out.extend(claimed.to_be_bytes()),
            _ => out.extend(to_syncsafe(claimed)),
        }
        if version > 2 {
            out.extend([0, 0]);
        }
        out.extend(data);
        out
    }

    /// A tag of `body` (frames, and an extended header if `flags` says so) and some padding.
    fn tag(version: u8, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut out = MARKER.to_vec();
        out.extend([version, 0, flags]);
        out.extend(to_syncsafe(body.len() as u32 + 16));
        out.extend(body);
        out.extend([0; 16]);
        out
    }

    fn to_syncsafe(size: u32) -> [u8; 4] {
        [21, 14, 7, 0].map(|shift| ((size >> shift) & 0x7f) as u8)
    }

    fn id(version: u8) -> &'static str {
        if version == 2 { "TT2" } else { "TIT2" }
    }

    #[test]
    fn frames_larger_than_their_tag_are_refused_in_every_version() {
        for version in 2..=4 {
            let honest = tag(version, 0, &frame(version, id(version), 4, b"\0yes"));
            let audio = [honest.as_slice(), &[0xff, 0xfb, 0x90, 0x00]].concat();
            assert_eq!(check_tag(&audio), Ok(()), "version {version}");
            let claimed = match version {
                2 => 0xff_ffff,
                3 => u32::MAX,
                _ => 0x0fff_ffff,
            };
            let frames = [
                frame(version, id(version), 4, b"\0yes"),
                frame(version, id(version), claimed, b"\0no"),
            ]
            .concat();
            let why = check_tag(&tag(version, 0, &frames)).unwrap_err();
            assert!(why.contains(&format!("claims {claimed} bytes")), "{why}");
        }
    }

    #[test]
    fn a_tag_size_with_high_bits_set_is_read_as_symphonia_reads_it() {
        // symphonia keeps the low 7 bits of each size byte, whatever the top one says.
        let mut lying = tag(3, 0, &frame(3, "APIC", 1 << 30, b"\0"));
        lying[6] |= 0x80;
        assert!(check_tag(&lying).unwrap_err().contains("claims 1073741824"));
    }

    #[test]
    fn frames_behind_an_extended_header_are_checked() {
        let lying = frame(3, "APIC", 1 << 30, b"\0");
        // Version 2.3: size 6 (10 bytes read), size 10 with a CRC (14 bytes read).
        let small = [&6u32.to_be_bytes()[..], &[0; 6], &lying].concat();
        let with_crc = [&10u32.to_be_bytes()[..], &[0x80, 0], &[0; 8], &lying].concat();
        for body in [small, with_crc] {
            assert!(check_tag(&tag(3, EXTENDED, &body)).is_err());
        }
        // A size symphonia refuses: it never reaches the frames.
        let refused = [&7u32.to_be_bytes()[..], &[0; 6], &lying].concat();
        assert_eq!(check_tag(&tag(3, EXTENDED, &refused)), Ok(()));
        // Version 2.4 with every flag's data: update (1), CRC (1 + 5), restrictions (1 + 1).
        let lying = frame(4, "APIC", 0x0fff_ffff, b"\0");
        let extended = [
            &[0, 0, 0, 15, 1, 0x70, 1, 5, 0, 0, 0, 0, 0, 1, 0][..],
            &lying,
        ]
        .concat();
        assert!(check_tag(&tag(4, EXTENDED, &extended)).is_err());
    }

    #[test]
    fn an_unsynchronised_tag_is_walked_with_its_padding_bytes_taken_out() {
        // The first frame's data is four 0xFF bytes, each followed by a 0x00 in the file: read
        // as written, the next frame would seem to start inside it.
        let frames = [
            frame(3, "TIT2", 4, &[0xff; 4]),
            frame(3, "APIC", 1 << 30, b"\0"),
        ]
        .concat();
        let mut unsynchronised = Vec::new();
        for byte in frames {
            unsynchronised.push(byte);
            if byte == 0xff {
                unsynchronised.push(0);
            }
        }
        let lying = tag(3, UNSYNCHRONISED, &unsynchronised);
        assert!(check_tag(&lying).unwrap_err().contains("(APIC) claims"));
    }

    #[test]
    fn in_an_unsynchronised_tag_a_frame_symphonia_skips_is_skipped_by_its_bytes_in_the_file() {
        assert!(symphonia_parses(3, b"TIT2") && symphonia_parses(3, b"APIC"));
        assert!(symphonia_parses(2, b"TT2"));
        assert!(!symphonia_parses(3, b"ZZZZ") && !symphonia_parses(2, b"ZZZ"));
        // A frame with no parser, its 20 bytes in the file ten `FF 00` pairs: symphonia skips
        // those 20 bytes and reads the lying frame header right after them.
        let mut frames = frame(3, "ZZZZ", 20, &[0xff, 0].repeat(10));
        frames.extend(frame(3, "APIC", 0xffff_fff0, b"\0"));
        let lying = tag(3, UNSYNCHRONISED, &frames);
        assert!(
            check_tag(&lying)
                .unwrap_err()
                .contains("(APIC) claims 4294967280")
        );
        // Without unsynchronisation the same bytes are a 20-byte frame, then the lying one.
        assert!(check_tag(&tag(3, 0, &frames)).is_err());
        // Frames of a thousand kinds, each of 1 byte: refused before a thousand probe tags.
        let mut many = Vec::new();
        for i in 0..1000 {
            many.extend(frame(3, &format!("Z{i:03}"), 1, b"x"));
        }
        let why = check_tag(&tag(3, UNSYNCHRONISED, &many)).unwrap_err();
        assert!(why.contains("more than 256 kinds"), "{why}");
    }

    #[test]
    fn other_bytes_and_tags_symphonia_refuses_pass() {
        assert_eq!(check_tag(b"RIFF0000WAVE"), Ok(()));
        assert_eq!(check_tag(b"ID3\x03\0\0\0\0\0"), Ok(()));
        let lying = frame(2, "PIC", 0xff_ffff, b"\0");
        // A compressed 2.2 tag, and a version symphonia does not read.
        assert_eq!(check_tag(&tag(2, EXTENDED, &lying)), Ok(()));
        assert_eq!(check_tag(&tag(5, 0, &lying)), Ok(()));
    }
}
