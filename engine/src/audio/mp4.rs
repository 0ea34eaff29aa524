//! The start of the audio in an MP4/M4A file. AAC encoders put priming frames before the audio
//! (1024 from ffmpeg, 2112 from Apple's) and say so in the audio track's edit list; symphonia
//! 0.5 ignores the edit list, so the decoder's first frames would be the priming's silence.

/// Where the first audio track's edit list starts playing its media.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EditStart {
    media_time: u64,
    /// Units of `media_time` per second.
    timescale: u64,
}

impl EditStart {
    /// The start in frames of a decoder running at `rate`.
    pub fn frames_at(self, rate: u32) -> u64 {
        let frames = u128::from(self.media_time) * u128::from(rate) / u128::from(self.timescale);
        u64::try_from(frames).unwrap_or(u64::MAX)
    }
}

/// The first audio track's edit start, or `None` when the bytes are not MP4 or the track has
/// no edit list that plays media.
pub fn edit_start(bytes: &[u8]) -> Option<EditStart> {
    let moov = children(bytes).find(|(kind, _)| kind == b"moov")?.1;
    let (_, trak) = children(moov)
        .filter(|(kind, _)| kind == b"trak")
        .find(|(_, trak)| is_audio(trak))?;
    Some(EditStart {
        media_time: first_media_time(child(trak, &[b"edts", b"elst"])?)?,
        timescale: media_timescale(trak)?,
    })
}

/// Boxes whose children are walked by [`check_sample_tables`]: the path from the movie (or a
/// fragment) down to each track's sample tables, and to the tags symphonia reads
/// (`moov/udta/meta/ilst`, whose every child is a tag holding `data`, `name` and `mean` boxes).
const CONTAINERS: [&[u8; 4]; 10] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"udta", b"ilst",
];

/// The deepest nesting walked: real files reach 6 (`moov/udta/meta/ilst/©nam/data`); a file of
/// nothing but nested headers must not cost a stack frame per 8 bytes.
const MAX_DEPTH: usize = 12;

/// The type of the file itself, as the parent of its top-level boxes.
const ROOT: &[u8; 4] = b"\0\0\0\0";

/// Refuses sample tables that count more entries than their box holds, and tag boxes that
/// claim more bytes than their parent has. symphonia 0.5 reserves room for every counted entry
/// before it reads one (`stts`, `stsc`, `stsz`, `stco`, `co64`), and for a whole tag's value
/// before it reads it, so a count of four billion or a tag of 2^62 bytes in a box of a few bytes
/// would ask for gigabytes or more, and a failed allocation ends the process rather than
/// returning an error. Inside the containers on the way to those boxes a box must also fit its
/// parent, and nesting stops at [`MAX_DEPTH`]. Bytes that are not MP4 pass.
pub fn check_sample_tables(bytes: &[u8]) -> Result<(), String> {
    let walk = Walk {
        file_bytes: bytes.len(),
    };
    children(bytes)
        .filter(|(kind, _)| [b"moov", b"moof", b"meta"].contains(&kind))
        .try_for_each(|(kind, body)| walk.check_box(&kind, ROOT, body, 1))
}

struct Walk {
    file_bytes: usize,
}

impl Walk {
    fn check_box(
        &self,
        kind: &[u8; 4],
        parent: &[u8; 4],
        body: &[u8],
        depth: usize,
    ) -> Result<(), String> {
        // Where the children start: every child of `ilst` is a tag of boxes; symphonia reads
        // `meta` (at the top or in `udta`) as a full box, its version and flags first.
        let children_at = match (parent, kind) {
            (b"ilst", _) => Some(0),
            (ROOT | b"udta", b"meta") => Some(4),
            _ if CONTAINERS.contains(&kind) => Some(0),
            _ => None,
        };
        let Some(children_at) = children_at else {
            return self.check_table(kind, body);
        };
        if depth >= MAX_DEPTH {
            return Err(format!("its boxes nest deeper than {MAX_DEPTH} levels"));
        }
        let body = body.get(children_at..).unwrap_or_default();
        // Where the last child that fits ends.
        let mut walked = 0;
        for (child_kind, child_body) in children(body) {
            self.check_box(&child_kind, kind, child_body, depth + 1)?;
            walked = child_body.as_ptr() as usize + child_body.len() - body.as_ptr() as usize;
        }
        // A child's header that claims more than its parent has left (a trailing pad shorter
        // than a header is allowed).
        let left = body.len().saturating_sub(walked);
        if left >= 8 {
            return Err(format!(
                "a box inside `{}` claims more bytes than it holds",
                String::from_utf8_lossy(kind)
            ));
        }
        Ok(())
    }

