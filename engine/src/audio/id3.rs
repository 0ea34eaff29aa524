//! ID3v2 tags (before an MP3's frames), checked before symphonia reads them.

/// The bytes a tag starts with.
const MARKER: &[u8; 3] = b"ID3";

/// A tag's header, and a frame's in versions 2.3 and 2.4.
const HEADER: usize = 10;

/// How far symphonia's probe looks for the next marker, from where the last tag ended.
const PROBE_WINDOW: usize = 1 << 20;

/// Refuses a tag whose frames claim more bytes than the tag has left: symphonia 0.5 reads a
/// frame into a zeroed buffer of the size it claims (up to 4 GiB in version 2.3) before it reads
/// a byte of it. Checked are the tags symphonia's probe would find, one after another from the
/// start; bytes without a tag pass.
pub fn check_tags(bytes: &[u8]) -> Result<(), String> {
    let mut from = 0;
    while let Some(at) = find_tag(bytes, from) {
        let header = &bytes[at..at + HEADER];
        let (version, flags) = (header[3], header[5]);
        let size = syncsafe(&header[6..10]);
        let end = (at + HEADER + size).min(bytes.len());
        check_frames(version, flags, &bytes[at + HEADER..end])?;
        // Version 2.4 may repeat the header as a footer after the tag.
        from = end + if flags & 0x10 != 0 { HEADER } else { 0 };
    }
    Ok(())
}

/// The next tag header within the probe's reach of `from`: the marker, a version symphonia
/// reads (2.2 to 2.4), a revision below 0xFF and a size of 7-bit bytes.
fn find_tag(bytes: &[u8], from: usize) -> Option<usize> {
    let window = bytes.get(from..(from + PROBE_WINDOW + HEADER).min(bytes.len()))?;
    window
        .windows(HEADER)
        .position(|h| {
            h.starts_with(MARKER)
                && (2..=4).contains(&h[3])
                && h[4] != 0xff
                && h[6..10].iter().all(|b| b & 0x80 == 0)
        })
        .map(|i| from + i)
}

/// The frames of one tag's body, until its padding (a frame id of other than capitals and
/// digits) or its end.
fn check_frames(version: u8, flags: u8, body: &[u8]) -> Result<(), String> {
    let mut at = 0;
    if flags & 0x40 != 0 {
        // An extended header: its size excludes its own 4 bytes in 2.3, includes them in 2.4.
        let Some(size) = body.get(..4) else {
            return Ok(());
        };
        at = match version {
            3 => 4 + u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize,
            4 => syncsafe(size),
            _ => return Ok(()),
        };
    }
    let (id_length, header) = if version == 2 { (3, 6) } else { (4, HEADER) };
    while let Some(frame) = body.get(at..at + header) {
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
        let left = body.len() - (at + header);
        if size > left {
            return Err(format!(
                "an ID3v2.{version} frame ({}) claims {size} bytes where its tag has {left} left",
                String::from_utf8_lossy(id)
            ));
        }
        at += header + size;
    }
    Ok(())
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

    fn tag(version: u8, frames: &[(&str, u32, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (id, claimed, data) in frames {
            body.extend(id.as_bytes());
            match version {
                2 => body.extend(&claimed.to_be_bytes()[1..]),
                3 => body.extend(claimed.to_be_bytes()),
                _ => body.extend(to_syncsafe(*claimed)),
            }
            if version > 2 {
                body.extend([0, 0]);
            }
            body.extend(data.as_bytes());
        }
        body.extend([0; 16]);
        let mut out = MARKER.to_vec();
        out.extend([version, 0, 0]);
        out.extend(to_syncsafe(body.len() as u32));
        out.extend(body);
        out
    }

    fn to_syncsafe(size: u32) -> [u8; 4] {
        [21, 14, 7, 0].map(|shift| ((size >> shift) & 0x7f) as u8)
    }

    #[test]
    fn frames_larger_than_their_tag_are_refused_in_every_version() {
        for version in 2..=4 {
            let id = if version == 2 { "TT2" } else { "TIT2" };
            let honest = tag(version, &[(id, 4, "\0yes")]);
            let audio = [honest.as_slice(), &[0xff, 0xfb, 0x90, 0x00]].concat();
            assert_eq!(check_tags(&audio), Ok(()), "version {version}");
            let claimed = match version {
                2 => 0xff_ffff,
                3 => u32::MAX,
                _ => 0x0fff_ffff,
            };
            let lying = tag(version, &[(id, 4, "\0yes"), (id, claimed, "\0no")]);
            let why = check_tags(&lying).unwrap_err();
            assert!(why.contains(&format!("claims {claimed} bytes")), "{why}");
        }
    }

    #[test]
    fn a_second_tag_after_the_first_is_checked_and_other_bytes_pass() {
        let lying = [
            tag(3, &[("TIT2", 4, "\0yes")]),
            b"junk".to_vec(),
            tag(3, &[("APIC", 1 << 30, "\0")]),
        ]
        .concat();
        assert!(
            check_tags(&lying)
                .unwrap_err()
                .contains("(APIC) claims 1073741824")
        );
        assert_eq!(check_tags(b"RIFF0000WAVE"), Ok(()));
        assert_eq!(check_tags(b"ID3\x03\0\0\0\0\0"), Ok(()));
    }
}
