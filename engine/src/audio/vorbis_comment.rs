//! The Vorbis comment list (FLAC's `VORBIS_COMMENT` block, the second header packet of Ogg
//! Vorbis and Opus), checked before symphonia reads it.

/// Refuses a comment list whose vendor string or comments claim more bytes than `list` holds:
/// symphonia 0.5 reads each comment into a zeroed buffer of the length it claims (up to 4 GiB)
/// before it reads a byte of it. `list` starts at the vendor string's length and ends where the
/// block or packet that holds it ends.
pub fn check_comments(list: &[u8]) -> Result<(), String> {
    let mut at = 0;
    let vendor = read_length(list, &mut at, "vendor string")?;
    skip(list, &mut at, vendor, "vendor string")?;
    let count = read_length(list, &mut at, "comment count")?;
    for _ in 0..count {
        let length = read_length(list, &mut at, "comment")?;
        skip(list, &mut at, length, "comment")?;
    }
    Ok(())
}

/// A little-endian length field. A list cut short inside one is refused too: symphonia fails on
/// it as well, so no file it would read is lost.
fn read_length(list: &[u8], at: &mut usize, field: &str) -> Result<usize, String> {
    let bytes = list
        .get(*at..*at + 4)
        .ok_or_else(|| format!("a comment list ends inside its {field}'s length"))?;
    *at += 4;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

fn skip(list: &[u8], at: &mut usize, length: usize, field: &str) -> Result<(), String> {
    let left = list.len() - *at;
    if length > left {
        return Err(format!(
            "a {field} claims {length} bytes where its comment list has {left} left"
        ));
    }
    *at += length;
    Ok(())
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
            Ok(())
        );
        assert_eq!(
            check_comments(&list(&["TITLE=yes", "ARTIST=x"], Some(u32::MAX))),
            Err("a comment claims 4294967295 bytes where its comment list has 8 left".into())
        );
        // A count of comments the list cannot hold stops at the first missing length.
        let mut many = 0u32.to_le_bytes().to_vec();
        many.extend(u32::MAX.to_le_bytes());
        assert!(
            check_comments(&many)
                .unwrap_err()
                .contains("ends inside its comment's length")
        );
        assert!(check_comments(&[1, 0]).is_err());
    }
}