    fn check_table(&self, kind: &[u8; 4], body: &[u8]) -> Result<(), String> {
        let be_u32 = |at: usize| {
            body.get(at..at + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        // (bytes before the count: version and flags, and stsz's constant size; bytes per entry)
        let (count_at, entry_bytes) = match kind {
            b"stts" => (4, 8),
            b"stsc" => (4, 12),
            b"stco" => (4, 4),
            b"co64" => (4, 8),
            // A constant sample size (non-zero) means no table follows; symphonia reserves
            // that size for every packet, and no packet is larger than the file.
            b"stsz" if be_u32(4) as usize > self.file_bytes => {
                return Err(format!(
                    "its samples are {} bytes each, in a file of {}",
                    be_u32(4),
                    self.file_bytes
                ));
            }
            b"stsz" if be_u32(4) != 0 => return Ok(()),
            b"stsz" => (8, 4),
            _ => return Ok(()),
        };
        let count = be_u32(count_at);
        let room = body.len().saturating_sub(count_at + 4) / entry_bytes;
        if count as usize > room {
            return Err(format!(
                "its `{}` table counts {count} entries in room for {room}",
                String::from_utf8_lossy(kind)
            ));
        }
        Ok(())
    }
}

/// The boxes directly inside `data`, as (type, body); stops at the first box that does not fit.
fn children(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let header = rest.get(..8)?;
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        let (size, header_len) = match u32::from_be_bytes(header[..4].try_into().ok()?) {
            // Size 1: a 64-bit size follows the type.
            1 => (
                usize::try_from(u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)).ok()?,
                16,
            ),
            // Size 0: the box runs to the end of its parent.
            0 => (rest.len(), 8),
            size => (usize::try_from(size).ok()?, 8),
        };
        if size < header_len || size > rest.len() {
            return None;
        }
        let body = &rest[header_len..size];
        rest = &rest[size..];
        Some((kind, body))
    })
}

/// The body of the box reached by following `path` from `data`.
fn child<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    path.iter().try_fold(data, |parent, kind| {
        children(parent)
            .find(|(found, _)| found == *kind)
            .map(|(_, body)| body)
    })
}

/// Whether the track's handler is sound (`mdia/hdlr` with handler type `soun`).
fn is_audio(trak: &[u8]) -> bool {
    // Full box: version and flags (4 bytes), pre-defined (4), then the handler type.
    child(trak, &[b"mdia", b"hdlr"]).and_then(|hdlr| hdlr.get(8..12)) == Some(b"soun".as_slice())
}

/// The media time of the first edit that plays media (an edit of -1 is an empty edit).
fn first_media_time(elst: &[u8]) -> Option<u64> {
    let version = *elst.first()?;
    let (entry_len, time_at, time_len) = if version == 1 { (20, 8, 8) } else { (12, 4, 4) };
    // The count is read from the file: never more entries than the box holds.
    let count = u32::from_be_bytes(elst.get(4..8)?.try_into().ok()?) as usize;
    let count = count.min(elst.len().saturating_sub(8) / entry_len);
    (0..count).find_map(|index| {
        let at = 8 + index * entry_len + time_at;
        let field = elst.get(at..at + time_len)?;
        let time = if time_len == 8 {
            i64::from_be_bytes(field.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(field.try_into().ok()?))
        };
        u64::try_from(time).ok()
    })
}

