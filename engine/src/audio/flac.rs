//! A FLAC file's metadata blocks, checked before symphonia reads them.

use super::vorbis_comment::check_comments;

/// A FLAC stream's first bytes.
const MAGIC: &[u8; 4] = b"fLaC";

/// The block type of the Vorbis comment list.
const COMMENTS: u8 = 4;

/// The block type of an embedded picture.
const PICTURE: u8 = 6;

/// Refuses metadata blocks that claim more bytes than the file has, and pictures and comments
/// whose fields claim more bytes than their block holds: symphonia 0.5 reads a picture's media
/// type, description and data, and each comment, into buffers of the lengths they claim (up to
/// 4 GiB each) before it reads a byte of them. Bytes that are not FLAC pass.
pub fn check_metadata(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(MAGIC) {
        return Ok(());
    }
    let mut at = MAGIC.len();
    while let Some(header) = bytes.get(at..at + 4) {
        let (last, kind) = (header[0] & 0x80 != 0, header[0] & 0x7f);
        let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let body = at + 4;
        let Some(block) = bytes.get(body..body + length) else {
            return Err(format!(
                "a metadata block claims {length} bytes where the file has {} left",
                bytes.len() - body
            ));
        };
        check_block(kind, block)?;
        if last {
            break;
        }
        at = body + length;
    }
    Ok(())
}

/// One metadata block's body, by its type (also the header packets of FLAC in Ogg).
pub fn check_block(kind: u8, block: &[u8]) -> Result<(), String> {
    match kind {
        COMMENTS => check_comments(block).map(drop),
        PICTURE => check_picture(block),
        _ => Ok(()),
    }
}

/// A picture block: its type, then the media type, the description (each a length and its
/// bytes), four numbers (width, height, colour depth, colours used), then the data. A block cut
/// short ends the check: symphonia stops reading there too.
fn check_picture(block: &[u8]) -> Result<(), String> {
    let mut at = 4;
    for (field, skip_after) in [("media type", 0), ("description", 16), ("data", 0)] {
        let Some(length) = block
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            return Ok(());
        };
        let left = block.len() - (at + 4);
        if length > left {
            return Err(format!(
                "a picture's {field} claims {length} bytes where its block has {left} left"
            ));
        }
        at += 4 + length + skip_after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: u8, last: bool, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind | if last { 0x80 } else { 0 }];
        out.extend(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend(body);
        out
    }

    fn picture(media_type_length: u32, data: &[u8]) -> Vec<u8> {
        let mut body = 3u32.to_be_bytes().to_vec();
        body.extend(media_type_length.to_be_bytes());
        body.extend(b"image/png");
        body.extend(0u32.to_be_bytes());
        body.extend([0; 16]);
        body.extend((data.len() as u32).to_be_bytes());
        body.extend(data);
        body
    }

    #[test]
    fn pictures_and_blocks_that_claim_more_than_they_hold_are_refused() {
        let streaminfo = block(0, false, &[0; 34]);
        let file = |picture: &[u8]| [MAGIC.as_slice(), &streaminfo, picture].concat();
        let honest = file(&block(PICTURE, true, &picture(9, b"\x89PNG")));
        assert_eq!(check_metadata(&honest), Ok(()));
        let lying = file(&block(PICTURE, true, &picture(0xFFFF_FFF0, b"")));
        assert_eq!(
            check_metadata(&lying),
            Err(
                "a picture's media type claims 4294967280 bytes where its block has 33 left".into()
            )
        );
        let comments = crate::audio::vorbis_comment::tests::list(&["TITLE=yes"], Some(1 << 30));
        let lying = file(&block(COMMENTS, true, &comments));
        assert_eq!(
            check_metadata(&lying),
            Err("a comment claims 1073741824 bytes where its comment list has 9 left".into())
        );
        // A block longer than the file.
        let cut = &honest[..honest.len() - 1];
        assert!(check_metadata(cut).unwrap_err().contains("claims 45 bytes"));
        // Not FLAC, or its header cut short: nothing to refuse.
        assert_eq!(check_metadata(b"RIFF"), Ok(()));
        assert_eq!(check_metadata(&honest[..6]), Ok(()));
    }
}
