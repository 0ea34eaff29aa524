//! An Ogg file's header packets, checked before symphonia reads them.
//!
//! symphonia 0.5 reads the comment list of Ogg Vorbis and Opus, and the metadata blocks of FLAC
//! in Ogg, into buffers of the lengths their fields claim (up to 4 GiB each). Those packets are
//! put back together from the pages here and checked; audio packets are only counted.

use std::collections::HashMap;

use super::flac;
use super::vorbis_comment::check_comments;

/// The bytes every page starts with.
const CAPTURE: &[u8; 4] = b"OggS";

/// A page's header up to its segment table.
const PAGE_HEADER: usize = 27;

/// The header type flag of a page that continues the packet its stream's last page left open.
const CONTINUED: u8 = 0x01;

/// What a logical stream carries, told by its first packet.
#[derive(Clone, Copy, PartialEq)]
enum Codec {
    /// Unknown so far: the first packet is still being read.
    Unknown,
    Vorbis,
    Opus,
    Flac,
    /// Anything else, or a FLAC stream past its metadata: nothing more to check.
    Unchecked,
}

/// One logical stream's progress through its header packets.
struct Stream {
    codec: Codec,
    /// Complete packets seen.
    packets: usize,
    /// The packet being put back together, while it is one that is checked.
    partial: Vec<u8>,
}

impl Stream {
    /// Whether the packet now being read is one to check (or the first, which names the codec).
    fn wants_packet(&self) -> bool {
        match self.codec {
            Codec::Unknown => true,
            Codec::Vorbis | Codec::Opus => self.packets == 1,
            Codec::Flac => true,
            Codec::Unchecked => false,
        }
    }

    fn finish_packet(&mut self) -> Result<(), String> {
        let packet = std::mem::take(&mut self.partial);
        self.packets += 1;
        match self.codec {
            Codec::Unknown => {
                self.codec = if packet.starts_with(b"\x01vorbis") {
                    Codec::Vorbis
                } else if packet.starts_with(b"OpusHead") {
                    Codec::Opus
                } else if packet.starts_with(b"\x7fFLAC") {
                    Codec::Flac
                } else {
                    Codec::Unchecked
                };
                Ok(())
            }
            Codec::Vorbis => match packet.strip_prefix(b"\x03vorbis") {
                Some(list) => check_comments(list),
                None => Ok(()),
            },
            Codec::Opus => match packet.strip_prefix(b"OpusTags") {
                Some(list) => check_comments(list),
                None => Ok(()),
            },
            Codec::Flac => self.flac_block(&packet),
            Codec::Unchecked => Ok(()),
        }
    }

    /// A header packet of FLAC in Ogg is one metadata block; the first audio frame (its sync
    /// code starts 0xFF) or the block marked last ends the metadata.
    fn flac_block(&mut self, packet: &[u8]) -> Result<(), String> {
        let Some(header) = packet.get(..4) else {
            return Ok(());
        };
        if header[0] == 0xff {
            self.codec = Codec::Unchecked;
            return Ok(());
        }
        if header[0] & 0x80 != 0 {
            self.codec = Codec::Unchecked;
        }
        let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let body = &packet[4..];
        flac::check_block(header[0] & 0x7f, &body[..length.min(body.len())])
    }
}

/// Refuses an Ogg file whose comment list or FLAC metadata claims more bytes than its packet
/// holds. Bytes that are not Ogg pass; pages cut short end the check (symphonia stops there).
pub fn check_headers(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(CAPTURE) {
        return Ok(());
    }
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut at = 0;
    while let Some(found) = find_capture(bytes, at) {
        let Some(header) = bytes.get(found..found + PAGE_HEADER) else {
            break;
        };
        let segments = header[26] as usize;
        let Some(lacing) = bytes.get(found + PAGE_HEADER..found + PAGE_HEADER + segments) else {
            break;
        };
        let serial = u32::from_le_bytes([header[14], header[15], header[16], header[17]]);
        let stream = streams.entry(serial).or_insert(Stream {
            codec: Codec::Unknown,
            packets: 0,
            partial: Vec::new(),
        });
        if header[5] & CONTINUED == 0 {
            stream.partial.clear();
        }
        let mut body = found + PAGE_HEADER + segments;
        for &size in lacing {
            let Some(segment) = bytes.get(body..body + size as usize) else {
                return Ok(());
            };
            if stream.wants_packet() {
                stream.partial.extend_from_slice(segment);
            }
            body += size as usize;
            // A segment shorter than 255 bytes ends its packet.
            if size < 255 {
                stream.finish_packet()?;
            }
        }
        at = body;
    }
    Ok(())
}

