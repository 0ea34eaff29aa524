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
/// fragment) down to each track's sample tables.
const CONTAINERS: [&[u8; 4]; 8] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf",
];

/// Refuses sample tables that count more entries than their box holds. symphonia 0.5 reserves
/// room for every counted entry before it reads one (`stts`, `stsc`, `stsz`, `stco`, `co64`),
/// so a count of four billion in a box of a few bytes would ask for tens of gigabytes, and a
/// failed allocation ends the process rather than returning an error. Inside the containers on
/// the way to those tables a box must also fit its parent. Bytes that are not MP4 pass.
pub fn check_sample_tables(bytes: &[u8]) -> Result<(), String> {
    children(bytes)
        .filter(|(kind, _)| kind == b"moov" || kind == b"moof")
        .try_for_each(|(kind, body)| check_box(&kind, body))
}

fn check_box(kind: &[u8; 4], body: &[u8]) -> Result<(), String> {
    if CONTAINERS.contains(&kind) {
        // Where the last child that fits ends.
        let mut walked = 0;
        for (child_kind, child_body) in children(body) {
            check_box(&child_kind, child_body)?;
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
        return Ok(());
    }
    // (bytes before the count: version and flags, and stsz's constant size; bytes per entry)
    let (count_at, entry_bytes) = match kind {
        b"stts" => (4, 8),
        b"stsc" => (4, 12),
        b"stco" => (4, 4),
        b"co64" => (4, 8),
        // A constant sample size (non-zero) means no table follows.
        b"stsz" if body.get(4..8).is_some_and(|size| size != [0; 4]) => return Ok(()),
        b"stsz" => (8, 4),
        _ => return Ok(()),
    };
    let count = body.get(count_at..count_at + 4).map_or(0, |count| {
        u32::from_be_bytes([count[0], count[1], count[2], count[3]])
    });
    let room = body.len().saturating_sub(count_at + 4) / entry_bytes;
    if count as usize > room {
        return Err(format!(
            "its `{}` table counts {count} entries in room for {room}",
            String::from_utf8_lossy(kind)
        ));
    }
    Ok(())
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
}
