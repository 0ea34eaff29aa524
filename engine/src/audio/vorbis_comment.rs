//! The Vorbis comment list (FLAC's `VORBIS_COMMENT` block, the comment header packet of Ogg
//! Vorbis and Opus), checked before symphonia reads it.

/// Refuses a comment list with a comment that claims more bytes than `list` holds: symphonia 0.5
/// reads each comment into a zeroed buffer of the length it claims (up to 4 GiB) before it reads
/// a byte of it. `list` starts at the vendor string's length and ends where the block or packet
/// that holds it ends. A list cut short, or a vendor string longer than the list (which symphonia
/// skips without reserving anything), ends the check: symphonia stops reading there too, and
/// the answer says so (an Opus stream goes on looking for its comments after such a list).
pub fn check_comments(list: &[u8]) -> Result<Reading, String> {
    let mut at = 0;
    let Some(vendor) = read_length(list, &mut at) else {
        return Ok(Reading::CutShort);
    };
    at = at.saturating_add(vendor);
    let Some(count) = read_length(list, &mut at) else {
        return Ok(Reading::CutShort);
    };
    for _ in 0..count {
        let Some(length) = read_length(list, &mut at) else {
            return Ok(Reading::CutShort);
        };
        let left = list.len() - at;
        if length > left {
            return Err(format!(
                "a comment claims {length} bytes where its comment list has {left} left"
            ));
        }
        at += length;
    }
    Ok(Reading::Whole)
}

/// How far symphonia reads a comment list that passed the check.
#[derive(Debug, PartialEq)]
pub enum Reading {
    /// To its last comment.
    Whole,
    /// Into a field the list does not hold, where symphonia gives up on it.
    CutShort,
}

/// The little-endian length field at `at`, if the list holds all of it.
fn read_length(list: &[u8], at: &mut usize) -> Option<usize> {
    let bytes = list.get(*at..at.checked_add(4)?)?;
    *at += 4;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A comment list with the given vendor and comments, each written with its true length
    /// unless `claimed` overrides the last comment's.
    pub(crate) fn list(comments: &[&str], claimed: Option<u32>) -> Vec<u8> {
        let mut out = 4u32.to_le_bytes().to_vec();
        out.extend(b"test");
        out.extend((comments.len() as u32).to_le_bytes());
        for (i, comment) in comments.iter().enumerate() {
            let length = match claimed {
                Some(claimed) if i + 1 == comments.len() => claimed,
                _ => comment.len() as u32,
            };
            out.extend(length.to_le_bytes());
            out.extend(comment.as_bytes());
        }
        out
    }

    #[test]
    fn comments_longer_than_their_list_are_refused() {
        assert_eq!(
            check_comments(&list(&["TITLE=yes", "ARTIST=x"], None)),
            Ok(Reading::Whole)
        );
        assert_eq!(
            check_comments(&list(&["TITLE=yes", "ARTIST=x"], Some(u32::MAX))),
            Err("a comment claims 4294967295 bytes where its comment list has 8 left".into())
        );
        // A count of comments the list cannot hold stops at the first missing length, and a
        // vendor string longer than the list is skipped, not reserved: nothing to refuse.
        let mut many = 0u32.to_le_bytes().to_vec();
        many.extend(u32::MAX.to_le_bytes());
        assert_eq!(check_comments(&many), Ok(Reading::CutShort));
        let mut vendor = u32::MAX.to_le_bytes().to_vec();
        vendor.extend(list(&["TITLE=yes"], Some(u32::MAX)));
        assert_eq!(check_comments(&vendor), Ok(Reading::CutShort));
        assert_eq!(check_comments(&[1, 0]), Ok(Reading::CutShort));
    }
}