/// The track's media timescale (`mdia/mdhd`), the unit of the edit list's media time.
fn media_timescale(trak: &[u8]) -> Option<u64> {
    let mdhd = child(trak, &[b"mdia", b"mdhd"])?;
    // Version 0: 32-bit creation and modification times; version 1: 64-bit.
    let at = if *mdhd.first()? == 1 { 20 } else { 12 };
    let timescale = u32::from_be_bytes(mdhd.get(at..at + 4)?.try_into().ok()?);
    (timescale > 0).then_some(u64::from(timescale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(body);
        out
    }

    fn track(handler: &[u8; 4], timescale: u32, edits: &[i32]) -> Vec<u8> {
        let mut hdlr = vec![0; 8];
        hdlr.extend(handler);
        hdlr.extend([0; 12]);
        let mut mdhd = vec![0; 12];
        mdhd.extend(timescale.to_be_bytes());
        mdhd.extend([0; 8]);
        let mut elst = vec![0, 0, 0, 0];
        elst.extend((edits.len() as u32).to_be_bytes());
        for &time in edits {
            elst.extend(1000u32.to_be_bytes());
            elst.extend(time.to_be_bytes());
            elst.extend(0x0001_0000u32.to_be_bytes());
        }
        let mdia = [boxed(b"mdhd", &mdhd), boxed(b"hdlr", &hdlr)].concat();
        boxed(
            b"trak",
            &[
                boxed(b"edts", &boxed(b"elst", &elst)),
                boxed(b"mdia", &mdia),
            ]
            .concat(),
        )
    }

    #[test]
    fn the_audio_tracks_first_media_edit_gives_the_priming() {
        let moov = boxed(
            b"moov",
            &[
                track(b"vide", 90_000, &[0]),
                track(b"soun", 44_100, &[-1, 2112]),
            ]
            .concat(),
        );
        let file = [boxed(b"ftyp", b"M4A \0\0\0\0"), moov].concat();
        let start = edit_start(&file).unwrap();
        assert_eq!(start.frames_at(44_100), 2112);
        // In the frames of a decoder at another rate.
        assert_eq!(start.frames_at(22_050), 1056);
    }

    #[test]
    fn files_without_an_edit_list_or_with_broken_boxes_give_none() {
        assert_eq!(edit_start(b"RIFF\0\0\0\0WAVE"), None);
        let moov = boxed(b"moov", &track(b"soun", 16_000, &[1024]));
        assert_eq!(
            edit_start(&moov).map(|start| start.frames_at(16_000)),
            Some(1024)
        );
        // Every truncation of a good file is read without a panic.
        for end in 0..moov.len() {
            let _ = edit_start(&moov[..end]);
        }
        // A box claiming more bytes than there are.
        let mut lying = moov.clone();
        lying[3] = 0xff;
        assert_eq!(edit_start(&lying), None);
        // An edit list claiming four billion entries in a few bytes.
        let mut counted = moov.clone();
        let elst = counted.windows(4).position(|w| w == b"elst").unwrap();
        counted[elst + 8..elst + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            edit_start(&counted).map(|start| start.frames_at(16_000)),
            Some(1024)
        );
    }

    #[test]
    fn boxes_nested_past_the_deepest_real_path_are_refused_without_recursing_into_them() {
        // A million levels of `moov` in 8 MB: each header's size covers the rest of the file.
        let levels = 1_000_000usize;
        let mut file = Vec::with_capacity(levels * 8);
        for level in 0..levels {
            file.extend((((levels - level) * 8) as u32).to_be_bytes());
            file.extend(b"moov");
        }
        assert_eq!(
            check_sample_tables(&file),
            Err(format!("its boxes nest deeper than {MAX_DEPTH} levels"))
        );
    }

    fn tagged(data: &[u8]) -> Vec<u8> {
        let mut meta = vec![0; 4];
        meta.extend(boxed(b"ilst", &boxed(b"\xa9nam", data)));
        boxed(b"moov", &boxed(b"udta", &boxed(b"meta", &meta)))
    }

    #[test]
    fn a_tag_claiming_more_bytes_than_its_box_holds_is_refused() {
        let value = boxed(b"data", b"\0\0\0\x01\0\0\0\0a title");
        assert_eq!(check_sample_tables(&tagged(&value)), Ok(()));
        // A `data` box with a 64-bit size of 2^62.
        let mut lying = 1u32.to_be_bytes().to_vec();
        lying.extend(b"data");
        lying.extend((1u64 << 62).to_be_bytes());
        lying.extend(b"\0\0\0\x01\0\0\0\0a title");
        assert_eq!(
            check_sample_tables(&tagged(&lying)),
            Err("a box inside `\u{fffd}nam` claims more bytes than it holds".into())
        );
        // QuickTime's `moov/meta` is not a full box and symphonia does not read it: not walked.
        let quicktime = boxed(b"moov", &boxed(b"meta", &boxed(b"hdlr", &[0; 24])));
        assert_eq!(check_sample_tables(&quicktime), Ok(()));
    }

    #[test]
    fn a_constant_sample_size_larger_than_the_file_is_refused() {
        let stsz = |size: u32| {
            let mut body = vec![0; 4];
            body.extend(size.to_be_bytes());
            body.extend(1000u32.to_be_bytes());
            let stbl = boxed(b"stbl", &boxed(b"stsz", &body));
            boxed(
                b"moov",
                &boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &stbl))),
            )
        };
        assert_eq!(check_sample_tables(&stsz(4)), Ok(()));
        assert_eq!(
            check_sample_tables(&stsz(u32::MAX)),
            Err("its samples are 4294967295 bytes each, in a file of 60".into())
        );
    }
}