/// Where the next page starts at or after `from` (symphonia, too, skips bytes between pages).
fn find_capture(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.windows(CAPTURE.len())
        .position(|w| w == CAPTURE)
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::vorbis_comment::tests::list;

    /// A page of one stream holding `packets`, each laced in full.
    fn page(serial: u32, continued: bool, packets: &[&[u8]]) -> Vec<u8> {
        let mut lacing = Vec::new();
        for packet in packets {
            lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
            lacing.push((packet.len() % 255) as u8);
        }
        let mut out = CAPTURE.to_vec();
        out.extend([0, u8::from(continued)]);
        out.extend([0; 8]);
        out.extend(serial.to_le_bytes());
        out.extend([0; 8]);
        out.push(lacing.len() as u8);
        out.extend(lacing);
        for packet in packets {
            out.extend(*packet);
        }
        out
    }

    fn vorbis(comment_claims: Option<u32>) -> Vec<u8> {
        let comments = [
            b"\x03vorbis".as_slice(),
            &list(&["TITLE=yes"], comment_claims),
            &[1],
        ]
        .concat();
        [
            page(7, false, &[b"\x01vorbis\0\0\0\0".as_slice()]),
            page(7, false, &[&comments, b"\x05vorbis setup".as_slice()]),
            page(7, false, &[&[0u8; 300][..]]),
        ]
        .concat()
    }

    #[test]
    fn a_comment_longer_than_its_packet_is_refused_in_vorbis_opus_and_flac() {
        assert_eq!(check_headers(&vorbis(None)), Ok(()));
        assert_eq!(
            check_headers(&vorbis(Some(u32::MAX))),
            Err("a comment claims 4294967295 bytes where its comment list has 10 left".into())
        );
        let opus = |claims| {
            let tags = [b"OpusTags".as_slice(), &list(&["TITLE=yes"], claims)].concat();
            [
                page(3, false, &[b"OpusHead\x01".as_slice()]),
                page(3, false, &[&tags]),
            ]
            .concat()
        };
        assert_eq!(check_headers(&opus(None)), Ok(()));
        assert!(check_headers(&opus(Some(1 << 31))).is_err());
        let flac = |claims| {
            let comments = list(&["TITLE=yes"], claims);
            let mut block = vec![0x84, 0, 0, comments.len() as u8];
            block.extend(comments);
            [
                page(9, false, &[b"\x7fFLAC\x01\x00\x00\x01fLaC".as_slice()]),
                page(9, false, &[&block]),
            ]
            .concat()
        };
        assert_eq!(check_headers(&flac(None)), Ok(()));
        assert!(check_headers(&flac(Some(1 << 31))).is_err());
    }

    #[test]
    fn a_comment_packet_spread_over_pages_is_put_back_together() {
        let comments = [
            b"\x03vorbis".as_slice(),
            &list(&["TITLE=yes", &"x".repeat(600)], None),
            &[1],
        ]
        .concat();
        let lying = [
            b"\x03vorbis".as_slice(),
            &list(&["TITLE=yes", &"x".repeat(600)], Some(602)),
            &[1],
        ]
        .concat();
        for (packet, refused) in [(comments, false), (lying, true)] {
            // The first 510 bytes end two full segments on one page; the rest continue it.
            let (head, tail) = packet.split_at(510);
            let mut first = page(7, false, &[head]);
            // Its lacing ends 255, 255, 0: drop the 0, so the packet stays open.
            first.remove(PAGE_HEADER + 2);
            first[26] = 2;
            let file = [
                page(7, false, &[b"\x01vorbis".as_slice()]),
                first,
                page(7, true, &[tail]),
            ]
            .concat();
            assert_eq!(check_headers(&file).is_err(), refused);
        }
    }

    #[test]
    fn other_bytes_and_short_pages_pass() {
        assert_eq!(check_headers(b"RIFF0000WAVE"), Ok(()));
        let file = vorbis(Some(u32::MAX));
        // Cut inside the comment packet's page: symphonia stops at the cut, reserving nothing.
        assert_eq!(check_headers(&file[..50]), Ok(()));
    }
}
